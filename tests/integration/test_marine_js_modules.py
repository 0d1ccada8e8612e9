"""Our signer and ens modules (built by `fluence-dao build`) in Fluence's own runtime, npm @fluencelabs/marine-js
driven from node (tests/js/marine_js_modules.mjs): they load, and the same calls give the same results as in our
wasmtime host; the signer is fed the same key through WASI random_get in both runtimes and its address is checked
against eth-account. A module without its `interface-types` section is refused by marine-js and still runs in our
host, which reads the JSON `__m_generated_section__*` sections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from _helpers import PreparedRandom, call_params
from fluence_dao.build import build_module
from fluence_dao.marine import CallParameters, MarineModule, ModuleConfig
from fluence_dao.util.wasm_sections import iter_custom_sections

pytestmark = pytest.mark.integration

CREATOR = "12D3KooWCreatorPeerAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
HOST = "12D3KooWHostPeerBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
RESOLVER = "0x231b0Ee14048e9dCcD1d247744d114a4EB5E8E63"


@pytest.fixture(scope="module")
def wasm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("mjs-modules")
    return {name: build_module(name, out).path for name in ("signer", "ens")}


def _params(init_peer_id: str) -> CallParameters:
    return call_params(init_peer_id, CREATOR, HOST)


def _js_params(init_peer_id: str) -> dict[str, Any]:
    return {
        "particle": {"id": "particle-1", "init_peer_id": init_peer_id, "timestamp": 1, "ttl": 10_000,
                     "script": "", "signature": [], "token": ""},
        "service_id": "svc", "service_creator_peer_id": CREATOR, "host_id": HOST, "worker_id": HOST, "tetraplets": [],
    }  # fmt: skip


def test_signer_gives_the_same_results_in_marine_js_for_the_same_key(marine_js: Any, wasm: dict[str, Path]) -> None:
    key = keccak(b"fluence-dao marine-js cross-runtime key")
    tx = json.dumps({"to": RESOLVER, "value": "0x1", "nonce": "0x7", "gas": "0x5208",
                     "maxFeePerGas": "0x3b9aca00", "maxPriorityFeePerGas": "0x1", "data": "0xabcdef"})  # fmt: skip
    calls: list[tuple[str, list[Any], str]] = [
        ("address", [], CREATOR),  # before initiate: an error result
        ("initiate", [], CREATOR),
        ("address", [], CREATOR),
        ("sign_message", ["hello from two runtimes"], CREATOR),
        ("sign_tx", [tx, 31337], CREATOR),
        ("sign_message", ["not the creator"], "12D3KooWStrangerPeerDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD"),
    ]
    draws = PreparedRandom(key)
    ours = MarineModule.load(wasm["signer"].read_bytes(), ModuleConfig(name="signer", random_source=draws))
    expected = [ours.call(fn, args, call_parameters=_params(who)) for fn, args, who in calls]
    got = marine_js(
        [("signer", wasm["signer"])], [[fn, args, _js_params(who)] for fn, args, who in calls], random=[key]
    )
    assert got["loaded"], got["load_error"]
    assert got["draws"][:1] == draws.requests[:1] == [32]
    assert got["results"] == [{"ok": value} for value in expected]

    # what both runtimes say is right: the key's address, and a signature that recovers to it
    address = Account.from_key(key).address
    assert expected[1]["value"] == expected[2]["value"] == address
    assert expected[0]["success"] is False and expected[5]["success"] is False
    signature = expected[3]["value"]
    recovered = Account.recover_message(encode_defunct(text="hello from two runtimes"), signature=signature)
    assert recovered == address
    sent = Account.recover_transaction(expected[4]["value"])
    assert sent == address


ENS_CALLS: list[tuple[str, list[Any]]] = [
    ("namehash", ["fluence-dao.eth"]),
    ("namehash", [""]),
    ("namehash", ["Bad..name"]),
    ("labelhash", ["signer"]),
    ("text_call_data", ["0x" + "11" * 32, "notice"]),
    ("set_text_call_data", ["0x" + "22" * 32, "air.interval", "bafy-ünïcode"]),
    ("addr_call_data", ["0x" + "33" * 32]),
    ("resolver_call_data", ["0xnothex"]),
    ("decode_text_result", ["0x" + "00" * 31 + "20" + "00" * 31 + "02" + "6869" + "00" * 30]),
    ("prepare_set_text", ["signer.fluence-dao.eth", "notice", "1700000000", RESOLVER, "0x5", "0x186a0",
                          "0x3b9aca00", "0x59682f00"]),
    ("prepare_set_text", ["signer.fluence-dao.eth", "notice", "x", "0x12", "0x5", "0x1", "0x1", "0x1"]),
]  # fmt: skip


def test_ens_gives_the_same_results_in_marine_js(marine_js: Any, wasm: dict[str, Path]) -> None:
    ours = MarineModule.load(wasm["ens"].read_bytes(), ModuleConfig(name="ens"))
    expected = [ours.call(fn, args) for fn, args in ENS_CALLS]
    got = marine_js([("ens", wasm["ens"])], [[fn, args] for fn, args in ENS_CALLS])
    assert got["loaded"], got["load_error"]
    assert got["results"] == [{"ok": value} for value in expected]
    # the calls exercise both outcomes, and the namehash is the known EIP-137 one for the empty name
    assert {r["success"] for r in expected} == {True, False}
    assert expected[1]["value"] == "0x" + "00" * 32
    assert expected[0]["value"] == "0x" + keccak(keccak(b"\0" * 32 + keccak(b"eth")) + keccak(b"fluence-dao")).hex()


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    """(unsigned LEB128 at `pos`, the position after it): read here, independently of the code under test."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _without_section(data: bytes, name: str) -> bytes:
    """The module with every custom section called `name` removed (all other sections byte for byte)."""
    out, pos = bytearray(data[:8]), 8
    while pos < len(data):
        start = pos
        section_id = data[pos]
        size, pos = _uleb(data, pos + 1)
        end = pos + size
        keep = True
        if section_id == 0:
            name_len, p = _uleb(data, pos)
            keep = data[p : p + name_len].decode() != name
        if keep:
            out += data[start:end]
        pos = end
    return bytes(out)


def test_a_module_without_interface_types_is_refused_by_marine_js_and_runs_in_our_host(
    marine_js: Any, wasm: dict[str, Path], tmp_path: Path
) -> None:
    original = wasm["ens"].read_bytes()
    stripped = _without_section(original, "interface-types")
    names = [n for n, _ in iter_custom_sections(stripped)]
    assert "interface-types" not in names and "__fluence_sdk_version" in names
    assert len(stripped) < len(original)
    assert [n for n in (n for n, _ in iter_custom_sections(original)) if n != "interface-types"] == names
    path = tmp_path / "ens-without-it.wasm"
    path.write_bytes(stripped)

    got = marine_js([("ens", path)], [["namehash", ["fluence-dao.eth"]]])
    assert got["loaded"] is False
    assert "IT section" in got["load_error"] or "interface-types" in got["load_error"], got["load_error"]

    full = MarineModule.load(original, ModuleConfig(name="ens")).call("namehash", ["fluence-dao.eth"])
    ours = MarineModule.load(stripped, ModuleConfig(name="ens")).call("namehash", ["fluence-dao.eth"])
    assert ours == full and ours["success"] is True
