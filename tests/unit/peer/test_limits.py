"""The daemon's limits without sockets: defaults and settings, connection pools, particle admission, signed Pings
and the call workers' bounded queues."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from fluence_dao.config import load_settings
from fluence_dao.errors import ConfigError, ParticleError
from fluence_dao.peer import KeyPair, Particle
from fluence_dao.peer.daemon import DaemonConfig
from fluence_dao.peer.limits import (
    GENERAL,
    PROBATION,
    RESERVED,
    ConnectionPools,
    DaemonLimits,
    ReplayGuard,
    particle_admission_error,
)
from fluence_dao.peer.particle import now_ms
from fluence_dao.peer.wire import PING_WINDOW_MS, decode_message, encode_control, encode_signed_ping, ping_signer
from fluence_dao.peer.workers import CallJob, CallWorkers


def test_settings_defaults_are_the_limits_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings({"state_dir": tmp_path}, env_file=None)
    assert DaemonLimits.from_settings(settings.peer) == DaemonLimits()
    assert DaemonConfig.from_settings(settings).limits == DaemonLimits()
    monkeypatch.setenv("FLUENCE_DAO_PEER__IDLE_TIMEOUT_S", "5")
    monkeypatch.setenv("FLUENCE_DAO_PEER__RESERVED_CONNECTIONS", "0")
    limits = DaemonConfig.from_settings(load_settings({"state_dir": tmp_path}, env_file=None)).limits
    assert limits.idle_timeout_s == 5.0 and limits.reserved_connections == 0
    monkeypatch.setenv("FLUENCE_DAO_PEER__PARTICLE_TTL_MS", "600000")
    with pytest.raises(ConfigError, match=r"PARTICLE_TTL_MS\) = 600000 exceeds peer\.max_particle_ttl_ms"):
        DaemonConfig.from_settings(load_settings({"state_dir": tmp_path}, env_file=None))


def test_a_bad_limit_names_its_setting() -> None:
    with pytest.raises(ConfigError, match=r"peer\.call_queue_limit \(FLUENCE_DAO_PEER__CALL_QUEUE_LIMIT\) must be"):
        DaemonLimits(call_queue_limit=0)
    assert DaemonLimits(reserved_connections=0).reserved_connections == 0


@dataclass(eq=False)
class FakeConnection:  # a fake: only the attributes the pools read
    address: tuple[str, int]
    pool: str = GENERAL
    opened_at: float = field(default_factory=time.monotonic)


def _join(pools: ConnectionPools, host: str) -> FakeConnection:
    placement = pools.place((host, 1))
    assert placement.pool is not None, placement.reason
    conn = FakeConnection((host, 1), placement.pool)
    pools.add(conn)
    if placement.evict is not None:
        pools.remove(placement.evict)
    return conn


def test_connection_pools_keep_reserved_slots_for_proven_keys() -> None:
    pools = ConnectionPools(DaemonLimits(max_connections=3, max_connections_per_address=2, reserved_connections=2))
    a, b = _join(pools, "127.0.0.1"), _join(pools, "127.0.0.1")
    assert a.pool == b.pool == GENERAL
    per_address = pools.place(("127.0.0.1", 1))  # the address is at its limit; the pool is not
    assert per_address.pool == PROBATION and "too many connections from 127.0.0.1 (2" in per_address.reason
    assert _join(pools, "127.0.0.2").pool == GENERAL
    first, second = _join(pools, "127.0.0.3"), _join(pools, "127.0.0.4")
    assert first.pool == second.pool == PROBATION
    third = pools.place(("127.0.0.5", 1))  # both reserved slots on probation: the oldest unproven gives way
    assert third.pool == PROBATION and third.evict is first
    assert ConnectionPools.promote(second) and second.pool == RESERVED
    pools.remove(first)
    _join(pools, "127.0.0.5")
    full = pools.place(("127.0.0.6", 1))  # probation evicts only unproven connections
    assert full.pool == PROBATION and full.evict is not second
    assert ConnectionPools.promote(pools.members[-1])
    refused = pools.place(("127.0.0.6", 1))
    assert refused.pool is None and "reserved slots are held by management connections" in refused.reason
    assert not ConnectionPools.promote(a)  # a general connection stays general


def test_particle_admission() -> None:
    key, limits = KeyPair.generate(), DaemonLimits(max_particle_ttl_ms=10_000, max_inflight_bytes=1000)
    ok = Particle.create("(null)", key, ttl_ms=10_000)
    assert particle_admission_error(ok, limits, held_bytes=0) is None
    long = Particle.create("(null)", key, ttl_ms=10_001)
    assert "ttl 10001 ms exceeds this peer's limit of 10000 ms" in str(particle_admission_error(long, limits, 0))
    future = replace(ok, timestamp_ms=now_ms() + 3_600_000)
    future = replace(future, signature=key.sign(future.signed_bytes()))
    assert "in the future" in str(particle_admission_error(future, limits, 0))
    assert "bad signature" in str(particle_admission_error(replace(ok, script="(seq (null) (null))"), limits, 0))
    assert "expired" in str(particle_admission_error(replace(ok, timestamp_ms=now_ms() - 20_000), limits, 0))
    full = particle_admission_error(ok, limits, held_bytes=995)
    assert full is not None and "holds 995 bytes" in full and "peer.max_inflight_bytes" in full


def test_signed_ping() -> None:
    key = KeyPair.generate()
    body = decode_message(encode_signed_ping(key))
    assert isinstance(body, dict) and ping_signer(body) == key.peer_id
    assert ping_signer({"action": "Ping"}) is None
    with pytest.raises(ParticleError, match="bad signature"):
        ping_signer({**body, "peer_id": KeyPair.generate().peer_id})
    with pytest.raises(ParticleError, match="bad signature"):
        ping_signer({**body, "timestamp": body["timestamp"] + 1})
    stale = decode_message(encode_signed_ping(key, now_ms() - PING_WINDOW_MS - 1000))
    assert isinstance(stale, dict)
    with pytest.raises(ParticleError, match="away from the daemon's clock"):
        ping_signer(stale)
    with pytest.raises(ParticleError, match="needs peer_id"):
        ping_signer(decode_message(encode_control("Ping", peer_id=key.peer_id)))
    assert body["signature"] != decode_message(encode_signed_ping(key, body["timestamp"]))["signature"]  # nonce
    guard = ReplayGuard()
    assert guard.first_use(body["signature"], now_ms() + 60_000)
    assert not guard.first_use(body["signature"], now_ms() + 60_000)


def test_call_workers_bound_their_queues_and_skip_cancelled_calls() -> None:
    done: list[tuple[int, object]] = []
    finished = threading.Event()
    release = threading.Event()

    def on_done(ticket: int, answer: object) -> None:
        done.append((ticket, answer))
        if len(done) == 3:
            finished.set()

    workers = CallWorkers(on_done, queue_limit=2)
    started = threading.Event()

    def blocking() -> str:
        started.set()
        release.wait(10)
        return "slow"

    assert workers.submit("svc", CallJob(1, blocking))
    assert started.wait(5)
    cancelled = CallJob(2, lambda: "never")
    assert workers.submit("svc", cancelled)
    assert workers.submit("svc", CallJob(3, lambda: "third"))
    assert not workers.submit("svc", CallJob(4, lambda: "refused"))  # two already wait
    assert workers.submit("other", CallJob(5, lambda: "another lane"))  # lanes do not share a queue
    assert workers.busy()["svc"] == 3
    workers.cancel(cancelled)
    release.set()
    assert finished.wait(5)
    assert sorted(done) == [(1, "slow"), (3, "third"), (5, "another lane")]
    workers.close()
    assert not workers.submit("svc", CallJob(6, lambda: "closed"))
