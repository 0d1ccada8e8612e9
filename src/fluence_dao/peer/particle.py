"""Particles and peer identities: ed25519 key pairs, libp2p peer ids, particle signatures and TTL.

A libp2p peer id of an ed25519 key is base58btc of the identity multihash of the protobuf-encoded public key:
`00 24 08 01 12 20 || public key` (so it always starts with `12D3KooW`). A particle is signed by its init peer
over `id (utf-8) || timestamp_ms (u64 LE) || ttl_ms (u32 LE) || script (utf-8)`.

A particle passes several checks in one process (the daemon's admission, then the peer; a LocalNetwork's peers
each), so `Particle.verify` remembers the particles whose signature it found valid (`VerifiedParticles`: the
signature with every signed field, compared in full on a hit) and verifies each one once; a bad signature is
never remembered. Public keys decoded from peer ids are cached too.
"""

from __future__ import annotations

import base64
import os
import struct
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fluence_dao.errors import ConfigError, ParticleError

_PEER_ID_PREFIX = bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])
DEFAULT_TTL_MS = 120_000
_TIMESTAMP_TTL = struct.Struct("<QI")
_PUBLIC_KEYS_MAX = 4096


def peer_id_from_public_key(public_key: bytes) -> str:
    """The libp2p peer id (`12D3KooW...`) of a 32-byte ed25519 public key."""
    if len(public_key) != 32:
        raise ParticleError(f"an ed25519 public key has 32 bytes, got {len(public_key)}", length=len(public_key))
    return base58.b58encode(_PEER_ID_PREFIX + public_key).decode("ascii")


def public_key_from_peer_id(peer_id: str) -> bytes:
    """The ed25519 public key inside a `12D3KooW...` peer id; ParticleError for any other kind of id."""
    try:
        raw = base58.b58decode(peer_id)
    except ValueError as err:
        raise ParticleError(f"peer id {peer_id!r} is not base58", peer_id=peer_id) from err
    if len(raw) != 38 or not raw.startswith(_PEER_ID_PREFIX):
        raise ParticleError(f"peer id {peer_id!r} is not an ed25519 libp2p peer id (12D3KooW...)", peer_id=peer_id)
    return raw[len(_PEER_ID_PREFIX) :]


def is_peer_id(value: str) -> bool:
    try:
        public_key_from_peer_id(value)
    except ParticleError:
        return False
    return True


