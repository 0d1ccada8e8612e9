"""The ens module (wasm/ens), built from source and run in the wasmtime host.

Every expected value comes from web3.py (`ens.utils` namehash/normalisation, contract `encode_abi`) or eth-abi.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from ens import abis
from ens.utils import label_to_hash, normalize_name, raw_name_to_hash
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from _helpers import module_failed as failed
from _helpers import module_ok as ok
from fluence_dao.marine import CallParameters, MarineModule, ModuleConfig, ParticleParameters

pytestmark = pytest.mark.integration

RESOLVER = Web3().eth.contract(abi=abis.PUBLIC_RESOLVER_2)
REGISTRY = Web3().eth.contract(abi=abis.ENS)
RESOLVER_ADDRESS = "0x4976fb03C32e5B8cfe2b6cCB31c09Ba78EBaBa41"


@pytest.fixture(scope="module")
def ens_module(built_wasm) -> MarineModule:
    wasm = built_wasm("ens")
    return MarineModule.load(wasm, ModuleConfig(name="ens"))


def hexstr(b: bytes) -> str:
    return "0x" + bytes(b).hex()


@pytest.mark.parametrize("name", ["", "eth", "foo.eth", "alpha.public-record.eth", "_dmarc.x-1.$a.eth", "a--b.eth"])
def test_namehash_equals_web3(ens_module: MarineModule, name: str) -> None:
    assert ok(ens_module.call("namehash", [name])) == hexstr(raw_name_to_hash(name))


def _is_normalised_ascii(name: str) -> bool:
    if not name.isascii() or (name and any(label == "" for label in name.split("."))):
        return False
    try:
        return normalize_name(name) == name
    except Exception:  # web3 raises InvalidName for names that cannot be normalised
        return False


def test_names_are_accepted_exactly_when_already_normalised(ens_module: MarineModule) -> None:
    rng = random.Random(11)
    alphabet = "abcxyz0189-_$A.'é !"
    accepted = refused = 0
    for _ in range(1500):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 9)))
        result = ens_module.call("namehash", [name])
        if _is_normalised_ascii(name):
            assert ok(result) == hexstr(raw_name_to_hash(name)), name
            accepted += 1
        else:
            error = failed(result)
            assert repr(name)[1:-1][:20] in error or name[:20] in error, (name, error)
            refused += 1
    assert accepted > 100 and refused > 100


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Foo.eth", "uppercase"),
        ("foo..eth", "empty"),
        ("foo.eth.", "empty"),
        ("café.eth", "non-ASCII"),
        ("a_b.eth", "_"),
        ("xn--ls8h.eth", "third and fourth"),
        ("a b.eth", "0x20"),
    ],
)
def test_unnormalised_names_get_a_clear_error(ens_module: MarineModule, name: str, expected: str) -> None:
    error = failed(ens_module.call("namehash", [name]))
    assert expected in error and name in error
    assert ok(ens_module.call("namehash", ["eth"])) == hexstr(raw_name_to_hash("eth"))


def test_labelhash_equals_web3(ens_module: MarineModule) -> None:
    for label in ["eth", "public-record", "alpha", "_x", "0"]:
        assert ok(ens_module.call("labelhash", [label])) == hexstr(label_to_hash(label))
    assert "single label" in failed(ens_module.call("labelhash", ["foo.eth"]))
    assert "empty" in failed(ens_module.call("labelhash", [""]))


def _random_text(rng: random.Random) -> str:
    pieces = ["a", "Z", "0", " ", "é", "ü", "✓", "🚀", "中文", "\n", '"', "\\", "\x00"]
    return "".join(rng.choice(pieces) for _ in range(rng.choice([0, 1, 5, 31, 32, 33, 100])))


def test_call_data_equals_web3_contract_encoding(ens_module: MarineModule) -> None:
    rng = random.Random(5)
    for _ in range(40):
        node = rng.randbytes(32)
        label = rng.randbytes(32)
        owner = to_checksum_address(rng.randbytes(20))
        key, value = _random_text(rng), _random_text(rng)
        n, lh = hexstr(node), hexstr(label)
        cases = [
            ("text_call_data", [n, key], RESOLVER.encode_abi("text", args=[node, key])),
            ("set_text_call_data", [n, key, value], RESOLVER.encode_abi("setText", args=[node, key, value])),
            ("set_addr_call_data", [n, owner.lower()], RESOLVER.encode_abi("setAddr", args=[node, owner])),
            ("addr_call_data", [n], RESOLVER.encode_abi("addr", args=[node])),
            ("owner_call_data", [n], REGISTRY.encode_abi("owner", args=[node])),
            ("resolver_call_data", [n], REGISTRY.encode_abi("resolver", args=[node])),
            ("set_owner_call_data", [n, owner], REGISTRY.encode_abi("setOwner", args=[node, owner])),
            (
                "set_subnode_owner_call_data",
                [n, lh, owner],
                REGISTRY.encode_abi("setSubnodeOwner", args=[node, label, owner]),
            ),
        ]
        for fn, args, expected in cases:
            assert ok(ens_module.call(fn, args)) == expected, fn


def test_text_results_decode_including_non_ascii(ens_module: MarineModule) -> None:
    rng = random.Random(9)
    for _ in range(60):
        text = _random_text(rng)
        assert ok(ens_module.call("decode_text_result", [hexstr(encode(["string"], [text]))])) == text
    for bad, expected in [
        ("0x", "empty"),
        ("0x1234", "at least 64"),
        ("nothex", "hex"),
        (hexstr(encode(["uint256", "uint256"], [32, 1000])), "runs past the end"),
        (hexstr(encode(["uint256", "uint256"], [2**255, 0])), "out of range"),
        (hexstr(encode(["bytes"], [b"\xff\xfe"])), "UTF-8"),
    ]:
        assert expected in failed(ens_module.call("decode_text_result", [bad]))


def test_owner_results_decode_to_checksummed_addresses(ens_module: MarineModule) -> None:
    for raw in [bytes(20), b"\x11" * 20, keccak(b"x")[:20]]:
        data = hexstr(encode(["address"], [raw]))
        assert ok(ens_module.call("decode_address_result", [data])) == to_checksum_address(raw)
        assert decode(["address"], bytes.fromhex(data[2:]))[0] == to_checksum_address(raw).lower()
    assert "high bytes" in failed(ens_module.call("decode_address_result", [hexstr(b"\x01" * 32)]))
    assert "32 bytes" in failed(ens_module.call("decode_address_result", [hexstr(b"\x00" * 31)]))


def test_prepare_set_text_builds_a_request_that_eth_account_and_the_signer_accept(
    ens_module: MarineModule, built_wasm
) -> None:
    name, key, value = (
        "alpha.public-record.eth",
        "wasm.signer",
        "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
    )
    tx_json = ok(
        ens_module.call(
            "prepare_set_text",
            [name, key, value, RESOLVER_ADDRESS.lower(), "7", "0x15f90", "30000000000", "1000000000"],
        )
    )
    tx = json.loads(tx_json)
    assert tx["to"] == RESOLVER_ADDRESS
    assert tx["data"] == RESOLVER.encode_abi("setText", args=[raw_name_to_hash(name), key, value])
    assert (int(tx["nonce"], 16), int(tx["gas"], 16)) == (7, 90000)
    assert (int(tx["maxFeePerGas"], 16), int(tx["maxPriorityFeePerGas"], 16)) == (30 * 10**9, 10**9)
    assert int(tx["value"], 16) == 0 and tx["accessList"] == []

    # The signer module signs exactly this JSON; eth-account signs the same transaction to the same bytes.
    signer_wasm = built_wasm("signer")
    the_key = keccak(b"ens test key")
    signer = MarineModule.load(signer_wasm, ModuleConfig(name="signer", random_source=lambda n: the_key[:n]))
    creator = CallParameters(
        particle=ParticleParameters(init_peer_id="12D3KooWCreator"), service_creator_peer_id="12D3KooWCreator"
    )
    ok(signer.call("initiate", [], call_parameters=creator))
    raw = ok(signer.call("sign_tx", [tx_json, 31337], call_parameters=creator))
    reference = Account.sign_transaction(
        {
            "type": 2,
            "chainId": 31337,
            "nonce": 7,
            "gas": 90000,
            "maxFeePerGas": 30 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "to": RESOLVER_ADDRESS,
            "value": 0,
            "data": tx["data"],
            "accessList": [],
        },
        the_key,
    ).raw_transaction
    assert raw == hexstr(reference)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["Foo.eth", "k", "v", RESOLVER_ADDRESS, "1", "1", "1", "1"], "uppercase"),
        (["foo.eth", "k", "v", "0x1234", "1", "1", "1", "1"], "resolver"),
        (["foo.eth", "k", "v", RESOLVER_ADDRESS, "-1", "1", "1", "1"], "nonce"),
        (["foo.eth", "k", "v", RESOLVER_ADDRESS, "1", "0", "1", "1"], "gas"),
        (["foo.eth", "k", "v", RESOLVER_ADDRESS, "1", "1", "1", "2"], "exceeds"),
        (["foo.eth", "k", "v", RESOLVER_ADDRESS, "1", "1", "0x", "1"], "max_fee_per_gas"),
    ],
)
def test_prepare_set_text_refuses_bad_arguments(ens_module: MarineModule, args: list[str], expected: str) -> None:
    assert expected in failed(ens_module.call("prepare_set_text", args))


def test_bad_input_gets_a_clear_error_and_the_next_call_works(ens_module: MarineModule) -> None:
    for fn, args, expected in [
        ("text_call_data", ["0x12", "k"], "bytes32"),
        ("set_addr_call_data", ["0x" + "00" * 32, "0xnothex"], "address"),
        ("set_owner_call_data", ["0x" + "00" * 32, "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"], "checksum"),
        ("namehash", ["a" * (10 * 2**20)], "limit"),
        ("decode_text_result", ["0x" + "00" * (6 * 2**20)], "limit"),
    ]:
        assert expected in failed(ens_module.call(fn, args)), fn
        assert ok(ens_module.call("namehash", ["foo.eth"])) == hexstr(raw_name_to_hash("foo.eth"))


def test_zig_unit_tests_pass() -> None:
    """The module's own Zig tests (vectors from web3.py and eth-abi) run under CI too."""
    from fluence_dao.build import zig_test
    from fluence_dao.util.paths import project_root

    proc = zig_test(project_root() / "wasm" / "ens/ens.zig")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "All " in proc.stderr and " tests passed" in proc.stderr, proc.stderr[-3000:]


