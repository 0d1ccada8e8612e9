"""The daemon's particle routes (which connection a particle's replies go back over) are swept of expired ones
when the table doubles, not on every particle: thousands of live routes (250 calls/s with 2-minute TTLs keep
30,000) must not make each new particle scan them all."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fluence_dao.config import load_settings
from fluence_dao.peer import KeyPair, Particle
from fluence_dao.peer import daemon as daemon_module
from fluence_dao.peer.daemon import DaemonConfig, PeerDaemon, _Connection

pytestmark = pytest.mark.integration


def test_routes_are_swept_when_the_table_doubles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    daemon = PeerDaemon(
        DaemonConfig(settings=load_settings({"state_dir": tmp_path}, env_file=None), allowed_binaries={})
    )
    ours, theirs = socket.socketpair()
    conn = _Connection(ours, ("127.0.0.1", 1), 1)
    sweeps = []
    real_now = daemon_module.now_ms

    def now() -> int:
        sweeps.append(len(daemon._particle_routes))
        return real_now()

    monkeypatch.setattr(daemon_module, "now_ms", now)
    key = KeyPair.generate()
    try:
        live = [Particle.create("(null)", key, ttl_ms=60_000) for _ in range(3 * daemon_module.ROUTE_PRUNE_THRESHOLD)]
        for particle in live:
            daemon._learn_route(conn, particle)
        assert len(daemon._particle_routes) == len(live)  # nothing expired: every route kept
        assert len(sweeps) <= 2  # at 1025 and 2051 routes, not once per particle past the threshold

        expired = [Particle.create("(null)", key, ttl_ms=0) for _ in range(3 * daemon_module.ROUTE_PRUNE_THRESHOLD)]
        for particle in expired:
            daemon._learn_route(conn, particle)
        assert len(daemon._particle_routes) < len(live) + len(expired)  # expired routes were swept
        assert all(route[1] > real_now() for route in list(daemon._particle_routes.values())[: len(live)])
    finally:
        ours.close()
        theirs.close()
        daemon.stop()
