"""The peer daemon's limits: what one local client may hold, and who keeps the capacity reserved for the operator.

- `DaemonLimits`: every limit with its default and the setting that changes it (`peer.<name>`,
  `FLUENCE_DAO_PEER__<NAME>`); error messages name that setting.
- `ConnectionPools`: a new connection joins the general pool while it has room (`max_connections`, at most
  `max_connections_per_address` from one address: every local client is on 127.0.0.0/8, so this alone cannot stop
  a local attacker). Otherwise it may take one of `reserved_connections` slots on probation: it keeps the slot only
  if it proves a management (or the host's) key within `proof_timeout_s`, with a signed Ping or a verified
  particle; an unproven probation connection is the first to go when another one needs the slot.
- `particle_admission_error`: the checks every particle from outside passes before the peer holds it (the TCP
  endpoint and libp2p use this one function): not expired, TTL at most `max_particle_ttl_ms`, timestamp not in
  the future beyond the clock skew, a valid signature, and room within `max_inflight_bytes` of particle data.
- `ReplayGuard`: a signed Ping is accepted once within its time window.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Protocol

from fluence_dao.errors import ConfigError, ParticleError
from fluence_dao.peer.avm import AVM_MEMORY_BYTES, AVM_RESET_MEMORY_BYTES
from fluence_dao.peer.particle import Particle, now_ms

if TYPE_CHECKING:
    from fluence_dao.config import PeerSettings

GENERAL = "general"
PROBATION = "probation"
RESERVED = "reserved"
MAX_CLOCK_SKEW_MS = 60_000


def setting_name(name: str) -> str:
    """How a user changes limit `name`: `peer.<name> (FLUENCE_DAO_PEER__<NAME>)`."""
    return f"peer.{name} (FLUENCE_DAO_PEER__{name.upper()})"


@dataclass(frozen=True)
class DaemonLimits:
    idle_timeout_s: float = 60.0  # a connection that received nothing for this long is closed
    max_connections: int = 64  # the general pool
    max_connections_per_address: int = 16  # general-pool connections from one remote address
    reserved_connections: int = 8  # extra slots a connection keeps only with a management or host key
    proof_timeout_s: float = 5.0  # how long a connection on probation has to prove such a key (not a setting)
    max_particle_ttl_ms: int = 300_000  # longer TTLs are refused
    max_inflight_bytes: int = 256 * 2**20  # script + data + prev_data of every particle held
    call_timeout_s: float = 30.0  # a service call on a worker; then the particle gets an error result
    call_queue_limit: int = 16  # calls waiting per service; beyond it a call fails at once
    avm_memory_bytes: int = AVM_MEMORY_BYTES  # AquaVM's memory ceiling
    avm_reset_memory_bytes: int = AVM_RESET_MEMORY_BYTES  # AquaVM is re-instantiated above this (not a setting)

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            minimum = 0 if item.name == "reserved_connections" else 1
            if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
                raise ConfigError(
                    f"{setting_name(item.name)} must be a number >= {minimum}, got {value!r}",
                    setting=f"peer.{item.name}",
                    value=value,
                )

    @classmethod
    def from_settings(cls, peer_settings: PeerSettings) -> DaemonLimits:
        """The limits set in `settings.peer` (fields missing there keep their defaults)."""
        values = {
            item.name: getattr(peer_settings, item.name)
            for item in fields(cls)
            if getattr(peer_settings, item.name, None) is not None
        }
        return cls(**values)


class PooledConnection(Protocol):
    address: tuple[str, int]
    pool: str
    opened_at: float


@dataclass(frozen=True)
class Placement:
    pool: str | None  # None: refused
    evict: PooledConnection | None  # a probation connection that gives its slot to this one
    reason: str  # why it is not in the general pool ("" when it is)


class ConnectionPools:
    """Decides the pool of each connection. Not thread-safe: the daemon calls it under its lock."""

    def __init__(self, limits: DaemonLimits) -> None:
        self.limits = limits
        self.members: list[PooledConnection] = []

    def count(self, pool: str) -> int:
        return sum(1 for conn in self.members if conn.pool == pool)

    def place(self, address: tuple[str, int]) -> Placement:
        """Where a new connection from `address` goes (the caller adds it with `add`)."""
        limits = self.limits
        general = [conn for conn in self.members if conn.pool == GENERAL]
        same_address = sum(1 for conn in general if conn.address[0] == address[0])
        if len(general) >= limits.max_connections:
            reason = f"too many connections ({len(general)}, limit {setting_name('max_connections')} = "
            reason += f"{limits.max_connections})"
        elif same_address >= limits.max_connections_per_address:
            reason = f"too many connections from {address[0]} ({same_address}, limit "
            reason += f"{setting_name('max_connections_per_address')} = {limits.max_connections_per_address})"
        else:
            return Placement(GENERAL, None, "")
        reserved = [conn for conn in self.members if conn.pool in (PROBATION, RESERVED)]
        if len(reserved) < limits.reserved_connections:
            return Placement(PROBATION, None, reason)
        unproven = sorted((conn for conn in reserved if conn.pool == PROBATION), key=lambda conn: conn.opened_at)
        if unproven:
            return Placement(PROBATION, unproven[0], reason)
        full = f"{reason}; the {limits.reserved_connections} reserved slots are held by management connections"
        return Placement(None, None, full)

    def add(self, conn: PooledConnection) -> None:
        self.members.append(conn)

    def remove(self, conn: PooledConnection) -> None:
        if conn in self.members:
            self.members.remove(conn)

    @staticmethod
    def promote(conn: PooledConnection) -> bool:
        """A probation connection proved a management or host key: it keeps its reserved slot."""
        if conn.pool == PROBATION:
            conn.pool = RESERVED
            return True
        return False


def particle_admission_error(
    particle: Particle, limits: DaemonLimits, held_bytes: int, *, privileged: bool = False
) -> str | None:
    """None when `particle` may be held by the peer, else why it is refused (checked in this order). The host's and
    management peers' particles (`privileged`) are not held to `max_inflight_bytes`: strangers who fill it cannot
    lock the operator out."""
    now = now_ms()
    if particle.is_expired(now):
        return f"particle {particle.id} expired (timestamp + ttl has passed)"
    if particle.ttl_ms > limits.max_particle_ttl_ms:
        return (
            f"particle {particle.id}: ttl {particle.ttl_ms} ms exceeds this peer's limit of "
            f"{limits.max_particle_ttl_ms} ms ({setting_name('max_particle_ttl_ms')})"
        )
    if particle.timestamp_ms > now + MAX_CLOCK_SKEW_MS:
        return (
            f"particle {particle.id}: timestamp {particle.timestamp_ms} is {particle.timestamp_ms - now} ms in the "
            f"future (more than the allowed clock skew of {MAX_CLOCK_SKEW_MS} ms)"
        )
    try:
        particle.verify()
    except ParticleError as err:
        return err.message
    size = len(particle.script) + len(particle.data)
    if not privileged and held_bytes + size > limits.max_inflight_bytes:
        return (
            f"particle {particle.id} ({size} bytes) refused: the peer already holds {held_bytes} bytes of particle "
            f"data, the limit is {limits.max_inflight_bytes} ({setting_name('max_inflight_bytes')}); "
            "try again when running particles have ended"
        )
    return None


class ReplayGuard:
    """Remembers signatures until they expire: a signed Ping is accepted once (thread-safe)."""

    def __init__(self) -> None:
        self._seen: dict[bytes, int] = {}
        self._lock = threading.Lock()

    def first_use(self, signature: bytes, expires_ms: int) -> bool:
        now = now_ms()
        with self._lock:
            if len(self._seen) > 4096:
                self._seen = {sig: until for sig, until in self._seen.items() if until > now}
            if signature in self._seen and self._seen[signature] > now:
                return False
            self._seen[signature] = expires_ms
            return True