class KeyPair:
    """An ed25519 key pair. The secret seed stays in this object (never in repr, logs or errors)."""

    __slots__ = ("_private", "_seed", "peer_id", "public_key")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self._seed = private_key.private_bytes(  # AquaVM needs it for every invoke
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        self.public_key = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.peer_id = peer_id_from_public_key(self.public_key)

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        if len(seed) != 32:
            raise ConfigError(f"an ed25519 secret key is a 32-byte seed, got {len(seed)} bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_base64(cls, text: str) -> KeyPair:
        try:
            seed = base64.b64decode(text.strip(), validate=True)
        except ValueError as err:
            raise ConfigError("the ed25519 secret key is not valid base64") from err
        return cls.from_seed(seed)

    @classmethod
    def load_or_create(cls, path: Path) -> KeyPair:
        """The key kept in `path` (base64 of the seed, mode 0600); created on first use."""
        if path.exists():
            return cls.from_base64(path.read_text())
        pair = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(pair.secret_seed()).decode("ascii") + "\n")
        return pair

    def secret_seed(self) -> bytes:
        """The 32-byte seed, for AquaVM's RunParameters.secret_key_bytes and the key file only."""
        return self._seed

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    def __repr__(self) -> str:
        return f"KeyPair(peer_id={self.peer_id!r})"


_public_keys: dict[str, Ed25519PublicKey] = {}


def _public_key(peer_id: str) -> Ed25519PublicKey:
    """The verifying key of a peer id (decoded once; ParticleError for an id that is not an ed25519 key)."""
    key = _public_keys.get(peer_id)
    if key is None:
        key = Ed25519PublicKey.from_public_bytes(public_key_from_peer_id(peer_id))
        if len(_public_keys) >= _PUBLIC_KEYS_MAX:
            _public_keys.clear()  # rare: more peers than that talked to this process
        _public_keys[peer_id] = key
    return key


def verify_signature(peer_id: str, data: bytes, signature: bytes) -> bool:
    try:
        _public_key(peer_id).verify(signature, data)
    except (InvalidSignature, ParticleError, ValueError):
        return False
    return True


class VerifiedParticles:
    """Particles whose signature was found valid, so the next check of the same particle skips the ed25519
    verification. Keyed by signature; a hit must match every signed field and the init peer (compared in full,
    the script too), so a particle that differs in anything is verified afresh. At most `max_entries` particles
    and `max_script_bytes` of scripts are kept (least recently used go first). Thread-safe."""

    def __init__(self, max_entries: int = 1024, max_script_bytes: int = 16 * 2**20) -> None:
        self.max_entries = max_entries
        self.max_script_bytes = max_script_bytes
        self._entries: OrderedDict[bytes, tuple[str, str, int, int, str]] = OrderedDict()
        self._script_bytes = 0
        self._lock = threading.Lock()

    def __contains__(self, particle: object) -> bool:
        if not isinstance(particle, Particle):
            return False
        with self._lock:
            entry = self._entries.get(particle.signature)
            if entry is None or entry != _signed_fields(particle):
                return False
            self._entries.move_to_end(particle.signature)
            return True

    def add(self, particle: Particle) -> None:
        """Remember `particle` as verified (only after its signature was checked, or made by this process)."""
        size = len(particle.script)
        if size > self.max_script_bytes or not particle.signature:
            return
        with self._lock:
            old = self._entries.pop(particle.signature, None)
            if old is not None:
                self._script_bytes -= len(old[4])
            self._entries[particle.signature] = _signed_fields(particle)
            self._script_bytes += size
            while len(self._entries) > self.max_entries or self._script_bytes > self.max_script_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._script_bytes -= len(dropped[4])

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._script_bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


def _signed_fields(particle: Particle) -> tuple[str, str, int, int, str]:
    return (particle.init_peer_id, particle.id, particle.timestamp_ms, particle.ttl_ms, particle.script)


#: The particles this process found correctly signed (or signed itself).
verified_particles = VerifiedParticles()


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Particle:
    """A particle as peers exchange it. `data` is the AquaVM data the sender produced."""

    id: str
    init_peer_id: str
    timestamp_ms: int
    ttl_ms: int
    script: str
    signature: bytes = b""
    data: bytes = field(default=b"", repr=False)

    @classmethod
    def create(
        cls, script: str, key_pair: KeyPair, *, ttl_ms: int = DEFAULT_TTL_MS, particle_id: str | None = None
    ) -> Particle:
        """A new particle initiated and signed by `key_pair`."""
        unsigned = cls(
            id=particle_id or str(uuid.uuid4()),
            init_peer_id=key_pair.peer_id,
            timestamp_ms=now_ms(),
            ttl_ms=ttl_ms,
            script=script,
        )
        particle = replace(unsigned, signature=key_pair.sign(unsigned.signed_bytes()))
        verified_particles.add(particle)  # signed here just now: valid by construction
        return particle

    def signed_bytes(self) -> bytes:
        if not 0 <= self.timestamp_ms < 2**64 or not 0 <= self.ttl_ms < 2**32:
            raise ParticleError(
                f"particle {self.id}: timestamp {self.timestamp_ms} must fit u64 and ttl {self.ttl_ms} u32",
                particle_id=self.id,
            )
        return self.id.encode() + _TIMESTAMP_TTL.pack(self.timestamp_ms, self.ttl_ms) + self.script.encode()

    def verify(self) -> None:
        """ParticleError unless the signature is the init peer's over id, timestamp, ttl and script (checked once
        per process: a particle found valid before, identical in every signed field, is not checked again)."""
        if self in verified_particles:
            return
        if not verify_signature(self.init_peer_id, self.signed_bytes(), self.signature):
            raise ParticleError(
                f"particle {self.id}: bad signature for init peer {self.init_peer_id}",
                particle_id=self.id,
                init_peer_id=self.init_peer_id,
            )
        verified_particles.add(self)

    @property
    def deadline_ms(self) -> int:
        return self.timestamp_ms + self.ttl_ms

    def is_expired(self, at_ms: int | None = None) -> bool:
        return (now_ms() if at_ms is None else at_ms) >= self.deadline_ms

    def with_data(self, data: bytes) -> Particle:
        return replace(self, data=data)
