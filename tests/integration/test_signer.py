"""The signer module (wasm/signer), built from source and run in the wasmtime host.

Signatures are checked against independent implementations: eth-account (byte-identical raw transactions
for a key fed through the host's `random_source`), eth-keys and coincurve (public-key recovery for a key
nobody knows), and the raw transactions are decoded with pyrlp field by field.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import coincurve
import pytest
import rlp
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys import keys
from eth_utils import keccak, to_checksum_address

from _helpers import PreparedRandom as KnownRandom
from _helpers import call_params as shared_call_params
from _helpers import module_failed as failed
from _helpers import module_ok as ok
from fluence_dao.marine import CallParameters, MarineModule, ModuleConfig

pytestmark = pytest.mark.integration

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
CREATOR = "12D3KooWCreatorPeerAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
HOST = "12D3KooWHostPeerBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
FRIEND = "12D3KooWFriendPeerCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
STRANGER = "12D3KooWStrangerPeerDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD"
CHAIN_IDS = [1, 5, 137, 31337, 11155111, 2**32 + 7]


def call_params(init_peer_id: str, creator: str = CREATOR, host: str = HOST) -> CallParameters:
    return shared_call_params(init_peer_id, creator, host, service_id="signer-service")


AS_CREATOR = call_params(CREATOR)


@pytest.fixture(scope="module")
def signer_wasm(built_wasm) -> bytes:
    return built_wasm("signer")


def load(wasm: bytes, random_source: Callable[[int], bytes] | None = None, **cfg: Any) -> MarineModule:
    return MarineModule.load(wasm, ModuleConfig(name="signer", random_source=random_source, **cfg))


@pytest.fixture(scope="module")
def known_key() -> bytes:
    return keccak(b"fluence-dao signer test key")


@pytest.fixture
def known_signer(signer_wasm: bytes, known_key: bytes) -> MarineModule:
    module = load(signer_wasm, KnownRandom(known_key))
    ok(module.call("initiate", [], call_parameters=AS_CREATOR))
    return module


@pytest.fixture(scope="module")
def unknown_signer(signer_wasm: bytes) -> Iterator[tuple[MarineModule, str]]:
    module = load(signer_wasm)  # OS randomness: nobody knows this key
    address = ok(module.call("initiate", [], call_parameters=AS_CREATOR))
    yield module, address


# ---------------------------------------------------------------- random transactions


def _number(rng: random.Random, v: int) -> int | str:
    """The same quantity as a JSON number, a decimal string or a 0x-hex string (either case)."""
    form = rng.randrange(4)
    if form == 0:
        return v
    if form == 1:
        return str(v)
    if form == 2:
        return hex(v)
    return "0x" + format(v, "X")


def _address(rng: random.Random) -> str:
    raw = "0x" + rng.randbytes(20).hex()
    return to_checksum_address(raw) if rng.random() < 0.5 else raw


def random_tx(rng: random.Random, tx_type: int) -> dict[str, Any]:
    """A transaction as plain ints/bytes (the ground truth)."""
    tx: dict[str, Any] = {
        "nonce": rng.choice([0, 1, rng.randrange(2**16), rng.randrange(2**64 - 1)]),
        "gas": rng.choice([21000, rng.randrange(21000, 30_000_000), rng.randrange(2**64)]),
        "to": None if rng.random() < 0.15 else _address(rng),
        "value": rng.choice([0, 1, rng.randrange(10**18), rng.randrange(2**256)]),
        "data": rng.randbytes(rng.choice([0, 1, 4, 36, 68, 200, 1000])),
    }
    if tx_type == 0:
        tx["gasPrice"] = rng.choice([0, 1, rng.randrange(10**11), rng.randrange(2**256)])
    else:
        max_fee = rng.choice([1, rng.randrange(10**11), rng.randrange(2**256)])
        tx["maxFeePerGas"] = max_fee
        tx["maxPriorityFeePerGas"] = rng.choice([0, max_fee, rng.randrange(max_fee + 1)])
        tx["accessList"] = [
            {
                "address": _address(rng),
                "storageKeys": ["0x" + rng.randbytes(32).hex() for _ in range(rng.randrange(3))],
            }
            for _ in range(rng.choice([0, 0, 1, 3]))
        ]
    return tx


def to_request(rng: random.Random, tx: dict[str, Any], tx_type: int, chain_id: int) -> str:
    """The JSON request for sign_tx, with numbers in mixed notations and optional fields sometimes left out."""
    req: dict[str, Any] = {}
    for key, v in tx.items():
        if key == "to":
            if v is not None or rng.random() < 0.5:
                req["to"] = v  # None -> JSON null; otherwise omitted
        elif key == "data":
            if v or rng.random() < 0.5:
                req["data"] = "0x" + v.hex()
        elif key == "accessList":
            if v or rng.random() < 0.5:
                req["accessList"] = v
        elif key == "value" and v == 0 and rng.random() < 0.5:
            continue
        else:
            req[key] = _number(rng, v)
    if rng.random() < (0.5 if tx_type == 2 else 0.3):  # without "type", maxFeePerGas implies type 2
        req["type"] = _number(rng, tx_type)
    if rng.random() < 0.3:
        req["chainId"] = _number(rng, chain_id)
    items = list(req.items())
    rng.shuffle(items)
    return json.dumps(dict(items))


def _int(b: bytes) -> int:
    return int.from_bytes(b, "big")


def decode_and_check(raw: bytes, tx: dict[str, Any], tx_type: int, chain_id: int) -> tuple[bytes, int, int, int]:
    """Decodes the raw tx with pyrlp, checks every field, returns (signing hash, recid, r, s)."""
    to = bytes.fromhex(tx["to"][2:]) if tx["to"] else b""
    if tx_type == 0:
        fields = rlp.decode(raw)
        assert len(fields) == 9
        nonce, gas_price, gas, to_out, value, data, v, r, s = fields
        assert (_int(nonce), _int(gas_price), _int(gas)) == (tx["nonce"], tx["gasPrice"], tx["gas"])
        recid = _int(v) - 35 - 2 * chain_id
        assert recid in (0, 1), f"v={_int(v)} is not EIP-155 for chain {chain_id}"
        unsigned = rlp.encode([nonce, gas_price, gas, to_out, value, data, chain_id, 0, 0])
    else:
        assert raw[0] == 2
        fields = rlp.decode(raw[1:])
        assert len(fields) == 12
        cid, nonce, prio, max_fee, gas, to_out, value, data, access_list, y, r, s = fields
        assert _int(cid) == chain_id
        assert (_int(nonce), _int(prio), _int(max_fee), _int(gas)) == (
            tx["nonce"],
            tx["maxPriorityFeePerGas"],
            tx["maxFeePerGas"],
            tx["gas"],
        )
        assert [[a.hex(), [k.hex() for k in ks]] for a, ks in access_list] == [
            [e["address"][2:].lower(), [k[2:] for k in e["storageKeys"]]] for e in tx["accessList"]
        ]
        recid = _int(y)
        assert y in (b"", b"\x01")
        unsigned = b"\x02" + rlp.encode(fields[:9])
    assert to_out == to
    assert _int(value) == tx["value"]
    assert data == tx["data"]
    # Canonical integers: no leading zero bytes.
    for item in (r, s):
        assert item[:1] != b"\x00"
    r_int, s_int = _int(r), _int(s)
    assert 0 < r_int < SECP256K1_N and 0 < s_int <= SECP256K1_N // 2, "s must be low (EIP-2)"
    return keccak(unsigned), recid, r_int, s_int


def test_500_random_transactions_recover_to_the_signer_and_decode_to_their_fields(
    unknown_signer: tuple[MarineModule, str],
) -> None:
    module, address = unknown_signer
    assert ok(module.call("address", [])) == address
    rng = random.Random(20261125)
    for i in range(500):
        tx_type = 0 if i % 2 else 2
        chain_id = CHAIN_IDS[i % len(CHAIN_IDS)]
        tx = random_tx(rng, tx_type)
        request = to_request(rng, tx, tx_type, chain_id)
        raw_hex = ok(module.call("sign_tx", [request, chain_id], call_parameters=AS_CREATOR))
        assert raw_hex.startswith("0x") and raw_hex == raw_hex.lower()
        raw = bytes.fromhex(raw_hex[2:])

        assert Account.recover_transaction(raw) == address, request
        signing_hash, recid, r, s = decode_and_check(raw, tx, tx_type, chain_id)
        # Independent recovery with eth-keys and coincurve (libsecp256k1) from the decoded signature.
        by_eth_keys = keys.Signature(vrs=(recid, r, s)).recover_public_key_from_msg_hash(signing_hash)
        assert by_eth_keys.to_checksum_address() == address
        sig65 = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([recid])
        pub = coincurve.PublicKey.from_signature_and_message(sig65, signing_hash, hasher=None)
        assert to_checksum_address(keccak(pub.format(compressed=False)[1:])[-20:]) == address


def _eth_account_dict(tx: dict[str, Any], tx_type: int, chain_id: int) -> dict[str, Any]:
    d = {k: v for k, v in tx.items() if k != "to"}
    d["data"] = "0x" + tx["data"].hex()
    d["chainId"] = chain_id
    if tx["to"] is not None:
        d["to"] = to_checksum_address(tx["to"])
    if tx_type == 2:
        d["type"] = 2
        d["accessList"] = [
            {"address": to_checksum_address(e["address"]), "storageKeys": e["storageKeys"]} for e in tx["accessList"]
        ]
    return d


def test_known_key_gives_the_address_and_byte_identical_signatures_of_eth_account(
    signer_wasm: bytes, known_key: bytes
) -> None:
    feeder = KnownRandom(known_key)
    module = load(signer_wasm, feeder)
    expected = Account.from_key(known_key).address
    assert ok(module.call("initiate", [], call_parameters=AS_CREATOR)) == expected
    assert feeder.requests == [32]
    assert ok(module.call("initiate", [], call_parameters=AS_CREATOR)) == expected, "initiate must keep the key"
    assert ok(module.call("address", [])) == expected
    assert feeder.requests == [32], "no new key may be drawn after the first initiate"

    rng = random.Random(7)
    for i in range(120):
        tx_type = 0 if i % 2 else 2
        chain_id = CHAIN_IDS[i % len(CHAIN_IDS)]
        tx = random_tx(rng, tx_type)
        raw_hex = ok(
            module.call("sign_tx", [to_request(rng, tx, tx_type, chain_id), chain_id], call_parameters=AS_CREATOR)
        )
        reference = Account.sign_transaction(_eth_account_dict(tx, tx_type, chain_id), known_key).raw_transaction
        assert raw_hex == "0x" + reference.hex()


def test_invalid_random_draws_are_rejected_and_drawn_again(signer_wasm: bytes, known_key: bytes) -> None:
    n = SECP256K1_N.to_bytes(32, "big")
    feeder = KnownRandom(bytes(32), n, b"\xff" * 32, known_key)
    module = load(signer_wasm, feeder)
    assert ok(module.call("initiate", [], call_parameters=AS_CREATOR)) == Account.from_key(known_key).address
    assert feeder.requests == [32, 32, 32, 32]


def test_address_before_initiate_is_a_clear_error(signer_wasm: bytes) -> None:
    module = load(signer_wasm)
    assert "initiate" in failed(module.call("address", []))
    assert "initiate" in failed(module.call("sign_tx", ['{"nonce": 0}', 1], call_parameters=AS_CREATOR))


def test_sign_message_is_personal_sign(
    known_signer: MarineModule, known_key: bytes, unknown_signer: tuple[MarineModule, str]
) -> None:
    for text in ["hello", "", "ünïcødé ✓ 🚀", "0xdeadbeef", "x" * 5000]:
        sig_hex = ok(known_signer.call("sign_message", [text], call_parameters=AS_CREATOR))
        expected = Account.sign_message(encode_defunct(text=text), known_key).signature
        assert sig_hex == "0x" + expected.hex()
        assert int(sig_hex[-2:], 16) in (27, 28)

        module, address = unknown_signer
        sig_hex = ok(module.call("sign_message", [text], call_parameters=AS_CREATOR))
        assert len(sig_hex) == 2 + 130
        assert Account.recover_message(encode_defunct(text=text), signature=bytes.fromhex(sig_hex[2:])) == address


# ---------------------------------------------------------------- authorisation


def test_unauthorised_peers_are_refused_by_name_and_authorize_revoke_work(known_signer: MarineModule) -> None:
    tx = json.dumps({"nonce": 0, "gasPrice": 1, "gas": 21000, "to": None})
    as_friend, as_stranger, as_host = call_params(FRIEND), call_params(STRANGER), call_params(HOST)

    for fn, args in [("sign_tx", [tx, 1]), ("sign_message", ["hi"]), ("initiate", [])]:
        error = failed(known_signer.call(fn, args, call_parameters=as_friend))
        assert FRIEND in error and "not authorised" in error

    # The host peer itself (its scheduled scripts) counts as the peer.
    ok(known_signer.call("sign_tx", [tx, 1], call_parameters=as_host))

    # Only the creator manages the list; others are refused by name.
    error = failed(known_signer.call("authorize", [STRANGER], call_parameters=as_stranger))
    assert STRANGER in error and "creator" in error
    failed(known_signer.call("authorize", [FRIEND], call_parameters=as_host))

    assert ok(known_signer.call("authorize", [FRIEND], call_parameters=AS_CREATOR)) is True
    assert ok(known_signer.call("authorize", [FRIEND], call_parameters=AS_CREATOR)) is False  # already there
    ok(known_signer.call("sign_tx", [tx, 1], call_parameters=as_friend))
    ok(known_signer.call("sign_message", ["hi"], call_parameters=as_friend))
    assert STRANGER in failed(known_signer.call("sign_tx", [tx, 1], call_parameters=as_stranger))
    # An authorised peer may not authorise others or revoke.
    failed(known_signer.call("authorize", [STRANGER], call_parameters=as_friend))
    failed(known_signer.call("revoke", [FRIEND], call_parameters=as_friend))

    assert ok(known_signer.call("revoke", [FRIEND], call_parameters=AS_CREATOR)) is True
    assert ok(known_signer.call("revoke", [FRIEND], call_parameters=AS_CREATOR)) is False
    assert FRIEND in failed(known_signer.call("sign_tx", [tx, 1], call_parameters=as_friend))
    assert "cannot be revoked" in failed(known_signer.call("revoke", [CREATOR], call_parameters=AS_CREATOR))
    assert "base58" in failed(known_signer.call("authorize", ["not a peer id"], call_parameters=AS_CREATOR))


def test_calls_without_call_parameters_are_refused(known_signer: MarineModule) -> None:
    error = failed(known_signer.call("sign_message", ["hi"], call_parameters=CallParameters()))
    assert "service_creator_peer_id" in error


# ---------------------------------------------------------------- bad input


def tx(**fields: object) -> str:
    """A valid legacy transaction's JSON with `fields` added or replaced (the base of most bad requests)."""
    return json.dumps({"nonce": 0, "gasPrice": 1, "gas": 1, **fields})