def test_random_input_never_traps(ens_module: MarineModule) -> None:
    """Arbitrary data is answered with a result record (decoded or refused), never a trap."""
    rng = random.Random(21)
    for _ in range(300):
        words = [
            rng.choice([0, 32, 64, 2**255, rng.randrange(2**256), rng.randrange(200)]) for _ in range(rng.randrange(5))
        ]
        data = hexstr(b"".join(w.to_bytes(32, "big") for w in words) + rng.randbytes(rng.randrange(40)))
        for fn in ("decode_text_result", "decode_address_result"):
            result = ens_module.call(fn, [data])
            assert result["success"] or (result["error"] and result["value"] == "")
        name = "".join(rng.choice("ab.-_$Z\u00e9\x00\xff") for _ in range(rng.randrange(12)))
        result = ens_module.call("namehash", [name])
        assert result["success"] or result["error"]
    assert ok(ens_module.call("namehash", ["eth"])) == hexstr(raw_name_to_hash("eth"))


class _ModulesOnChain:
    """The ens and signer modules (a fresh key nobody knows) against the devnet chain of `ens_env`."""

    def __init__(self, ens_env: Any, built_wasm: Any) -> None:
        self.client = ens_env.client
        self.chain_id = self.client.chain_id()
        self.ens = MarineModule.load(built_wasm("ens"), ModuleConfig(name="ens"))
        self.signer = MarineModule.load(built_wasm("signer"), ModuleConfig(name="signer"))
        self.creator = CallParameters(
            particle=ParticleParameters(init_peer_id="12D3KooWCreator"), service_creator_peer_id="12D3KooWCreator"
        )
        self.address = ok(self.signer.call("initiate", [], call_parameters=self.creator))

    def eth_call(self, to: str, data: str) -> str:
        return "0x" + bytes(self.client.w3.eth.call({"to": to, "data": data})).hex()

    def sign(self, tx_json: str, chain_id: int) -> bytes:
        raw = ok(self.signer.call("sign_tx", [tx_json, chain_id], call_parameters=self.creator))
        return bytes.fromhex(raw[2:])

    def send(self, tx_json: str) -> None:
        raw = self.sign(tx_json, self.chain_id)
        receipt = self.client.wait_for_receipt(self.client.send_raw_transaction(raw), timeout_s=30)
        assert receipt.status == 1


