"""The particle wire format against js-client 0.9.0's own Particle (de)serialization, run in node."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from fluence_dao.errors import ParticleError
from fluence_dao.peer import KeyPair, Particle
from fluence_dao.peer.wire import decode_particle, encode_particle, frame, unframe
from fluence_dao.util import paths

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parent / "peer_fixtures" / "js_particle.mjs"


def test_js_client_reads_ours_and_we_read_theirs(require) -> None:
    require(shutil.which("node"), "node is not installed")
    pair = KeyPair.generate()
    ours = Particle.create('(call %init_peer_id% ("op" "noop") [])', pair, ttl_ms=9000).with_data(b"\x00\xffdata")
    dist = paths.node_package_file("@fluencelabs/js-client", "dist")
    proc = subprocess.run(
        ["node", str(SCRIPT), str(dist)],
        input=json.dumps({"ours": encode_particle(ours).hex()}).encode(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    reply = json.loads(proc.stdout)
    decoded = reply["decoded"]
    assert decoded["id"] == ours.id and decoded["init_peer_id"] == pair.peer_id
    assert decoded["timestamp"] == ours.timestamp_ms and decoded["ttl"] == 9000
    assert decoded["script"] == ours.script
    assert bytes.fromhex(decoded["signature"]) == ours.signature
    assert bytes.fromhex(decoded["data"]) == b"\x00\xffdata"
    theirs = decode_particle(bytes.fromhex(reply["theirs"]))
    theirs.verify()  # signed by js-client over the same bytes we sign
    assert theirs.data == b"\x01\x02\x03" and theirs.ttl_ms == 7000 and theirs.script == "(null)"


def test_framing_round_trip_and_errors() -> None:
    message = encode_particle(Particle.create("(null)", KeyPair.generate()))
    first, rest = unframe(frame(message) + frame(b"\x81\x04\x80"))
    assert first == message and unframe(rest) == (b"\x81\x04\x80", b"")
    assert frame(b"x" * 300)[:2] == bytes([0xAC, 0x02])  # 300 as an unsigned varint
    with pytest.raises(ParticleError, match="incomplete"):
        unframe(frame(message)[:-1])
    with pytest.raises(ParticleError, match="multicodec"):
        decode_particle(b"\x00\x01")
    with pytest.raises(ParticleError, match="unsupported particle action"):
        import msgpack

        decode_particle(b"\x81\x04" + msgpack.packb({"action": "Other"}))