BAD_REQUESTS: list[tuple[str, int, str]] = [
    ("{not json", 1, "not valid JSON"),
    ("[1, 2]", 1, "JSON object"),
    ('"a string"', 1, "JSON object"),
    ("{}", 1, "'nonce' is required"),
    ('{"nonce": 0, "gas": 21000}', 1, "'gasPrice' is required"),
    ('{"nonce": 0, "gasPrice": 1}', 1, "'gas' is required"),
    (tx(nonce="abc"), 1, "'nonce'"),
    (tx(nonce=-1), 1, "'nonce'"),
    (tx(nonce=1.5), 1, "'nonce'"),
    ('{"nonce": 1e3, "gasPrice": 1, "gas": 1}', 1, "'nonce'"),
    (tx(nonce=[]), 1, "got an array"),
    (tx(gasPrice=True), 1, "got a boolean"),
    (tx(to=5), 1, "'to'"),
    (tx(to="0x1234"), 1, "'to'"),
    (tx(to="0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"), 1, "checksum"),
    (tx(data="0xabc"), 1, "'data'"),
    (tx(data="abcd"), 1, "'data'"),
    (tx(value="0x" + "1" * 65), 1, "too large"),
    (tx(gasLimit=5), 1, "unknown field 'gasLimit'"),
    (tx(type=1), 1, "unsupported transaction type 1"),
    (tx(type=2), 1, "gasPrice"),
    ('{"nonce": 0, "maxFeePerGas": 1, "maxPriorityFeePerGas": 2, "gas": 1}', 1, "exceeds maxFeePerGas"),
    ('{"nonce": 0, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1, "gas": 1, "accessList": {}}', 1, "accessList"),
    (tx(chainId=5), 1, "chainId"),
    ('{"nonce": 0, "gasPrice": 1, "gas": 1, "nonce": 2}', 1, "duplicate"),
    (tx(), 0, "chain_id must be positive"),
    (tx(**{"from": "0x" + "00" * 19 + "01"}), 1, "this signer's address is 0x"),
    (tx(nonce="0xffffffffffffffff"), 1, "EIP-2681"),
]