def test_signer_and_ens_modules_write_a_text_record_on_a_real_chain(ens_env, built_wasm) -> None:
    """anvil + the real ENS contracts: the ens module's call data and setText request, signed by the signer
    module (a key nobody knows), are accepted and mined; the record reads back through the ens module."""
    chain = _ModulesOnChain(ens_env, built_wasm)
    client, ens, address = chain.client, chain.ens, chain.address
    name, key, value = (
        "alpha.public-record.eth",
        "ipld-tip",
        "bafyreib4pff766vhpbxbhjbqqnsh5emeznvujayjj4z2iu533cprgbz23m",
    )
    node = ok(ens.call("namehash", [name]))
    registry = ens_env.devnet.registry
    # Governance funds the signer and hands it the name, using the ens module's setOwner call data.
    ens_env.gov.transfer(address, 10**18)
    ens_env.gov.send_and_wait(registry, ok(ens.call("set_owner_call_data", [node, address])))
    owner_data = chain.eth_call(registry, ok(ens.call("owner_call_data", [node])))
    assert ok(ens.call("decode_address_result", [owner_data])) == address
    resolver_data = chain.eth_call(registry, ok(ens.call("resolver_call_data", [node])))
    resolver = ok(ens.call("decode_address_result", [resolver_data]))
    assert resolver.lower() == ens_env.devnet.resolver.lower()

    # A legacy transfer signed by the module is mined.
    gas_price = int(client.w3.eth.gas_price) * 2
    transfer = {"nonce": client.pending_nonce(address), "gasPrice": gas_price, "gas": 21000, "value": 1}
    chain.send(json.dumps({**transfer, "to": "0x" + "42" * 20}))

    # fluence_dao.eth's TxSender with the module as its external signer (the request is transaction_json()).
    from fluence_dao.eth import TxSender, transaction_json

    sender = TxSender.external(client, address, lambda tx: chain.sign(transaction_json(tx), int(tx["chainId"])))
    assert sender.transfer("0x" + "43" * 20, 5).status == 1
    assert client.balance("0x" + "43" * 20) == 5

    # The setText request built by the ens module, signed by the signer module (type 2), is mined.
    fees = client.fee_fields()
    nonce = hex(client.pending_nonce(address))
    fee_args = [str(fees["maxFeePerGas"]), str(fees["maxPriorityFeePerGas"])]
    chain.send(ok(ens.call("prepare_set_text", [name, key, value, resolver, nonce, "200000", *fee_args])))
    stored = chain.eth_call(resolver, ok(ens.call("text_call_data", [node, key])))
    assert ok(ens.call("decode_text_result", [stored])) == value
    assert ens_env.ens.text(name, key) == value
