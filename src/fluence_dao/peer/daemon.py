"""The peer daemon: one long-lived `Peer` serving particles to local clients over TCP on 127.0.0.1.

    fluence-dao peer serve [--state-dir DIR] [--port P]     (what `devnet up` starts; `serve(config)` here)

Wire: the `/fluence/particle/2.0.0` messages of `wire.py` (varint length + `81 04` + MessagePack map) on a
plain TCP connection, one connection per client, many messages per connection. A particle that arrives is
decoded, its signature checked (a bad one is answered with a `Refused` control message and dropped; the
connection and the daemon keep serving), and handed to `peer.receive()`. The daemon learns which connection
reaches which peer id from the init_peer_id of verified particles; particles the peer sends to that id go back
over that connection. Health: a `Ping` control message answered by `Pong` {peer_id, pid, counters}: what
`devnet status` and `fluence-dao peer info` use. `Sync` {token} is answered by `Synced` {token} once the peer
has executed every particle received before it on that connection (so a client knows a function without a
result has run; deferred timers such as `Peer.timeout` may still fire later).

Threads: an accept thread, one reader thread per connection, and the loop thread that alone drives
`peer.step()` (sleeping until `next_wakeup_s()`, new input or a finished service call); service calls that may
block run on the peer's call workers (node.py). Stop: SIGTERM/SIGINT.

Limits (`limits.DaemonLimits`, settings `peer.*`): connections idle for `idle_timeout_s` are closed (one with a
particle still alive on the peer is not idle); the general pool holds `max_connections`, at most
`max_connections_per_address` from one address; `reserved_connections` more are kept for connections that prove
a management or host key (a signed Ping or a verified particle) within a few seconds. Every particle from
outside, over TCP or libp2p, passes `_admit`: TTL cap, timestamp, signature, in-flight bytes. A particle from a
connected client that is refused gets `Refused` {id, reason}; one that later fails on the peer (AquaVM error, its
memory ceiling, a result too big to send) gets `Failed` {id, reason}, so the client does not wait for its TTL.

Security (docs/security.md): the process makes itself undumpable (prctl PR_SET_DUMPABLE 0, RLIMIT_CORE 0), so
non-root processes cannot ptrace it or read its memory and no core file is written. Services (and the signer
key in the signer module's wasm memory) live only in this process: stopping it destroys them, by design. Only
the management peer ids (the CLI client's key by default) and the host may manage modules, services and scripts.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import resource
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from fluence_dao.errors import ConfigError, ParticleError, PeerError
from fluence_dao.ipfs import api_token_for, open_ipfs
from fluence_dao.peer.builtins.aqua_ipfs import AquaIpfsService
from fluence_dao.peer.builtins.operator import OperatorConfig, OperatorService, settings_operator
from fluence_dao.peer.calls import BuiltinHandler
from fluence_dao.peer.http_effector import daemon_http_effector
from fluence_dao.peer.libp2p import Libp2pEndpoint
from fluence_dao.peer.limits import (
    GENERAL,
    PROBATION,
    ConnectionPools,
    DaemonLimits,
    ReplayGuard,
    particle_admission_error,
    setting_name,
)
from fluence_dao.peer.node import Peer, PeerConfig
from fluence_dao.peer.particle import DEFAULT_TTL_MS, KeyPair, Particle, is_peer_id, now_ms
from fluence_dao.peer.paths import client_key_path, daemon_file, peer_dir
from fluence_dao.peer.wire import (
    PING_WINDOW_MS,
    ControlMessage,
    FrameReader,
    decode_message,
    decode_particle,
    encode_control,
    encode_particle,
    frame,
    ping_signer,
)
from fluence_dao.util.json_types import JsonObject
from fluence_dao.util.net import LOOPBACK, bind_loopback

if TYPE_CHECKING:
    from fluence_dao.config import Settings
    from fluence_dao.marine import HostBinary

logger = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
SOCKET_TIMEOUT_S = 5.0  # a send that cannot go on for this long closes the connection
MAX_READ_WAIT_S = 0.5  # a reader thread checks its connection's idle and probation deadlines this often
MAX_IDLE_WAIT_S = 1.0
ROUTE_PRUNE_THRESHOLD = 1024


# ---- process hardening --------------------------------------------------------------------------------------


def harden_process() -> JsonObject:
    """No core dumps (RLIMIT_CORE 0) and, on Linux, not dumpable: no ptrace attach or /proc/<pid>/mem reads by
    non-root processes. Returns what was achieved (checked by reading the values back)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    result: JsonObject = {"core_limit": resource.getrlimit(resource.RLIMIT_CORE)[1], "dumpable": None}
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise PeerError(f"prctl(PR_SET_DUMPABLE, 0) failed: {os.strerror(errno)}", errno=errno)
        result["dumpable"] = bool(libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
        if result["dumpable"]:
            raise PeerError("the process is still dumpable after prctl(PR_SET_DUMPABLE, 0): refusing to start")
    if result["core_limit"] != 0:
        raise PeerError(f"RLIMIT_CORE is {result['core_limit']} after setting it to 0: refusing to start")
    return result


def is_dumpable() -> bool | None:
    if not sys.platform.startswith("linux"):
        return None
    return bool(ctypes.CDLL(None).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))


