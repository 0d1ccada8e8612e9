"""The particle wire format between Fluence peers (protocol `/fluence/particle/2.0.0`), transport-free.

A message is the multicodec prefix of MessagePack (0x0201 as an unsigned varint: `81 04`) followed by a
MessagePack map {action: "Particle", id, init_peer_id (base58), timestamp (u64 ms), ttl (u32 ms), script,
signature, data}; on a stream each message is preceded by its unsigned-varint length. Messages over 4 MiB
are refused (js-client's limit). `signature` and `data` are encoded as MessagePack binary (js-client rejects
arrays of numbers); arrays of numbers are accepted on decode (js-client itself sends them, nox accepts both).

Control messages (the loopback endpoint of `fluence_dao.peer.daemon` only, never sent to other peers) use the
same framing and prefix with another `action`: `Ping` -> `Pong` {peer_id, ...facts}, `Sync` {token} ->
`Synced` {token} (everything received before has been executed), `Refused` {id, reason} for a particle the
daemon dropped (bad signature, expired, malformed, over a limit; id None: the connection itself is refused) and
`Failed` {id, reason} for a particle that failed on the daemon (AquaVM error, memory ceiling, too big to send).
A Ping may be signed: {peer_id, timestamp (ms), nonce, signature} with the signature over `ping_signed_bytes` (a
domain tag, the peer id, the timestamp and the nonce), accepted once within PING_WINDOW_MS of the daemon's clock;
a signed Ping from a management key keeps the connection in the daemon's reserved capacity.
The libp2p transport reuses `encode_particle` / `decode_particle` / `frame` / `FrameReader` as they are.
"""

from __future__ import annotations

import os
import struct
from typing import TypeAlias, TypeVar

import msgpack

from fluence_dao.errors import ParticleError
from fluence_dao.peer.particle import KeyPair, Particle, now_ms, verify_signature
from fluence_dao.util.varint import encode_uvarint

MSGPACK_PREFIX = b"\x81\x04"
MAX_MESSAGE_BYTES = 4 * 2**20  # js-client refuses larger messages
PARTICLE_ACTION = "Particle"
CONTROL_ACTIONS = frozenset({"Failed", "Ping", "Pong", "Refused", "Sync", "Synced"})
PING_DOMAIN = b"fluence-dao/daemon-ping/v1"
PING_WINDOW_MS = 30_000
_MAX_VARINT_BYTES = 10  # a u64 as an unsigned varint

ControlMessage: TypeAlias = dict[str, object]
"""A decoded control message: its `action` and the fields as MessagePack gave them, unchecked (a reader checks
each field it uses with isinstance: the other side may be anything that speaks the framing)."""

_T = TypeVar("_T")


def encode_particle(particle: Particle) -> bytes:
    """The payload of one particle message (without the length prefix); ParticleError if it is too big."""
    _check_ranges(particle.timestamp_ms, particle.ttl_ms, particle.id)
    body = {
        "action": PARTICLE_ACTION,
        "id": particle.id,
        "init_peer_id": particle.init_peer_id,
        "timestamp": particle.timestamp_ms,
        "ttl": particle.ttl_ms,
        "script": particle.script,
        "signature": bytes(particle.signature),
        "data": bytes(particle.data),
    }
    message: bytes = MSGPACK_PREFIX + msgpack.packb(body, use_bin_type=True)
    _check_size(len(message))
    return message


def decode_particle(message: bytes) -> Particle:
    """A particle from one message payload; ParticleError naming what is wrong (the signature is not checked)."""
    body = _decode_map(message)
    action = body.get("action")
    if action != PARTICLE_ACTION:
        raise ParticleError(f"unsupported particle action {action!r} (expected {PARTICLE_ACTION!r})", action=action)
    return _particle_from(body)


def decode_message(message: bytes) -> Particle | ControlMessage:
    """A particle, or a control message as a dict with its `action` (Ping, Pong, Refused)."""
    body = _decode_map(message)
    action = body.get("action")
    if action == PARTICLE_ACTION:
        return _particle_from(body)
    if action in CONTROL_ACTIONS:
        return body
    raise ParticleError(f"unsupported particle action {action!r} (expected {PARTICLE_ACTION!r})", action=action)