def test_bad_input_gets_a_clear_error_and_the_next_call_works(known_signer: MarineModule) -> None:
    good = json.dumps({"nonce": 1, "gasPrice": 2, "gas": 21000, "to": "0x" + "11" * 20, "value": 3})
    reference = ok(known_signer.call("sign_tx", [good, 1], call_parameters=AS_CREATOR))
    for request, chain_id, expected in BAD_REQUESTS:
        error = failed(known_signer.call("sign_tx", [request, chain_id], call_parameters=AS_CREATOR))
        assert expected in error, (request, error)
        assert ok(known_signer.call("sign_tx", [good, 1], call_parameters=AS_CREATOR)) == reference


def test_a_10_mb_string_is_refused_and_the_signer_keeps_its_key(known_signer: MarineModule, known_key: bytes) -> None:
    address = Account.from_key(known_key).address
    huge = '{"data": "0x' + "ab" * (5 * 2**20) + '"}'
    assert "limit" in failed(known_signer.call("sign_tx", [huge, 1], call_parameters=AS_CREATOR))
    assert "limit" in failed(known_signer.call("sign_message", ["m" * (10 * 2**20)], call_parameters=AS_CREATOR))
    assert ok(known_signer.call("address", [])) == address
    raw = ok(known_signer.call("sign_message", ["after"], call_parameters=AS_CREATOR))
    assert Account.recover_message(encode_defunct(text="after"), signature=bytes.fromhex(raw[2:])) == address


