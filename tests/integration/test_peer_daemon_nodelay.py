"""Both ends of a daemon connection send each message at once (TCP_NODELAY): with Nagle's algorithm a message
written right after another (a particle, then the Sync of a function without a result) waited for the other
side's delayed ACK, 40 ms on Linux, on every such call."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fluence_dao.config import load_settings
from fluence_dao.peer import KeyPair, RemoteNetwork
from fluence_dao.peer.daemon import DaemonConfig, PeerDaemon

pytestmark = pytest.mark.integration


def test_client_and_daemon_sockets_do_not_delay_small_writes(tmp_path: Path) -> None:
    daemon = PeerDaemon(
        DaemonConfig(settings=load_settings({"state_dir": tmp_path}, env_file=None), allowed_binaries={})
    ).start()
    try:
        with RemoteNetwork(daemon.address, KeyPair.generate()) as network:
            client_side = network._link.sock
            assert client_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            network.sync(5.0)  # a round trip: the daemon has accepted the connection
            with daemon._lock:
                accepted = [conn.sock for conn in daemon._connections]
            assert accepted
            assert all(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0 for sock in accepted)
    finally:
        daemon.stop()