def encode_control(action: str, **fields: object) -> bytes:
    """A control message payload for the daemon's loopback endpoint."""
    if action not in CONTROL_ACTIONS:
        raise ParticleError(f"unknown control action {action!r} (known: {', '.join(sorted(CONTROL_ACTIONS))})")
    message: bytes = MSGPACK_PREFIX + msgpack.packb({"action": action, **fields}, use_bin_type=True)
    _check_size(len(message))
    return message


def ping_signed_bytes(peer_id: str, timestamp_ms: int, nonce: bytes) -> bytes:
    """What a signed Ping signs: domain tag, 0, peer id, 0, timestamp (u64 LE), nonce. The tag keeps a Ping
    signature from ever being valid as a particle signature (those start with a particle id); the nonce makes two
    Pings in the same millisecond differ (the daemon accepts each signature once)."""
    return PING_DOMAIN + b"\0" + peer_id.encode() + b"\0" + struct.pack("<Q", timestamp_ms) + nonce


def encode_signed_ping(key_pair: KeyPair, timestamp_ms: int | None = None) -> bytes:
    """A Ping that proves `key_pair`'s peer id (the daemon reserves capacity for its management keys)."""
    timestamp = now_ms() if timestamp_ms is None else timestamp_ms
    nonce = os.urandom(16)
    signature = key_pair.sign(ping_signed_bytes(key_pair.peer_id, timestamp, nonce))
    return encode_control("Ping", peer_id=key_pair.peer_id, timestamp=timestamp, nonce=nonce, signature=signature)


def ping_signer(body: ControlMessage, at_ms: int | None = None) -> str | None:
    """The peer id a Ping proves, None for an unsigned Ping; ParticleError for a bad signature or a timestamp
    outside PING_WINDOW_MS (replays within the window are the receiver's to refuse)."""
    if body.get("signature") is None and body.get("peer_id") is None:
        return None
    peer_id, timestamp, signature = body.get("peer_id"), body.get("timestamp"), body.get("signature")
    nonce = body.get("nonce", b"")
    if (
        not isinstance(peer_id, str)
        or not isinstance(timestamp, int)
        or not isinstance(signature, bytes)
        or not isinstance(nonce, bytes)
        or len(nonce) > 64
    ):
        raise ParticleError("signed Ping needs peer_id (str), timestamp (int ms), nonce and signature (bytes)")
    now = now_ms() if at_ms is None else at_ms
    if abs(now - timestamp) > PING_WINDOW_MS:
        raise ParticleError(
            f"signed Ping from {peer_id}: timestamp {timestamp} is {now - timestamp} ms away from the daemon's "
            f"clock (window {PING_WINDOW_MS} ms)",
            peer_id=peer_id,
        )
    signed = ping_signed_bytes(peer_id, timestamp, nonce) if 0 <= timestamp < 2**64 else b""
    if not signed or not verify_signature(peer_id, signed, signature):
        raise ParticleError(f"signed Ping: bad signature for peer {peer_id}", peer_id=peer_id)
    return peer_id


def frame(message: bytes) -> bytes:
    """Prefix a message with its unsigned-varint length."""
    _check_size(len(message))
    return encode_varint(len(message)) + message


def unframe(buffer: bytes) -> tuple[bytes, bytes]:
    """(first message, rest); ParticleError if the buffer holds no complete message."""
    header = _read_varint(buffer)
    if header is None:
        raise ParticleError("incomplete varint length prefix")
    length, start = header
    _check_size(length)
    if len(buffer) < start + length:
        raise ParticleError(f"incomplete particle message: {len(buffer) - start} of {length} bytes")
    return buffer[start : start + length], buffer[start + length :]