def test_mangled_requests_never_trap(known_signer: MarineModule) -> None:
    """Truncated, bit-flipped and deeply nested JSON is answered with a result record, never a trap."""
    rng = random.Random(99)
    base = [to_request(rng, random_tx(rng, t), t, 1) for t in (0, 2, 0, 2)]
    mangled = ["[" * 200_000, "{" * 100_000, '{"nonce":' * 50_000, "\u0000", r'{"nonce": "\ud800"}']
    for _ in range(300):
        text = bytearray(rng.choice(base).encode())
        for _ in range(rng.randrange(1, 4)):
            op, i = rng.randrange(3), rng.randrange(len(text))
            if op == 0:
                del text[i:]
            elif op == 1:
                text[i] = rng.choice(b'{}[]",:0x-9aZ \\')
            else:
                text[i:i] = rng.choice([b'"', b"{", b"]", b"1e999", b"null", b"-0"])
        mangled.append(text.decode("utf-8", errors="replace"))
    for request in mangled:
        result = known_signer.call("sign_tx", [request, 1], call_parameters=AS_CREATOR)
        assert set(result) == {"success", "error", "value"}
        if result["success"]:
            assert Account.recover_transaction(bytes.fromhex(result["value"][2:])) == ok(
                known_signer.call("address", [])
            )
        else:
            assert result["error"] and result["value"] == ""
    assert ok(known_signer.call("sign_message", ["still alive"], call_parameters=AS_CREATOR))


