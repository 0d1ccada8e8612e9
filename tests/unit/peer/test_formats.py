"""Wire formats: AquaVM call requests/results (as avmHelpers.js), blueprint ids (nox's vector), module configs."""

from __future__ import annotations

import json

import msgpack
import pytest

from fluence_dao.peer.avm import CallResult, decode_call_requests, encode_call_results
from fluence_dao.peer.builtins import BuiltinError
from fluence_dao.peer.services import (
    content_id,
    decode_blueprint,
    encode_blueprint,
    normalize_module_config,
    parse_size,
)


def test_call_results_are_prefixed_msgpack_with_json_text() -> None:
    raw = encode_call_results({3: CallResult(0, {"a": [1, "x"]}), 5: CallResult(1, "boom")})
    assert raw[:2] == b"\x81\x04"
    decoded = msgpack.unpackb(raw[2:])
    assert decoded == {"3": {"ret_code": 0, "result": '{"a":[1,"x"]}'}, "5": {"ret_code": 1, "result": '"boom"'}}
    assert encode_call_results({}) == b"\x81\x04\x80"


def test_call_requests_decode_nested_msgpack() -> None:
    request = {
        "service_id": "op",
        "function_name": "identity",
        "arguments": msgpack.packb(["a", 1]),
        "tetraplets": msgpack.packb([[{"peer_pk": "p", "service_id": "s", "function_name": "f", "lens": ""}]]),
    }
    raw = b"\x81\x04" + msgpack.packb({7: request})
    decoded = decode_call_requests(raw)
    assert decoded[7].arguments == ["a", 1]
    assert decoded[7].tetraplets[0][0]["peer_pk"] == "p"
    assert decode_call_requests(b"") == {}


def test_blueprint_id_matches_nox_vector() -> None:
    deps = [
        "bafybeiey4i2vtj7uu7tlvdoc2o52uuuwxa4ahcx5g4lpqzk4qtd5klniuq",
        "bafybeibuvzascfzi5ikyzhjxdkridgytg4z26ujtnx7xrejq7gxq54ssdm",
    ]
    encoded = encode_blueprint("trust-graph", deps)
    assert content_id(encoded.encode()) == "bafkreifdehdwcppttfsqaju4kodgn5wgbefrarbzc72k4sore2bwpeq2fa"
    assert decode_blueprint(encoded) == ("trust-graph", deps)
    assert decode_blueprint({"name": "x", "dependencies": ["hash:" + deps[0]]}) == ("x", [deps[0]])
    with pytest.raises(BuiltinError, match="Expected module reference"):
        decode_blueprint({"name": "x", "dependencies": ["not-a-cid"]})


def test_module_config_shapes() -> None:
    aqua_style = {"name": "m", "wasi": [{"envs": [[["A", "1"]]], "mapped_dirs": [], "mounted_binaries": []}]}
    normalized = normalize_module_config(aqua_style)
    assert normalized["wasi"]["envs"] == {"A": "1"} and normalized["mounted_binaries"] is None
    nox_style = {"name": "m", "wasi": {"envs": {"A": "1"}}, "mounted_binaries": {"curl": "/usr/bin/curl"}}
    assert normalize_module_config(nox_style)["mounted_binaries"] == {"curl": "/usr/bin/curl"}
    assert json.dumps(normalized)  # JSON-friendly
    assert parse_size("64 MiB") == 64 * 2**20 and parse_size("1GB") == 10**9 and parse_size("100") == 100
    with pytest.raises(BuiltinError, match="invalid memory size"):
        parse_size("lots")