class FrameReader:
    """Incremental unframing for a byte stream: `feed(chunk)` returns the messages completed by it.

    A declared length over MAX_MESSAGE_BYTES raises ParticleError as soon as the prefix is read (before the
    body arrives), so a peer cannot make us buffer more than one maximal message.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        messages: list[bytes] = []
        while True:
            header = _read_varint(self._buffer)
            if header is None:
                return messages
            length, start = header
            _check_size(length)
            if len(self._buffer) < start + length:
                return messages
            messages.append(bytes(self._buffer[start : start + length]))
            del self._buffer[: start + length]

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a complete message."""
        return len(self._buffer)


# ---- helpers ------------------------------------------------------------------------------------------------


def encode_varint(value: int) -> bytes:
    """The unsigned varint of a length prefix; ParticleError for a negative value."""
    try:
        return encode_uvarint(value)
    except ValueError as err:
        raise ParticleError(str(err)) from None


def _read_varint(buffer: bytes | bytearray) -> tuple[int, int] | None:
    """(value, bytes used), None when the buffer ends inside the varint; ParticleError when it is too long."""
    value = 0
    for index in range(min(len(buffer), _MAX_VARINT_BYTES)):
        byte = buffer[index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, index + 1
    if len(buffer) >= _MAX_VARINT_BYTES:
        raise ParticleError(f"varint length prefix longer than {_MAX_VARINT_BYTES} bytes")
    return None


def _check_size(length: int) -> None:
    if length > MAX_MESSAGE_BYTES:
        raise ParticleError(
            f"particle message of {length} bytes exceeds the limit of {MAX_MESSAGE_BYTES} bytes (4 MiB)",
            length=length,
        )


def _check_ranges(timestamp_ms: int, ttl_ms: int, particle_id: str) -> None:
    if not 0 <= timestamp_ms < 2**64:
        raise ParticleError(
            f"particle {particle_id}: timestamp {timestamp_ms} does not fit a u64", particle_id=particle_id
        )
    if not 0 <= ttl_ms < 2**32:
        raise ParticleError(f"particle {particle_id}: ttl {ttl_ms} does not fit a u32", particle_id=particle_id)


def _decode_map(message: bytes) -> dict[str, object]:
    _check_size(len(message))
    if not message.startswith(MSGPACK_PREFIX):
        raise ParticleError(
            f"particle message does not start with the MessagePack multicodec 8104: {bytes(message[:4]).hex()}"
        )
    try:
        body = msgpack.unpackb(message[len(MSGPACK_PREFIX) :], raw=False, strict_map_key=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as err:
        raise ParticleError(f"particle message is not valid MessagePack: {err}") from err
    if not isinstance(body, dict):
        raise ParticleError(f"particle message is not a MessagePack map but {type(body).__name__}")
    return body


def _particle_from(body: dict[str, object]) -> Particle:
    missing = [name for name in ("id", "init_peer_id", "timestamp", "ttl", "script", "signature") if name not in body]
    if missing:
        raise ParticleError(f"particle message has no field(s) {', '.join(missing)}", missing=missing)
    particle_id = _field(body, "id", str)
    timestamp = _field(body, "timestamp", int)
    ttl = _field(body, "ttl", int)
    _check_ranges(timestamp, ttl, particle_id)
    init_peer_id = _field(body, "init_peer_id", str)
    if not init_peer_id:
        raise ParticleError(f"particle {particle_id}: empty init_peer_id", particle_id=particle_id)
    return Particle(
        id=particle_id,
        init_peer_id=init_peer_id,
        timestamp_ms=timestamp,
        ttl_ms=ttl,
        script=_field(body, "script", str),
        signature=_bytes(body, "signature"),
        data=_bytes(body, "data"),
    )


def _field(body: dict[str, object], name: str, kind: type[_T]) -> _T:
    value = body[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ParticleError(f"particle field {name!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _bytes(body: dict[str, object], name: str) -> bytes:
    value = body.get(name, b"")
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list) and all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in value):
        return bytes(value)
    raise ParticleError(f"particle field {name!r} must be bytes (MessagePack bin), got {type(value).__name__}")