# ---- configuration ------------------------------------------------------------------------------------------


@dataclass
class DaemonConfig:
    # what `peer serve` started with: the state dir, the `operator` builtin's chain and the HTTP effector's
    # allowlist (devnet.json, which the devnet writes after the daemon started, is read again when it changes)
    settings: Settings = field(repr=False)
    port: int = 0  # 0: a free port on 127.0.0.1
    key_file: Path | None = None  # None: <state_dir>/peer/key
    management_peer_ids: frozenset[str] | None = None  # None: the CLI client's key (<state_dir>/client/key)
    ipfs_api_url: str | None = None  # None: the embedded store in <state_dir>/ipfs
    ipfs_api_token: str | None = field(default=None, repr=False)  # None: the devnet's <state_dir>/ipfs/api-token
    ipfs_local_api_multiaddr: str = ""  # the devnet's IPFS RPC server, told to aqua-ipfs
    particle_ttl_ms: int = DEFAULT_TTL_MS
    allowed_binaries: dict[str, str] | None = None  # None: curl when installed
    extra_builtins: dict[str, BuiltinHandler] = field(default_factory=dict)
    libp2p_port: int | None = None  # None: no libp2p; 0: a free port for /ip4/127.0.0.1/tcp/PORT/ws (js-client)
    limits: DaemonLimits = field(default_factory=DaemonLimits)
    # the `operator` builtin's configuration, read on every call; None: from `settings` (settings_operator)
    operator: Callable[[], OperatorConfig] | None = field(default=None, repr=False)

    @property
    def state_dir(self) -> Path:
        return self.settings.state_dir

    def __post_init__(self) -> None:
        for peer_id in sorted(self.management_peer_ids or ()):
            if not is_peer_id(peer_id):
                raise ConfigError(
                    f"management peer id {peer_id!r} is not an ed25519 libp2p peer id (12D3KooW...)", peer_id=peer_id
                )
        if self.particle_ttl_ms > self.limits.max_particle_ttl_ms:
            raise ConfigError(
                f"{setting_name('particle_ttl_ms')} = {self.particle_ttl_ms} exceeds "
                f"{setting_name('max_particle_ttl_ms')} = {self.limits.max_particle_ttl_ms}: the peer's own scripts "
                "would be refused; lower the first or raise the second",
                particle_ttl_ms=self.particle_ttl_ms,
                max_particle_ttl_ms=self.limits.max_particle_ttl_ms,
            )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        port: int | None = None,
        management_peer_ids: frozenset[str] | None = None,
        ipfs_local_api_multiaddr: str | None = None,
        libp2p_port: int | None = None,
    ) -> DaemonConfig:
        """What `peer serve` runs with: `settings`, and the command's options where given (None: the setting)."""
        return cls(
            settings=settings,
            port=settings.peer.port if port is None else port,
            key_file=settings.peer.key_file,
            management_peer_ids=(
                frozenset(settings.peer.management_peer_ids) or None
                if management_peer_ids is None
                else management_peer_ids
            ),
            ipfs_api_url=settings.ipfs.api_url,
            ipfs_api_token=settings.ipfs.api_token.get_secret_value() if settings.ipfs.api_token else None,
            ipfs_local_api_multiaddr=ipfs_local_api_multiaddr or "",
            particle_ttl_ms=settings.peer.particle_ttl_ms,
            libp2p_port=settings.peer.libp2p_port if libp2p_port is None else libp2p_port,
            limits=DaemonLimits.from_settings(settings.peer),
        )


