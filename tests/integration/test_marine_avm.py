"""The Marine host on the real AquaVM (node_modules/@fluencelabs/avm/dist/avm.wasm)."""

from __future__ import annotations

import json
import os
import time

import base58
import msgpack
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fluence_dao.errors import AbiError, FunctionNotFoundError
from fluence_dao.marine import MarineModule, ModuleConfig
from fluence_dao.util import paths

pytestmark = pytest.mark.integration

PREFIX = b"\x81\x04"  # multicodec prefix of AquaVM's MessagePack call requests/results
LIMIT = 4294967296
SEED = bytes(range(32))


def _peer_id(seed: bytes) -> str:
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    return base58.b58encode(bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]) + public).decode()


@pytest.fixture(scope="module")
def avm() -> MarineModule:
    if not (paths.node_modules() / "@fluencelabs/avm/dist/avm.wasm").is_file():
        if os.environ.get("CI"):
            pytest.fail("avm.wasm missing in CI: run `npm ci`")
        pytest.skip("avm.wasm missing: run `npm ci`")
    return MarineModule.load(paths.avm_wasm_path(), ModuleConfig(name="avm"))


def _run_parameters(peer: str) -> dict[str, object]:
    return {
        "init_peer_id": peer,
        "current_peer_id": peer,
        "timestamp": int(time.time() * 1000),
        "ttl": 10_000,
        "key_format": 0,
        "secret_key_bytes": SEED,
        "particle_id": "particle-1",
        "air_size_limit": LIMIT,
        "particle_size_limit": LIMIT,
        "call_result_size_limit": LIMIT,
        "hard_limit_enabled": False,
    }


def _call_requests(outcome: dict[str, object]) -> dict[int, dict[str, object]]:
    raw = outcome["call_requests"]
    assert isinstance(raw, bytes) and raw.startswith(PREFIX)
    return msgpack.unpackb(raw[len(PREFIX) :], strict_map_key=False)


def test_interface_describes_invoke(avm: MarineModule) -> None:
    sig = avm.signature("invoke")
    assert [a.name for a in sig.arguments] == ["air", "prev_data", "data", "params", "call_results"]
    assert sig.output is not None and sig.output.record == "InterpreterOutcome"
    assert avm.interface.sdk_version == "0.14.0"
    assert avm.interface.records["RunParameters"].size == 70
    assert avm.interface.records["InterpreterOutcome"].size == 43


def test_ast_returns_the_parsed_script(avm: MarineModule) -> None:
    ast = json.loads(avm.call("ast", ['(call %init_peer_id% ("svc" "fn") ["a"] x)']))
    call = ast["Call"]
    assert call["triplet"]["service_id"] == {"Literal": "svc"}
    assert call["triplet"]["function_name"] == {"Literal": "fn"}
    assert call["args"] == [{"Literal": "a"}]
    assert json.loads(avm.call("ast", {"script": "(null)"})) == {"Null": None}


def test_invoke_emits_a_call_request_and_completes_with_its_result(avm: MarineModule) -> None:
    peer = _peer_id(SEED)
    params = _run_parameters(peer)
    air = '(seq (call %init_peer_id% ("svc" "fn") ["a"] x) (call %init_peer_id% ("svc" "echo") [x]))'

    first = avm.call("invoke", [air, b"", b"", params, PREFIX + b"\x80"])
    assert first["ret_code"] == 0, first["error_message"]
    assert first["next_peer_pks"] == []
    requests = _call_requests(first)
    assert len(requests) == 1
    ((call_id, request),) = requests.items()
    assert (request["service_id"], request["function_name"]) == ("svc", "fn")
    assert msgpack.unpackb(request["arguments"]) == ["a"]
    tetraplets = msgpack.unpackb(request["tetraplets"])
    assert tetraplets[0][0]["peer_pk"] == peer

    results = PREFIX + msgpack.packb({str(call_id): {"ret_code": 0, "result": json.dumps("hello")}})
    second = avm.call("invoke", [air, first["data"], b"", params, results])
    assert second["ret_code"] == 0, second["error_message"]
    ((echo_id, echo),) = _call_requests(second).items()
    assert echo["function_name"] == "echo"
    assert msgpack.unpackb(echo["arguments"]) == ["hello"]  # the first call's result reached the script

    results = PREFIX + msgpack.packb({str(echo_id): {"ret_code": 0, "result": json.dumps("done")}})
    third = avm.call("invoke", [air, second["data"], b"", params, results])
    assert third["ret_code"] == 0, third["error_message"]
    assert _call_requests(third) == {}
    assert "hello" in avm.call("to_human_readable_data", [third["data"]])


def test_invoke_reports_an_air_error_in_its_outcome(avm: MarineModule) -> None:
    outcome = avm.call("invoke", ["(seq (null)", b"", b"", _run_parameters(_peer_id(SEED)), PREFIX + b"\x80"])
    assert outcome["ret_code"] != 0
    assert "air" in outcome["error_message"].lower() or "parse" in outcome["error_message"].lower()


def test_memory_stays_bounded_over_many_calls(avm: MarineModule) -> None:
    params = _run_parameters(_peer_id(SEED))
    air = '(call %init_peer_id% ("svc" "fn") ["a"] x)'
    for _ in range(20):
        avm.call("invoke", [air, b"", b"", params, PREFIX + b"\x80"])
    before = avm.memory_bytes()
    for _ in range(200):
        avm.call("invoke", [air, b"", b"", params, PREFIX + b"\x80"])
    assert avm.memory_bytes() == before  # release_objects frees each call's results


def test_bad_arguments_name_the_field_and_leave_the_module_usable(avm: MarineModule) -> None:
    params = _run_parameters(_peer_id(SEED))
    params["ttl"] = 2**40
    with pytest.raises(AbiError, match="ttl"):
        avm.call("invoke", ["(null)", b"", b"", params, PREFIX + b"\x80"])
    del params["ttl"]
    with pytest.raises(AbiError, match="missing field 'ttl'"):
        avm.call("invoke", ["(null)", b"", b"", params, PREFIX + b"\x80"])
    with pytest.raises(FunctionNotFoundError, match="invoke"):
        avm.call("invok", [])
    assert json.loads(avm.call("ast", ["(null)"])) == {"Null": None}
