"""The particle wire format between Fluence peers (protocol `/fluence/particle/2.0.0`), transport-free.

A message is the multicodec prefix of MessagePack (`81 04`) followed by a MessagePack map
{action: "Particle", id, init_peer_id, timestamp (u64 ms), ttl (u32 ms), script, signature, data}; on a stream
each message is preceded by its unsigned-varint length (one message per stream). `signature` and `data` are
encoded as MessagePack binary (js-client rejects arrays of numbers); arrays of numbers are accepted on decode
(js-client itself sends them, nox accepts both).
"""

from __future__ import annotations

from typing import Any

import msgpack

from fluence_dao.errors import ParticleError
from fluence_dao.peer.particle import Particle

MSGPACK_PREFIX = b"\x81\x04"
MAX_MESSAGE_BYTES = 4 * 2**20  # js-client refuses larger messages


def encode_particle(particle: Particle) -> bytes:
    body = {
        "action": "Particle",
        "id": particle.id,
        "init_peer_id": particle.init_peer_id,
        "timestamp": particle.timestamp_ms,
        "ttl": particle.ttl_ms,
        "script": particle.script,
        "signature": bytes(particle.signature),
        "data": bytes(particle.data),
    }
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return MSGPACK_PREFIX + packed


def decode_particle(message: bytes) -> Particle:
    if not message.startswith(MSGPACK_PREFIX):
        raise ParticleError(f"particle message does not start with the MessagePack multicodec: {message[:4].hex()}")
    try:
        body = msgpack.unpackb(message[len(MSGPACK_PREFIX) :], raw=False, strict_map_key=False)
    except (ValueError, msgpack.ExtraData) as err:
        raise ParticleError(f"particle message is not valid MessagePack: {err}") from err
    if not isinstance(body, dict):
        raise ParticleError("particle message is not a MessagePack map")
    if body.get("action", "Particle") != "Particle":
        raise ParticleError(f"unsupported particle action {body.get('action')!r}")
    try:
        return Particle(
            id=_field(body, "id", str),
            init_peer_id=_field(body, "init_peer_id", str),
            timestamp_ms=_field(body, "timestamp", int),
            ttl_ms=_field(body, "ttl", int),
            script=_field(body, "script", str),
            signature=_bytes(body, "signature"),
            data=_bytes(body, "data"),
        )
    except KeyError as err:
        raise ParticleError(f"particle message has no field {err}") from err


def _field(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ParticleError(f"particle field {name!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _bytes(body: dict[str, Any], name: str) -> bytes:
    value = body.get(name, b"")
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value)
    raise ParticleError(f"particle field {name!r} must be bytes")


def frame(message: bytes) -> bytes:
    """Prefix a message with its unsigned-varint length."""
    if len(message) > MAX_MESSAGE_BYTES:
        raise ParticleError(f"particle message of {len(message)} bytes exceeds {MAX_MESSAGE_BYTES}")
    length = len(message)
    out = bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out) + message


def unframe(buffer: bytes) -> tuple[bytes, bytes]:
    """(first message, rest); ParticleError if the buffer holds no complete message."""
    length = 0
    for index in range(min(len(buffer), 10)):
        byte = buffer[index]
        length |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            start = index + 1
            if length > MAX_MESSAGE_BYTES:
                raise ParticleError(f"particle message of {length} bytes exceeds {MAX_MESSAGE_BYTES}")
            if len(buffer) < start + length:
                raise ParticleError(f"incomplete particle message: {len(buffer) - start} of {length} bytes")
            return buffer[start : start + length], buffer[start + length :]
    raise ParticleError("incomplete varint length prefix")