def test_memory_does_not_grow_over_many_calls(known_signer: MarineModule) -> None:
    tx = json.dumps({"nonce": 1, "gasPrice": 1, "gas": 21000, "to": "0x" + "11" * 20, "data": "0x" + "ab" * 3000})

    def round_of_calls() -> None:
        for _ in range(50):
            ok(known_signer.call("sign_tx", [tx, 1], call_parameters=AS_CREATOR))
            failed(known_signer.call("sign_tx", ["{bad", 1], call_parameters=AS_CREATOR))
            ok(known_signer.call("authorize", [FRIEND], call_parameters=AS_CREATOR))
            ok(known_signer.call("revoke", [FRIEND], call_parameters=AS_CREATOR))

    round_of_calls()
    settled = known_signer.memory_bytes()
    for _ in range(3):
        round_of_calls()
    assert known_signer.memory_bytes() == settled


# ---------------------------------------------------------------- the key never leaves the module


def _needles(key: bytes) -> list[bytes]:
    h = key.hex()
    return [key, key[::-1], h.encode(), h.upper().encode(), h[:32].encode(), h[32:].encode()]


def test_the_key_appears_in_no_result_log_line_output_or_file(
    signer_wasm: bytes,
    known_key: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    workdir, mapped = tmp_path / "cwd", tmp_path / "mapped"
    workdir.mkdir()
    mapped.mkdir()
    monkeypatch.chdir(workdir)
    caplog.set_level(logging.DEBUG)
    module = load(signer_wasm, KnownRandom(known_key), mapped_dirs={"/data": str(mapped)}, envs={"WASM_LOG": "trace"})

    seen: list[str] = []

    def call(fn: str, args: list[Any], params: CallParameters = AS_CREATOR) -> None:
        try:
            seen.append(repr(module.call(fn, args, call_parameters=params)))
        except Exception as err:  # every error path counts too
            seen.append(repr(err))

    call("address", [])
    call("initiate", [])
    call("initiate", [])
    call("address", [])
    rng = random.Random(3)
    for i in range(20):
        call("sign_tx", [to_request(rng, random_tx(rng, 2 * (i % 2)), 2 * (i % 2), 1), 1])
    call("sign_message", ["hello"])
    for request, chain_id, _ in BAD_REQUESTS:
        call("sign_tx", [request, chain_id])
    call("sign_tx", ["{}", 1], call_params(STRANGER))
    call("authorize", [FRIEND])
    call("sign_message", ["from a friend"], call_params(FRIEND))
    call("revoke", [FRIEND])
    call("sign_message", ["x"], CallParameters())
    call("no_such_function", [])
    call("sign_tx", [123, 1])

    captured = capfd.readouterr()
    haystacks: list[tuple[str, bytes]] = [("results", "\n".join(seen).encode())]
    haystacks.append(("log records", "\n".join(r.getMessage() for r in caplog.records).encode()))
    haystacks.append(("stdout/stderr", (captured.out + captured.err).encode()))
    for root in (workdir, mapped):
        for path in root.rglob("*"):
            if path.is_file():
                haystacks.append((str(path), path.read_bytes()))
    assert len(seen) > 50
    # The scan sees what it should: guest log lines were captured, and the results hold the address.
    assert any("signer initiated" in r.getMessage() for r in caplog.records)
    assert Account.from_key(known_key).address in haystacks[0][1].decode()
    for where, hay in haystacks:
        for needle in _needles(known_key):
            assert needle not in hay, f"key material found in {where}"
    # The module cannot write files or print at all: its only imports are randomness, logging and call parameters.
    import wasmtime

    imports = {(i.module, i.name) for i in wasmtime.Module(wasmtime.Engine(), signer_wasm).imports}
    assert imports == {
        ("wasi_snapshot_preview1", "random_get"),
        ("__marine_host_api_v3", "log_utf8_string"),
        ("__marine_host_api_v3", "get_call_parameters"),
    }
    # No export beyond the documented ones and the Marine ABI (no debug or key-export function, no globals).
    functions = {"initiate", "address", "sign_tx", "sign_message", "authorize", "revoke"}
    assert set(module.interface.functions) == functions
    abi = {"memory", "allocate", "release_objects", "get_result_ptr", "get_result_size", "set_result_ptr"}
    exports = {e.name for e in wasmtime.Module(wasmtime.Engine(), signer_wasm).exports}
    assert exports == functions | abi | {"set_result_size"}


def test_zig_unit_tests_pass() -> None:
    """The module's own Zig tests (vectors from eth-account and eth-keys) run under CI too."""
    from fluence_dao.build import zig_test
    from fluence_dao.util.paths import project_root

    proc = zig_test(project_root() / "wasm" / "signer/service.zig")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "All " in proc.stderr and " tests passed" in proc.stderr, proc.stderr[-3000:]