# ---- the daemon ---------------------------------------------------------------------------------------------


class _Connection:
    def __init__(self, sock: socket.socket, address: tuple[str, int], number: int) -> None:
        self.sock = sock
        self.address = address
        self.number = number
        self.peer_ids: set[str] = set()
        self._write_lock = threading.Lock()
        self.closed = False
        self.pool = GENERAL  # limits.GENERAL, PROBATION (must prove a management key) or RESERVED
        self.why_reserved = ""  # why a probation connection is not in the general pool
        self.opened_at = time.monotonic()
        self.last_received = self.opened_at

    def send(self, message: bytes) -> bool:
        with self._write_lock:
            if self.closed:
                return False
            try:
                self.sock.sendall(frame(message))
            except OSError as err:
                logger.warning("connection %d: send failed (%s): closing it", self.number, err)
                self.close()
                return False
        return True

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()

    def __repr__(self) -> str:
        return f"connection {self.number} from {self.address[0]}:{self.address[1]}"


class PeerDaemon:
    """A Peer behind a TCP listener on 127.0.0.1. `start()` returns once it listens; `stop()` ends it."""

    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        state_dir = config.state_dir
        self.key_pair = KeyPair.load_or_create(config.key_file or peer_dir(state_dir) / "key")
        if config.management_peer_ids is None:
            management = frozenset({KeyPair.load_or_create(client_key_path(state_dir)).peer_id})
        else:
            management = config.management_peer_ids
        self.management_peer_ids = management
        binaries: dict[str, str | HostBinary] = dict(config.allowed_binaries or {})
        # `curl` is the HTTP effector: requests only to the operator's endpoints, no raw curl
        if config.allowed_binaries is None:
            binaries = {
                "curl": daemon_http_effector(
                    config.settings,
                    ipfs_api_url=config.ipfs_api_url,
                    ipfs_local_api_multiaddr=config.ipfs_local_api_multiaddr,
                    ipfs_api_token=config.ipfs_api_token,
                )
            }
        self._listener = _listen(config.port)
        self.port = int(self._listener.getsockname()[1])
        self.address = f"{LOOPBACK}:{self.port}"
        self.multiaddr = f"/ip4/{LOOPBACK}/tcp/{self.port}"
        builtins = {"aqua-ipfs": self._ipfs_builtin(), "operator": self._operator_builtin(), **config.extra_builtins}
        peer_config = PeerConfig(
            state_dir=peer_dir(state_dir),
            management_peer_ids=management,
            restricted_builtins=True,
            allowed_binaries=binaries,
            script_ttl_ms=config.particle_ttl_ms,
            external_addresses=[self.multiaddr],
            extra_builtins=builtins,
            call_timeout_s=config.limits.call_timeout_s,
            service_call_timeout_s=config.limits.call_timeout_s,  # a call given up on stops burning CPU too
            call_queue_limit=config.limits.call_queue_limit,
            avm_memory_bytes=config.limits.avm_memory_bytes,
            avm_reset_memory_bytes=config.limits.avm_reset_memory_bytes,
        )
        self.peer = Peer(peer_config, key_pair=self.key_pair, transport=self)
        self.peer_id = self.peer.peer_id
        self.limits = config.limits
        self._pools = ConnectionPools(config.limits)
        self._replays = ReplayGuard()
        self.peer.failure_listener = self._on_particle_failed
        self.started_at = time.time()
        self.particles_received = 0
        self.particles_refused = 0
        self.particles_sent = 0
        self._routes: dict[str, _Connection] = {}  # peer id -> the first live connection it came from
        self._particle_routes: dict[str, tuple[_Connection, int]] = {}  # particle id -> (connection, deadline ms)
        self._route_prune_at = ROUTE_PRUNE_THRESHOLD  # sweep expired routes when the table grows past this
        self._syncs: list[tuple[_Connection, object]] = []  # Sync requests (token) the loop answers after a step
        self._connections: set[_Connection] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.peer.add_wake_listener(self._wake.set)  # a service call finished on a worker
        self._threads: list[threading.Thread] = []
        self._numbers = 0
        self.libp2p: Libp2pEndpoint | None = None  # when config.libp2p_port is set

    def _operator_builtin(self) -> OperatorService:
        """The `operator` builtin: the chain this peer's scripts talk to (DaemonConfig.operator, or its settings),
        current on every call (the devnet writes devnet.json after the peer has started)."""
        return OperatorService(self.config.operator or settings_operator(self.config.settings))

    def _ipfs_builtin(self) -> AquaIpfsService:
        api_url = self.config.ipfs_api_url
        token = api_token_for(self.config.state_dir, self.config.ipfs_api_token, api_url=api_url) if api_url else None
        ipfs = open_ipfs(api_url=api_url, repo=self.config.state_dir / "ipfs", api_token=token)
        local = self.config.ipfs_local_api_multiaddr
        if not local and self.config.ipfs_api_url:
            local = _url_to_multiaddr(self.config.ipfs_api_url)
        return AquaIpfsService(ipfs, local_api_multiaddr=local)

    # ---- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> PeerDaemon:
        if self.config.libp2p_port is not None:  # first: once the loopback endpoint answers, Pong has the multiaddr
            try:
                self.libp2p = Libp2pEndpoint(
                    self.key_pair, self._on_libp2p_message, listen_port=self.config.libp2p_port
                ).start()
            except PeerError:
                self._listener.close()
                raise
            self.peer.external_addresses.append(f"/ip4/{LOOPBACK}/tcp/{self.libp2p.port}/ws")  # Peer.identify
            logger.info("peer %s: libp2p on %s", self.peer_id, self.libp2p.multiaddr)
        for target, name in ((self._accept_loop, "accept"), (self._run_loop, "loop")):
            thread = threading.Thread(target=target, name=f"peer-daemon-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._write_daemon_file()
        logger.info(
            "peer %s listening on %s (management: %s)", self.peer_id, self.address, sorted(self.management_peer_ids)
        )
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept thread
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            conn.close()
        if self.libp2p is not None:
            self.libp2p.stop(timeout_s)
        for thread in self._threads:
            thread.join(timeout_s)
        self.peer.close()
        with contextlib.suppress(FileNotFoundError):
            daemon_file(self.config.state_dir).unlink()
        logger.info("peer %s stopped: its services are gone", self.peer_id)

    def wait(self) -> None:
        """Block until `stop()` (from a signal handler or another thread)."""
        while not self._stop.wait(0.5):
            pass

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def info(self) -> JsonObject:
        """Facts for `Pong`, `peer info` and `devnet status` (no secrets)."""
        with self._lock:
            connections = len(self._connections)
            reserved = len(self._connections) - self._pools.count(GENERAL)
        return {
            "peer_id": self.peer_id,
            "address": self.address,
            "multiaddr": self.multiaddr,
            "libp2p_multiaddr": self.libp2p.multiaddr if self.libp2p is not None else None,
            "pid": os.getpid(),
            "management_peer_ids": sorted(self.management_peer_ids),
            "connections": connections,
            "reserved_connections": reserved,
            "held_bytes": self.peer.held_bytes,
            "particles_received": self.particles_received,
            "particles_refused": self.particles_refused,
            "particles_sent": self.particles_sent,
            "particles_processed": self.peer.particles_processed,
            "services": len(self.peer.services.services),
            "scripts": len(self.peer.scheduler.scripts()),
            "dumpable": is_dumpable(),
            "uptime_s": round(time.time() - self.started_at, 3),
        }

    def _write_daemon_file(self) -> None:
        path = daemon_file(self.config.state_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        record = {"address": self.address, "peer_id": self.peer_id, "pid": os.getpid(), "multiaddr": self.multiaddr}
        if self.libp2p is not None:
            record["libp2p_multiaddr"] = self.libp2p.multiaddr
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)

    # ---- Transport (called from the loop thread) --------------------------------------------------------------

    def send(self, sender_peer_id: str, target_peer_id: str, particle: Particle) -> bool:
        with self._lock:
            conn = None
            entry = self._particle_routes.get(particle.id)
            if entry is not None and not entry[0].closed and target_peer_id in entry[0].peer_ids:
                conn = entry[0]  # the connection this particle came from (one key may have several connections)
            if conn is None:
                conn = self._routes.get(target_peer_id)
        if conn is None:
            return self._send_libp2p(target_peer_id, particle)
        try:
            message = encode_particle(particle)
        except ParticleError as err:
            logger.warning("particle %s for %s not sent: %s", particle.id, target_peer_id, err.message)
            conn.send(encode_control("Failed", id=particle.id, reason=f"not sent to {target_peer_id}: {err.message}"))
            return False
        if conn.send(message):
            self.particles_sent += 1
            return True
        return False

    def contact(self, peer_id: str) -> list[str] | None:
        with self._lock:
            if peer_id in self._routes:
                return []  # connected clients have no listen address
        return [] if self.libp2p is not None and self.libp2p.is_connected(peer_id) else None

    # ---- libp2p (js-client and other Fluence clients; fluence_dao.peer.libp2p) --------------------------------

    def _send_libp2p(self, target_peer_id: str, particle: Particle) -> bool:
        if self.libp2p is None or not self.libp2p.is_connected(target_peer_id):
            return False
        try:
            message = encode_particle(particle)
        except ParticleError as err:
            logger.warning("particle %s for %s not sent: %s", particle.id, target_peer_id, err.message)
            return False
        if self.libp2p.send(target_peer_id, message):
            self.particles_sent += 1
            return True
        return False

    def _on_libp2p_message(self, remote_peer_id: str, message: bytes) -> None:
        """Called from the libp2p thread: nox's rules (bad, expired or unsigned particles are dropped silently)."""
        try:
            particle = decode_particle(message)
        except ParticleError as err:
            self.particles_refused += 1
            logger.warning("libp2p: particle from %s dropped: %s", remote_peer_id, err.message)
            return
        reason = self._admit(particle)
        if reason is not None:
            self.particles_refused += 1
            logger.warning("libp2p: particle from %s dropped: %s", remote_peer_id, reason)
            return
        self.particles_received += 1
        self.peer.receive(particle)
        self._wake.set()

    def peer_ids(self) -> list[str]:
        return [self.peer_id]

    # ---- threads ----------------------------------------------------------------------------------------------

    def _run_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._lock:
                syncs, self._syncs = self._syncs, []
            try:
                self.peer.step()
            except Exception:  # one bad particle must not end the daemon
                logger.exception("peer loop: step failed")
            busy = self.peer.particles_with_calls_in_flight() | self.peer.queued_particle_ids()
            waiting = []
            for conn, token in syncs:  # every particle received before these Syncs has been executed...
                if busy and self._waits_for_calls(conn, busy):
                    waiting.append((conn, token))  # ...except those still queued or waiting for a worker
                else:
                    conn.send(encode_control("Synced", token=token))
            if waiting:
                with self._lock:
                    self._syncs = waiting + self._syncs
            wake = self.peer.next_wakeup_s()
            timeout = MAX_IDLE_WAIT_S if wake is None else min(MAX_IDLE_WAIT_S, max(0.0, wake - time.monotonic()))
            self._wake.wait(timeout)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                logger.exception("accept failed")
                time.sleep(0.1)
                continue
            with self._lock:
                self._numbers += 1
                conn = _Connection(sock, address, self._numbers)
                placement = self._pools.place(address)
                if placement.pool is not None:
                    conn.pool, conn.why_reserved = placement.pool, placement.reason
                    self._connections.add(conn)
                    self._pools.add(conn)
                if placement.evict is not None:
                    self._pools.remove(placement.evict)  # its slot is this connection's now
            sock.settimeout(SOCKET_TIMEOUT_S)
            # messages go out whole (one sendall each): without this, a message written right after another
            # waits for the client's delayed ACK (Nagle), 40 ms on Linux
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if placement.evict is not None:
                assert isinstance(placement.evict, _Connection)
                self._hang_up(placement.evict, placement.evict.why_reserved + self._PROOF_HINT)
            if placement.pool is None:
                logger.warning("refusing %s: %s", conn, placement.reason)
                conn.send(encode_control("Refused", id=None, reason=placement.reason))
                conn.close()
                continue
            if placement.pool == PROBATION:
                logger.info("%s on probation (%s)", conn, placement.reason)
            thread = threading.Thread(
                target=self._serve, args=(conn,), name=f"peer-daemon-conn-{conn.number}", daemon=True
            )
            thread.start()

    _PROOF_HINT = "; the reserved connections are for management keys: send a signed Ping or a particle signed by one"

    def _serve(self, conn: _Connection) -> None:
        logger.debug("%s opened", conn)
        reader = FrameReader()
        poller = select.poll()
        poller.register(conn.sock, select.POLLIN)
        try:
            while not self._stop.is_set() and not conn.closed:
                try:
                    ready = poller.poll(MAX_READ_WAIT_S * 1000)
                except OSError:
                    break
                if self._deadline_passed(conn):
                    break
                if not ready:
                    continue
                try:
                    data = conn.sock.recv(65536)
                except (TimeoutError, BlockingIOError):
                    continue
                except OSError:
                    break
                if not data:
                    break
                try:
                    messages = reader.feed(data)
                except ParticleError as err:  # the stream cannot be resynchronised: answer and hang up
                    logger.warning("%s: %s: closing it", conn, err.message)
                    conn.send(encode_control("Refused", id=None, reason=err.message))
                    break
                if messages:
                    conn.last_received = time.monotonic()  # bytes that never complete a message keep nothing alive
                for message in messages:
                    if conn.closed:
                        break
                    self._on_message(conn, message)
        finally:
            conn.close()
            with self._lock:
                self._connections.discard(conn)
                self._pools.remove(conn)
                for peer_id in conn.peer_ids:
                    if self._routes.get(peer_id) is conn:
                        del self._routes[peer_id]
                for particle_id in [k for k, (c, _) in self._particle_routes.items() if c is conn]:
                    del self._particle_routes[particle_id]
            logger.debug("%s closed", conn)

    def _on_message(self, conn: _Connection, message: bytes) -> None:
        try:
            decoded = decode_message(message)
        except ParticleError as err:
            if conn.pool == PROBATION:
                self._hang_up(conn, f"{err.message}; {conn.why_reserved}{self._PROOF_HINT}")
            else:
                self._refuse(conn, None, err.message)
            return
        if isinstance(decoded, dict):
            if decoded.get("action") == "Ping":
                self._on_ping(conn, decoded)
            elif conn.pool == PROBATION:
                self._hang_up(conn, conn.why_reserved + self._PROOF_HINT)
            elif decoded.get("action") == "Sync":
                with self._lock:
                    self._syncs.append((conn, decoded.get("token")))
                self._wake.set()
            else:
                self._refuse(conn, None, f"unexpected control message {decoded.get('action')!r}")
            return
        particle = decoded
        reason = self._admit(particle)
        if reason is not None:
            self._refuse(conn, particle.id, reason)
            if conn.pool == PROBATION:
                self._hang_up(conn, conn.why_reserved + self._PROOF_HINT)
            return
        if conn.pool == PROBATION:
            if not self.peer.policy.is_privileged(particle.init_peer_id):
                self._hang_up(conn, conn.why_reserved + self._PROOF_HINT)
                return
            self._promote(conn, particle.init_peer_id)
        self._learn_route(conn, particle)
        self.particles_received += 1
        self.peer.receive(particle)
        self._wake.set()

    def _learn_route(self, conn: _Connection, particle: Particle) -> None:
        """Replies go back over the connection a particle came from. First come, first served while it is open:
        a replayed particle on another connection does not redirect the replies of the original one."""
        with self._lock:
            conn.peer_ids.add(particle.init_peer_id)
            current = self._routes.get(particle.init_peer_id)
            if current is None or current.closed:
                self._routes[particle.init_peer_id] = conn
            entry = self._particle_routes.get(particle.id)
            if entry is None or entry[0].closed:
                self._particle_routes[particle.id] = (conn, particle.deadline_ms)
            if len(self._particle_routes) > self._route_prune_at:
                now = now_ms()
                for particle_id in [
                    k for k, (c, deadline) in self._particle_routes.items() if deadline <= now or c.closed
                ]:
                    del self._particle_routes[particle_id]
                # next sweep once the table doubled: a sweep per particle would cost O(live routes) each time
                # (250 calls/s with 2-minute TTLs keep 30,000 routes alive)
                self._route_prune_at = max(ROUTE_PRUNE_THRESHOLD, 2 * len(self._particle_routes))

    def _refuse(self, conn: _Connection, particle_id: str | None, reason: str) -> None:
        self.particles_refused += 1
        logger.warning("%s: refused particle %s: %s", conn, particle_id, reason)
        conn.send(encode_control("Refused", id=particle_id, reason=reason))

    # ---- limits -----------------------------------------------------------------------------------------------

    def _admit(self, particle: Particle) -> str | None:
        """None when a particle from outside (TCP or libp2p) may run here, else why not."""
        privileged = self.peer.policy.is_privileged(particle.init_peer_id)
        return particle_admission_error(particle, self.limits, self.peer.held_bytes, privileged=privileged)

    def _on_ping(self, conn: _Connection, body: ControlMessage) -> None:
        """Answer a Ping; a signed one from a management or host key keeps a probation connection's slot."""
        reason = None
        try:
            signer = ping_signer(body)
        except ParticleError as err:
            signer, reason = None, err.message
        signature = body.get("signature")  # bytes when ping_signer found a signer
        expires_ms = now_ms() + 2 * PING_WINDOW_MS
        if signer is not None and isinstance(signature, bytes) and not self._replays.first_use(signature, expires_ms):
            reason = f"signed Ping from {signer} replayed (each signed Ping is accepted once)"
        if reason is not None:
            if conn.pool == PROBATION:
                self._hang_up(conn, reason)
            else:
                self._refuse(conn, None, reason)
            return
        if conn.pool == PROBATION:
            if signer is None or not self.peer.policy.is_privileged(signer):
                self._hang_up(conn, conn.why_reserved + self._PROOF_HINT)
                return
            self._promote(conn, signer)
        conn.send(encode_control("Pong", **self.info(), pool=conn.pool))

    def _promote(self, conn: _Connection, peer_id: str) -> None:
        with self._lock:
            promoted = self._pools.promote(conn)
        if promoted:
            logger.info("%s proved management key %s: it keeps a reserved slot", conn, peer_id)

    def _hang_up(self, conn: _Connection, reason: str) -> None:
        """Refuse the connection itself (a Refused with id None) and close it."""
        logger.warning("%s: closing it: %s", conn, reason)
        conn.send(encode_control("Refused", id=None, reason=reason))
        conn.close()

    def _deadline_passed(self, conn: _Connection) -> bool:
        """Close a probation connection that did not prove a management key in time, and an idle one. A
        connection whose particle is still alive on the peer is not idle (its client waits for the answer)."""
        now = time.monotonic()
        if conn.pool == PROBATION and now - conn.opened_at > self.limits.proof_timeout_s:
            self._hang_up(conn, conn.why_reserved + self._PROOF_HINT)
            return True
        if now - conn.last_received <= self.limits.idle_timeout_s:
            return False
        with self._lock:
            alive = now_ms()
            waiting = any(c is conn and deadline > alive for c, deadline in self._particle_routes.values())
        if waiting:
            return False
        logger.info(
            "%s idle for %.0f s (%s): closing it", conn, now - conn.last_received, setting_name("idle_timeout_s")
        )
        conn.close()
        return True

    def _waits_for_calls(self, conn: _Connection, busy: set[str]) -> bool:
        """Whether a particle that came over `conn` is still queued or waits for a service call on a worker."""
        with self._lock:
            return any(self._particle_routes.get(pid, (None, 0))[0] is conn for pid in busy)

    def _on_particle_failed(self, particle: Particle, reason: str) -> None:
        """The peer gave up on a particle (loop thread): tell the client it came from at once."""
        with self._lock:
            entry = self._particle_routes.get(particle.id)
        if entry is not None and not entry[0].closed:
            entry[0].send(encode_control("Failed", id=particle.id, reason=reason))


def _listen(port: int) -> socket.socket:
    try:
        sock = bind_loopback(port)
    except OSError as err:
        raise PeerError(
            f"the peer daemon cannot listen on {LOOPBACK}:{port}: {err.strerror or err}", port=port
        ) from err
    sock.listen(128)  # a burst of connections waits for the accept thread instead of retrying SYNs
    sock.settimeout(MAX_IDLE_WAIT_S)  # the accept thread checks for stop at least this often
    return sock


def _url_to_multiaddr(url: str) -> str:
    parsed = urlparse(url)
    if not parsed.hostname or not parsed.port:
        return ""
    return f"/ip4/{parsed.hostname}/tcp/{parsed.port}"


# ---- entry point --------------------------------------------------------------------------------------------


def serve(config: DaemonConfig) -> int:
    """Run a daemon in this process until SIGTERM/SIGINT (the process entry point; installs signal handlers)."""
    os.umask(0o077)  # whatever it writes (daemon.json, keys, the vault) is for this user only
    hardening = harden_process()
    logger.info("process hardening: %s", hardening)
    daemon = PeerDaemon(config).start()
    requested = threading.Event()

    def _request_stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %s: stopping", signal.Signals(signum).name)
        requested.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    try:
        while not requested.wait(0.5) and not daemon.stopped:
            pass
    finally:
        daemon.stop()
    return 0
