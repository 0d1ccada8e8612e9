"""The `/fluence/particle/2.0.0` message format: framing, strict decoding, the nox/js-client signature vector."""

from __future__ import annotations

import base64
from dataclasses import replace

import msgpack
import pytest
from particle_vector import PEER_ID, SIGNATURE_B64, vector_particle

from fluence_dao.errors import ParticleError
from fluence_dao.peer.particle import Particle
from fluence_dao.peer.wire import (
    MAX_MESSAGE_BYTES,
    FrameReader,
    decode_message,
    decode_particle,
    encode_control,
    encode_particle,
    encode_varint,
    frame,
    unframe,
)


def _vector() -> Particle:
    return vector_particle(data=b"\x00\x01\xff")


def _body(message: bytes) -> dict:
    return msgpack.unpackb(message[2:], raw=False)


def test_signature_vector_survives_the_wire() -> None:
    particle = _vector()
    assert particle.init_peer_id == PEER_ID
    assert particle.signature == base64.b64decode(SIGNATURE_B64)
    message = encode_particle(particle)
    assert message[:2] == bytes([0x81, 0x04])  # multicodec 0x0201 as an unsigned varint
    body = _body(message)
    assert body == {
        "action": "Particle",
        "id": "2883f959-e9e7-4843-8c37-205d393ca372",
        "init_peer_id": PEER_ID,
        "timestamp": 1696934545662,
        "ttl": 7000,
        "script": "abc",
        "signature": base64.b64decode(SIGNATURE_B64),
        "data": b"\x00\x01\xff",
    }
    # signature and data are MessagePack bin (0xc4 + length), not arrays of numbers
    packed_signature = msgpack.packb(base64.b64decode(SIGNATURE_B64), use_bin_type=True)
    assert packed_signature[0] == 0xC4 and packed_signature in message
    decoded = decode_particle(message)
    assert decoded == particle and decoded.data == b"\x00\x01\xff"
    decoded.verify()


def test_arrays_of_numbers_are_accepted_for_bytes() -> None:
    particle = _vector()
    body = _body(encode_particle(particle))
    body["signature"] = list(body["signature"])
    body["data"] = list(body["data"])
    decoded = decode_particle(b"\x81\x04" + msgpack.packb(body, use_bin_type=True))
    assert decoded.signature == particle.signature and decoded.data == particle.data


def test_a_tampered_particle_decodes_but_fails_verification() -> None:
    body = _body(encode_particle(_vector()))
    body["script"] = "abd"
    decoded = decode_particle(b"\x81\x04" + msgpack.packb(body, use_bin_type=True))
    with pytest.raises(ParticleError, match="bad signature"):
        decoded.verify()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"action": "Other"}, "unsupported particle action 'Other'"),
        ({"timestamp": "1"}, "'timestamp' must be int, got str"),
        ({"ttl": 2**32}, "ttl 4294967296 does not fit a u32"),
        ({"timestamp": -1}, "timestamp -1 does not fit a u64"),
        ({"ttl": True}, "'ttl' must be int, got bool"),
        ({"signature": [1, 256]}, "'signature' must be bytes"),
        ({"data": "text"}, "'data' must be bytes"),
        ({"init_peer_id": ""}, "empty init_peer_id"),
    ],
)
def test_strict_fields(change: dict, error: str) -> None:
    body = {**_body(encode_particle(_vector())), **change}
    with pytest.raises(ParticleError, match=error):
        decode_particle(b"\x81\x04" + msgpack.packb(body, use_bin_type=True))


def test_missing_fields_and_bad_payloads() -> None:
    body = _body(encode_particle(_vector()))
    del body["script"], body["ttl"]
    with pytest.raises(ParticleError, match="no field\\(s\\) ttl, script"):
        decode_particle(b"\x81\x04" + msgpack.packb(body, use_bin_type=True))
    del body["action"]
    with pytest.raises(ParticleError, match="unsupported particle action None"):
        decode_particle(b"\x81\x04" + msgpack.packb(body, use_bin_type=True))
    with pytest.raises(ParticleError, match="multicodec 8104: 0001"):
        decode_particle(b"\x00\x01")
    with pytest.raises(ParticleError, match="not a MessagePack map but list"):
        decode_particle(b"\x81\x04" + msgpack.packb([1, 2]))
    with pytest.raises(ParticleError, match="not valid MessagePack"):
        decode_particle(b"\x81\x04\xc1")


def test_size_limit_is_4_mib() -> None:
    big = replace(_vector(), data=b"x" * MAX_MESSAGE_BYTES)
    with pytest.raises(ParticleError, match="exceeds the limit of 4194304 bytes"):
        encode_particle(big)
    with pytest.raises(ParticleError, match="exceeds the limit"):
        frame(b"x" * (MAX_MESSAGE_BYTES + 1))
    with pytest.raises(ParticleError, match="exceeds the limit"):
        FrameReader().feed(encode_varint(MAX_MESSAGE_BYTES + 1))  # refused from the prefix alone
    just_fits = b"x" * MAX_MESSAGE_BYTES
    assert unframe(frame(just_fits)) == (just_fits, b"")


def test_varint_framing() -> None:
    assert encode_varint(0) == b"\x00" and encode_varint(127) == b"\x7f"
    assert encode_varint(300) == bytes([0xAC, 0x02]) and encode_varint(0x0201) == b"\x81\x04"
    message = encode_particle(_vector())
    first, rest = unframe(frame(message) + frame(b"\x81\x04\x80"))
    assert first == message and unframe(rest) == (b"\x81\x04\x80", b"")
    with pytest.raises(ParticleError, match="incomplete particle message"):
        unframe(frame(message)[:-1])
    with pytest.raises(ParticleError, match="incomplete varint"):
        unframe(b"\x80")
    with pytest.raises(ParticleError, match="longer than 10 bytes"):
        unframe(b"\xff" * 11)


def test_frame_reader_reassembles_a_byte_stream() -> None:
    messages = [encode_particle(_vector()), encode_control("Ping"), b"\x81\x04" + b"y" * 200]
    stream = b"".join(frame(m) for m in messages)
    reader = FrameReader()
    got: list[bytes] = []
    for index in range(len(stream)):  # one byte at a time
        got += reader.feed(stream[index : index + 1])
    assert got == messages and reader.pending == 0
    assert reader.feed(stream[:5]) == [] and reader.pending == 5


def test_control_messages() -> None:
    ping = decode_message(encode_control("Ping"))
    assert ping == {"action": "Ping"}
    pong = decode_message(encode_control("Pong", peer_id=PEER_ID, particles=3))
    assert pong == {"action": "Pong", "peer_id": PEER_ID, "particles": 3}
    assert decode_message(encode_particle(_vector())) == _vector()
    with pytest.raises(ParticleError, match="unknown control action 'Shutdown'"):
        encode_control("Shutdown")
    with pytest.raises(ParticleError, match="unsupported particle action 'Ping'"):
        decode_particle(encode_control("Ping"))  # the particle decoder never accepts control messages
