"""The peer daemon under load from a local attacker (findings 3, 4, 5): a real PeerDaemon in this process on
127.0.0.1 with its own state dir, clients through RemoteNetwork or raw sockets, an attacker with a fresh key.

3. a slow service call does not stall other particles; a service's queue is bounded;
4. idle connections do not lock the operator out (reserved capacity for the management key, idle timeout,
   per-address limit);
5. memory: TTL cap, AquaVM's memory ceiling (the particle fails with an error reply and the memory comes back),
   the in-flight data bound.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fluence_dao.config import load_settings
from fluence_dao.errors import ConfigError, ParticleError
from fluence_dao.peer import KeyPair, Particle, ParticleHooks
from fluence_dao.peer.daemon import DaemonConfig, PeerDaemon
from fluence_dao.peer.limits import DaemonLimits
from fluence_dao.peer.particle import now_ms
from fluence_dao.peer.remote import RemoteNetwork, ping
from fluence_dao.peer.wire import FrameReader, decode_message, encode_control, encode_particle, frame

pytestmark = pytest.mark.integration

WAT = Path(__file__).resolve().parents[1] / "fixtures" / "wat"
MiB = 2**20


# ---- a daemon and its clients -------------------------------------------------------------------------------


@pytest.fixture
def attacker_key() -> KeyPair:
    """A fresh client key: not the host, not a management peer."""
    return KeyPair.generate()


@pytest.fixture
def manager() -> KeyPair:
    """The management key of the daemons started here (the operator's CLI key)."""
    return KeyPair.generate()


@pytest.fixture
def interval_key() -> KeyPair:
    """A second management key: plays the interval, whose calls may be slow."""
    return KeyPair.generate()


@pytest.fixture
def start_daemon(tmp_path: Path, manager: KeyPair, interval_key: KeyPair) -> Iterator[Callable[..., PeerDaemon]]:
    """`start_daemon(**limits)`: a PeerDaemon on a free port with these DaemonLimits; `sleep` is mountable as
    `echo` and `echo_text` (a service call that blocks without using the CPU). Stopped at the end of the test."""
    started: list[PeerDaemon] = []
    sleep = shutil.which("sleep")
    assert sleep is not None

    def start(**limits: Any) -> PeerDaemon:
        config = DaemonConfig(
            settings=load_settings({"state_dir": tmp_path / f"daemon-{len(started)}"}, env_file=None),
            management_peer_ids=frozenset({manager.peer_id, interval_key.peer_id}),
            allowed_binaries={"echo": sleep, "echo_text": sleep},
            limits=DaemonLimits(**limits),
        )
        daemon = PeerDaemon(config).start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


def seq(*instructions: str) -> str:
    out = instructions[-1]
    for instruction in reversed(instructions[:-1]):
        out = f"(seq {instruction} {out})"
    return out


def reply(*instructions: str, result: str) -> str:
    """Run `instructions`, then hand `result` to the client's ("res" "ok"); an error goes to ("res" "err")."""
    body = seq(*instructions, f'(call %init_peer_id% ("res" "ok") [{result}])')
    return f'(xor {body} (call %init_peer_id% ("res" "err") [:error:.$.message]))'


def start_air(net: RemoteNetwork, air: str, data: dict[str, Any] | None = None, ttl_ms: int = 60_000) -> dict[str, Any]:
    """Initiate `air` from the network's client; the returned box receives "ok" or "err" (with the time)."""
    box: dict[str, Any] = {"started": time.monotonic()}

    def getter(value: Any) -> Callable[[list[Any], Any], Any]:
        return lambda args, ctx: value

    def keep(name: str) -> Callable[[list[Any], Any], None]:
        def handler(args: list[Any], ctx: Any) -> None:
            box[name] = args[0] if args else None
            box["at"] = time.monotonic()

        return handler

    handlers = {("getDataSrv", name): getter(value) for name, value in (data or {}).items()}
    handlers[("res", "ok")] = keep("ok")
    handlers[("res", "err")] = keep("err")
    hooks = ParticleHooks(handlers=handlers, on_error=lambda message: keep("avm_error")([message], None))
    box["particle"] = net.client().initiate(air, ttl_ms=ttl_ms, hooks=hooks)
    return box


def answered(box: dict[str, Any]) -> bool:
    return any(name in box for name in ("ok", "err", "avm_error"))


def run_air(
    net: RemoteNetwork, air: str, data: dict[str, Any] | None = None, timeout_s: float = 30.0, ttl_ms: int = 60_000
) -> Any:
    """`air`'s result; AssertionError for an error or no answer."""
    box = start_air(net, air, data, ttl_ms)
    assert net.run_until(lambda: answered(box), timeout_s), f"no answer within {timeout_s} s"
    assert "ok" in box, box.get("err") or box.get("avm_error")
    return box["ok"]


def deploy_sleeper(net: RemoteNetwork, daemon: PeerDaemon, alias: str) -> str:
    """A service from tests/fixtures/wat/mounted.wat whose `run_echo(args)` runs `sleep args`, deployed through
    dist.add_module and srv.create (which run on the builtins' workers). It holds an effector (the mounted binary),
    so only its creator, the host and management peers may call it."""
    sleep = shutil.which("sleep")
    config = {"name": "mounted", "mounted_binaries": [["echo", sleep], ["echo_text", sleep]]}
    return deploy_wat(net, daemon, alias, "mounted.wat", config)


def deploy_spinner(net: RemoteNetwork, daemon: PeerDaemon, alias: str) -> str:
    """A service from tests/fixtures/wat/abi.wat: `spin()` loops until the call's deadline stops it (a slow call
    anyone may make: no effector), `echo_string(v)` answers at once."""
    return deploy_wat(net, daemon, alias, "abi.wat", {"name": "abi"})


def deploy_wat(net: RemoteNetwork, daemon: PeerDaemon, alias: str, wat: str, config: dict[str, Any]) -> str:
    import wasmtime

    wasm = bytes(wasmtime.wat2wasm((WAT / wat).read_text()))
    relay = daemon.peer_id
    air = reply(
        '(call %init_peer_id% ("getDataSrv" "wasm") [] wasm)',
        '(call %init_peer_id% ("getDataSrv" "config") [] cfg)',
        f'(call "{relay}" ("dist" "add_module") [wasm cfg] hash)',
        f'(call "{relay}" ("op" "array") [hash] deps)',
        f'(call "{relay}" ("dist" "make_blueprint") ["mounted" deps] bp)',
        f'(call "{relay}" ("dist" "add_blueprint") [bp] bid)',
        f'(call "{relay}" ("srv" "create") [bid] sid)',
        f'(call "{relay}" ("srv" "add_alias") ["{alias}" sid])',
        result="sid",
    )
    return str(run_air(net, air, {"wasm": base64.b64encode(wasm).decode(), "config": config}))


def call_air(daemon: PeerDaemon, service: str, function: str, *args: Any) -> tuple[str, dict[str, Any]]:
    """(AIR, data) of `service.function(*args)` on the daemon, the arguments from the client's getDataSrv."""
    names = [f"a{index}" for index in range(len(args))]
    air = reply(
        *[f'(call %init_peer_id% ("getDataSrv" "{name}") [] {name})' for name in names],
        f'(call "{daemon.peer_id}" ("{service}" "{function}") [{" ".join(names)}] r)',
        result="r",
    )
    return air, dict(zip(names, args, strict=True))


def identify_air(daemon: PeerDaemon) -> str:
    return reply(f'(call "{daemon.peer_id}" ("peer" "identify") [] r)', result="r")


def timed_identify(daemon: PeerDaemon, key: KeyPair) -> float:
    """Seconds a fresh client with `key` needs for one `peer.identify` round trip."""
    started = time.monotonic()
    with RemoteNetwork(daemon.address, key) as net:
        assert run_air(net, identify_air(daemon))["external_addresses"] == [daemon.multiaddr]
    return time.monotonic() - started


class Raw:
    """A bare TCP connection to the daemon speaking the wire format (what an attacker's script does)."""

    def __init__(self, daemon: PeerDaemon) -> None:
        self.sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
        self.reader = FrameReader()
        self.pending: list[bytes] = []

    def send(self, message: bytes) -> None:
        self.sock.sendall(frame(message))

    def receive(self, timeout_s: float = 10.0) -> Any:
        """The next message; None when the daemon closed the connection."""
        self.sock.settimeout(timeout_s)
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.pending.extend(self.reader.feed(data))
        return decode_message(self.pending.pop(0))

    def closed_within(self, timeout_s: float) -> bool:
        """True when the daemon closes this connection within `timeout_s` (messages before that are skipped)."""
        deadline = time.monotonic() + timeout_s
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                if self.receive(remaining) is None:
                    return True
        except TimeoutError:
            return False
        except OSError:
            return True
        return False

    def close(self) -> None:
        self.sock.close()


@contextlib.contextmanager
def raw_connections(daemon: PeerDaemon, count: int) -> Iterator[list[Raw]]:
    """`count` bare connections to the daemon, closed at the end."""
    opened = [Raw(daemon) for _ in range(count)]
    try:
        yield opened
    finally:
        for conn in opened:
            conn.close()


def signed(script: str, key: KeyPair, *, ttl_ms: int = 60_000, timestamp_ms: int | None = None) -> Particle:
    particle = Particle.create(script, key, ttl_ms=ttl_ms)
    if timestamp_ms is not None:
        particle = replace(particle, timestamp_ms=timestamp_ms)
        particle = replace(particle, signature=key.sign(particle.signed_bytes()))
    return particle


# ---- finding 3: one slow call stalls the daemon ---------------------------------------------------------------


def test_a_slow_service_call_does_not_delay_particles_for_other_services(
    start_daemon: Callable[..., PeerDaemon], manager: KeyPair, interval_key: KeyPair, attacker_key: KeyPair
) -> None:
    """Was: service calls ran on the daemon's one loop thread, so a call waiting 25 s delayed everything by 25 s.
    Now the slow call waits on its service's worker; the particle gets an error at the call deadline."""
    daemon = start_daemon(call_timeout_s=3.0)
    with RemoteNetwork(daemon.address, manager) as operator:
        deploy_sleeper(operator, daemon, "slow")
        deploy_sleeper(operator, daemon, "fast")
        with RemoteNetwork(daemon.address, interval_key) as interval:
            slow = start_air(interval, *call_air(daemon, "slow", "run_echo", ["8"]))
            interval.run_until(lambda: bool(daemon.peer.particles_with_calls_in_flight()), 5.0)
            assert daemon.peer.particles_with_calls_in_flight(), "the slow call did not start"
            # while `sleep 8` runs in the slow service: another instance, builtins, another client
            started = time.monotonic()
            fast = run_air(operator, *call_air(daemon, "fast", "run_echo", ["0"]))
            assert fast["ret_code"] == 0
            assert time.monotonic() - started < 2.0
            assert timed_identify(daemon, attacker_key) < 2.0
            assert "ok" not in slow and "err" not in slow  # still waiting: the fast ones did not queue behind it
            assert interval.run_until(lambda: answered(slow), 10.0)
    waited = slow["at"] - slow["started"]
    assert "err" in slow, slow
    assert "service slow function run_echo did not answer within 3 s" in slow["err"]
    assert 2.5 < waited < 7.0  # the call deadline, not the 8 s the call really takes


def test_a_blocking_builtin_runs_off_the_loop(
    start_daemon: Callable[..., PeerDaemon], manager: KeyPair, attacker_key: KeyPair
) -> None:
    """aqua-ipfs fetches over HTTP: the operator's fetch from an unresponsive node (a 127.0.0.1 socket that never
    answers) blocks only aqua-ipfs's worker, and the particle gets an error at the deadline."""
    daemon = start_daemon(call_timeout_s=3.0)
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(8)  # connections complete in the backlog; nobody ever reads or answers
    try:
        cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
        api = f"/ip4/127.0.0.1/tcp/{black_hole.getsockname()[1]}"
        with RemoteNetwork(daemon.address, manager) as operator:
            fetch = start_air(operator, *call_air(daemon, "aqua-ipfs", "cat_from", cid, api))
            operator.run_until(lambda: bool(daemon.peer.particles_with_calls_in_flight()), 5.0)
            assert daemon.peer.particles_with_calls_in_flight(), "the fetch did not start"
            for _ in range(3):
                assert timed_identify(daemon, attacker_key) < 2.0
            assert not answered(fetch)
            assert operator.run_until(lambda: answered(fetch), 10.0)
        assert "service aqua-ipfs function cat_from did not answer within 3 s" in fetch["err"]
    finally:
        black_hole.close()


def test_a_busy_service_refuses_calls_beyond_its_queue_at_once(
    start_daemon: Callable[..., PeerDaemon], manager: KeyPair, attacker_key: KeyPair
) -> None:
    """A stranger fills a shared service's queue with slow calls: their next call is refused at once, and the
    operator's call still gets in, right after the running one, before the stranger's waiting calls."""
    daemon = start_daemon(call_queue_limit=2, call_timeout_s=2.0)
    with RemoteNetwork(daemon.address, manager) as operator, RemoteNetwork(daemon.address, attacker_key) as stranger:
        deploy_spinner(operator, daemon, "shared")
        running = start_air(stranger, *call_air(daemon, "shared", "spin"))
        stranger.run_until(lambda: bool(daemon.peer.particles_with_calls_in_flight()), 5.0)
        time.sleep(0.3)  # the worker has taken the first call: the next two wait in its queue
        waiting = [start_air(stranger, *call_air(daemon, "shared", "spin")) for _ in range(2)]
        stranger.run_until(lambda: len(daemon.peer.particles_with_calls_in_flight()) >= 3, 5.0)
        started = time.monotonic()
        refused = start_air(stranger, *call_air(daemon, "shared", "spin"))
        assert stranger.run_until(lambda: answered(refused), 5.0)
        assert time.monotonic() - started < 1.5
        assert "service shared is busy: 2 calls already wait for it" in refused["err"]
        mine = start_air(operator, *call_air(daemon, "shared", "echo_string", "mine"))
        assert operator.run_until(lambda: answered(mine), 10.0) and mine.get("ok") == "mine"
        assert time.monotonic() - started < 3.5  # behind the one running call only, not the waiting ones
        assert not all(answered(box) for box in waiting)
        assert stranger.run_until(lambda: all(answered(box) for box in [running, *waiting]), 20.0)
        assert all("err" in box for box in [running, *waiting])  # each spin was stopped at the call's deadline


def fold_bomb(daemon: PeerDaemon, width: int = 200) -> str:
    """A small AIR script with a tight loop: three nested folds over `width` numbers (8 million iterations at 200),
    seconds of AquaVM time on the daemon's loop thread unless something stops it."""
    numbers = " ".join(str(i) for i in range(width))
    inner = "(fold arr k (seq (null) (next k)))"
    loops = f"(fold arr i (seq (fold arr j (seq {inner} (next j))) (next i)))"
    return f'(seq (call "{daemon.peer_id}" ("op" "array") [{numbers}] arr) {loops})'


def test_a_strangers_tight_loops_and_floods_do_not_delay_the_operator(
    start_daemon: Callable[..., PeerDaemon], manager: KeyPair, attacker_key: KeyPair
) -> None:
    """AquaVM runs on the daemon's loop thread. A stranger's invoke is stopped after a short time bound (a tight
    AIR loop fails that particle with a clear reason), and strangers' backlog is worked off in slices after the
    host's and management peers' particles: the operator waits for at most one stranger's invoke."""
    daemon = start_daemon()
    timed_identify(daemon, manager)  # warm: the client's AquaVM and the daemon's
    with RemoteNetwork(daemon.address, attacker_key) as net:
        bomb = start_air(net, reply(fold_bomb(daemon), result="arr"))
        started = time.monotonic()
        with pytest.raises(ParticleError, match=r"time bound of 0\.05 s"):
            net.run_until(lambda: answered(bomb), 30.0)
        assert time.monotonic() - started < 1.0
    raw = Raw(daemon)
    try:
        started = time.monotonic()
        for _ in range(40):
            raw.send(encode_particle(signed(fold_bomb(daemon), attacker_key, ttl_ms=20_000)))
        raw.send(encode_control("Sync", token=1))
        operator_s = timed_identify(daemon, manager)
        failed = 0
        while (message := raw.receive(60.0)) != {"action": "Synced", "token": 1}:
            assert message is not None and message["action"] == "Failed", message
            failed += 1
        flood_s = time.monotonic() - started
    finally:
        raw.close()
    assert failed == 40  # each bomb stopped at the time bound, none left to run in the background
    assert flood_s > 0.5, f"the flood took only {flood_s:.2f} s: too light to show anything"
    assert operator_s < min(0.3, flood_s / 2), f"the operator waited {operator_s:.2f} s behind a {flood_s:.2f} s flood"


def test_a_strangers_service_call_arguments_are_bounded(
    start_daemon: Callable[..., PeerDaemon], manager: KeyPair, attacker_key: KeyPair
) -> None:
    """A hosted call's time grows with its input, and services are shared (the interval's `ens`): a stranger's
    arguments are bounded, so they cannot hold the instance long; the operator's are not."""
    daemon = start_daemon()
    big = "x" * (100 * 1024)
    with RemoteNetwork(daemon.address, manager) as operator, RemoteNetwork(daemon.address, attacker_key) as stranger:
        deploy_spinner(operator, daemon, "shared")
        box = start_air(stranger, *call_air(daemon, "shared", "echo_string", big))
        assert stranger.run_until(lambda: answered(box), 30.0)
        assert "may send at most 65536" in box["err"] and "shared.echo_string" in box["err"]
        assert run_air(stranger, *call_air(daemon, "shared", "echo_string", "small")) == "small"
        assert run_air(operator, *call_air(daemon, "shared", "echo_string", big)) == big


# ---- finding 4: idle connections lock the operator out --------------------------------------------------------


def test_idle_attacker_connections_do_not_lock_the_operator_out(
    start_daemon: Callable[..., PeerDaemon], manager: KeyPair
) -> None:
    """Was: 64 idle connections made `status`, `stop-interval` and `devnet up` fail. The general pool still holds
    64, but 8 more slots are kept for connections that prove a management key (a signed Ping)."""
    daemon = start_daemon(max_connections_per_address=100, proof_timeout_s=3.0)
    with raw_connections(daemon, 72) as attackers:  # 64 general + 8 on probation: every slot is taken
        deadline = time.monotonic() + 10
        while daemon.info()["connections"] < 72 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert daemon.info()["connections"] == 72
        assert ping(daemon.address, 2.0) is None  # an unsigned ping finds no capacity left
        facts = ping(daemon.address, 2.0, key_pair=manager)  # the devnet's health check, signed
        assert facts is not None and facts["pool"] == "reserved"
        with RemoteNetwork(daemon.address, manager) as net:
            assert net.daemon_info["pool"] == "reserved"
            assert run_air(net, identify_air(daemon))["external_addresses"] == [daemon.multiaddr]
        # the unproven probation connections are gone after proof_timeout_s; the general pool stays taken
        closed = sum(conn.closed_within(0.1) for conn in attackers[:64])
        assert closed == 0
        assert all(conn.closed_within(6.0) for conn in attackers[64:])


def test_a_particle_from_a_management_key_also_claims_a_reserved_slot(
    start_daemon: Callable[..., PeerDaemon], manager: KeyPair, attacker_key: KeyPair
) -> None:
    daemon = start_daemon(max_connections=2, reserved_connections=1, proof_timeout_s=3.0)
    with raw_connections(daemon, 2):  # the general pool is taken
        stranger = Raw(daemon)  # on probation: a particle from a key that is not a management key ends it
        stranger.send(encode_particle(signed("(null)", attacker_key)))
        refused = stranger.receive()
        assert refused["action"] == "Refused" and refused["id"] is None
        assert "too many connections (2, limit peer.max_connections" in refused["reason"]
        assert stranger.receive() is None
        operator = Raw(daemon)
        operator.send(encode_particle(signed("(null)", manager)))
        operator.send(encode_control("Ping"))
        pong = operator.receive()
        assert pong["action"] == "Pong" and pong["pool"] == "reserved"
        operator.close()


def test_idle_connections_are_closed_after_the_idle_timeout(
    start_daemon: Callable[..., PeerDaemon], manager: KeyPair
) -> None:
    daemon = start_daemon(idle_timeout_s=1.0)
    with raw_connections(daemon, 2) as (idle, talking):
        started = time.monotonic()
        for _ in range(6):  # a Ping every 0.4 s keeps a connection
            talking.send(encode_control("Ping"))
            assert talking.receive()["action"] == "Pong"
            time.sleep(0.4)
        assert idle.closed_within(1.0)
        assert time.monotonic() - started < 4.0
        talking.send(encode_control("Ping"))
        assert talking.receive()["action"] == "Pong"
    # a connection whose particle is alive on the daemon is not idle; once it ended, the connection is closed,
    # and a RemoteNetwork reconnects for its next particle
    with RemoteNetwork(daemon.address, manager) as net:
        assert run_air(net, identify_air(daemon), ttl_ms=2500)
        time.sleep(1.5)
        assert daemon.info()["connections"] == 1
        time.sleep(2.5)
        assert daemon.info()["connections"] == 0
        assert run_air(net, identify_air(daemon))
        assert daemon.info()["connections"] == 1


def test_connections_per_address_are_limited(start_daemon: Callable[..., PeerDaemon], manager: KeyPair) -> None:
    daemon = start_daemon(max_connections_per_address=3, reserved_connections=0)
    with raw_connections(daemon, 3) as allowed:
        for conn in allowed:
            conn.send(encode_control("Ping"))
            assert conn.receive()["action"] == "Pong"
        extra = Raw(daemon)
        refused = extra.receive()
        assert refused["action"] == "Refused"
        assert "too many connections from 127.0.0.1 (3, limit peer.max_connections_per_address" in refused["reason"]
        assert extra.receive() is None


# ---- finding 5: memory amplification ------------------------------------------------------------------------


def test_a_ttl_over_the_cap_is_refused(
    start_daemon: Callable[..., PeerDaemon], attacker_key: KeyPair, manager: KeyPair
) -> None:
    """Was: 25 particles of 4 MiB with a TTL of 2^32-1 ms were held for 49 days."""
    daemon = start_daemon()
    forever = signed("(null)", attacker_key, ttl_ms=2**32 - 1)
    raw = Raw(daemon)
    try:
        raw.send(encode_particle(forever))
        refused = raw.receive()
        assert refused["action"] == "Refused" and refused["id"] == forever.id
        assert "ttl 4294967295 ms exceeds this peer's limit of 300000 ms" in refused["reason"]
        assert "peer.max_particle_ttl_ms (FLUENCE_DAO_PEER__MAX_PARTICLE_TTL_MS)" in refused["reason"]
        future = signed("(null)", attacker_key, ttl_ms=1000, timestamp_ms=now_ms() + 10 * 86_400_000)
        raw.send(encode_particle(future))
        assert "in the future" in raw.receive()["reason"]
    finally:
        raw.close()
    # the same admission for particles over libp2p (dropped there: libp2p has no control messages)
    refused_before, held_before = daemon.particles_refused, daemon.peer.held_bytes
    daemon._on_libp2p_message(attacker_key.peer_id, encode_particle(signed("(null)", attacker_key, ttl_ms=2**31)))
    assert daemon.particles_refused == refused_before + 1 and daemon.peer.held_bytes == held_before
    # RemoteNetwork raises at once
    with RemoteNetwork(daemon.address, attacker_key) as net:
        box = start_air(net, identify_air(daemon), ttl_ms=400_000)
        with pytest.raises(ParticleError, match="exceeds this peer's limit of 300000 ms"):
            net.run_until(lambda: answered(box), 10.0)
    with pytest.raises(ConfigError, match=r"particle_ttl_ms.* = 400000 exceeds peer\.max_particle_ttl_ms"):
        DaemonConfig(settings=daemon.config.settings, particle_ttl_ms=400_000)


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_a_strangers_doubling_script_stops_at_the_size_limits(
    start_daemon: Callable[..., PeerDaemon], attacker_key: KeyPair
) -> None:
    """Was: a 1 MiB AIR script that doubles a string took the daemon from 79 MiB to 1.1 GiB. A stranger's particle
    now runs under AquaVM's hard size limits: a script over 1 MiB fails before it runs, and a smaller one fails as
    soon as one call result passes 2 MiB; the client gets `Failed` at once and the daemon barely grows."""
    daemon = start_daemon()
    relay = daemon.peer_id
    doublings = [f'(call "{relay}" ("op" "concat_strings") [s{i} s{i}] s{i + 1})' for i in range(12)]
    with RemoteNetwork(daemon.address, attacker_key) as warmup:
        run_air(warmup, identify_air(daemon))
    before = _rss_mib()
    for literal, limit in ((3 * MiB // 2, "air size"), (MiB // 2, "call result size")):
        air = reply('(ap "' + "x" * literal + '" s0)', *doublings, result="s12")
        with RemoteNetwork(daemon.address, attacker_key) as net:
            box = start_air(net, air, ttl_ms=120_000)
            with pytest.raises(ParticleError, match=f"(?i)failed on the peer daemon: .*{limit}"):
                net.run_until(lambda box=box: answered(box), 30.0)
    assert _rss_mib() < before + 64
    with RemoteNetwork(daemon.address, attacker_key) as net:  # the daemon goes on serving
        assert run_air(net, identify_air(daemon))


def test_a_doubling_script_fails_with_an_error_and_the_memory_comes_back(
    start_daemon: Callable[..., PeerDaemon], manager: KeyPair
) -> None:
    """Without size limits (the operator's own particles), AquaVM's memory ceiling fails the particle, the client
    gets `Failed` at once, and the AquaVM instance that grew is replaced so the memory comes back."""
    attacker_key = manager
    daemon = start_daemon()
    limits = daemon.limits
    with RemoteNetwork(daemon.address, attacker_key) as warmup:  # AquaVM and the client at their resting size
        run_air(warmup, identify_air(daemon))
    before = _rss_mib()
    relay = daemon.peer_id
    doublings = [f'(call "{relay}" ("op" "concat_strings") [s{i} s{i}] s{i + 1})' for i in range(12)]
    air = reply('(ap "' + "x" * MiB + '" s0)', *doublings, result="s12")
    assert len(air) > MiB
    peak = [before]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.05):
            peak[0] = max(peak[0], _rss_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with RemoteNetwork(daemon.address, attacker_key) as net:
            box = start_air(net, air, ttl_ms=120_000)
            started = time.monotonic()
            with pytest.raises(ParticleError, match=r"failed on the peer daemon: AquaVM invoke failed .*memory"):
                net.run_until(lambda: answered(box), 60.0)
            assert time.monotonic() - started < 60.0  # at once, not after the 120 s TTL
    finally:
        sampling.set()
        sampler.join()
    assert daemon.peer.avm.resets >= 1
    assert daemon.peer.avm.memory_bytes() <= limits.avm_reset_memory_bytes
    after = _rss_mib()
    assert peak[0] - before > 100, f"the script did not grow the process ({before:.0f} -> peak {peak[0]:.0f} MiB)"
    assert after < before + 100, f"memory did not come back: {before:.0f} MiB before, {after:.0f} MiB after"
    with RemoteNetwork(daemon.address, attacker_key) as net:  # the daemon goes on serving
        assert run_air(net, identify_air(daemon))


def test_particle_data_held_in_flight_is_bounded(
    start_daemon: Callable[..., PeerDaemon], attacker_key: KeyPair, manager: KeyPair
) -> None:
    """Strangers' particle data is bounded; a stranger who fills it does not lock the operator out."""
    daemon = start_daemon(max_inflight_bytes=5 * MiB)
    raw = Raw(daemon)
    try:
        big = '(ap "' + "x" * (9 * MiB // 10) + '" x)'  # runs on the daemon, then its state is held for the TTL
        for _ in range(5):
            raw.send(encode_particle(signed(big, attacker_key)))
        raw.send(encode_control("Sync", token=1))
        assert raw.receive() == {"action": "Synced", "token": 1}
        assert daemon.peer.held_bytes >= 5 * (9 * MiB // 10)
        one_more = signed(big, attacker_key)
        raw.send(encode_particle(one_more))
        refused = raw.receive()
        assert refused["action"] == "Refused" and refused["id"] == one_more.id
        assert "the limit is 5242880 (peer.max_inflight_bytes" in refused["reason"]
        operators = signed(big, manager)
        raw.send(encode_particle(operators))
        raw.send(encode_control("Sync", token=2))
        assert raw.receive() == {"action": "Synced", "token": 2}  # run, not refused
    finally:
        raw.close()
