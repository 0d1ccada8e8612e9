"""`EnsClient.text_changes`: text record history from the real PublicResolver's `TextChanged` events on anvil."""

from __future__ import annotations

import pytest

from fluence_dao.eth import TextChange

pytestmark = pytest.mark.integration

PROJECT = "public-record.eth"
ALPHA = "alpha.public-record.eth"


def test_history_of_several_keys_and_names_with_values_at_each_block(ens_env) -> None:
    ens, gov = ens_env.ens, ens_env.gov
    start = ens_env.client.block_number() + 1
    first = ens.set_text(PROJECT, "wasm.signer", "bafy-one", gov)
    second = ens.set_text(PROJECT, "wasm.signer", "bafy-two", gov)
    other = ens.set_text(ALPHA, "notice", "hello", gov)

    changes = ens.text_changes([PROJECT, ALPHA], from_block=start)
    assert [(c.name, c.key, c.value, c.tx_hash, c.block_number) for c in changes] == [
        (PROJECT, "wasm.signer", "bafy-one", first.tx_hash, first.block_number),
        (PROJECT, "wasm.signer", "bafy-two", second.tx_hash, second.block_number),
        (ALPHA, "notice", "hello", other.tx_hash, other.block_number),
    ]
    assert all(isinstance(c, TextChange) and c.resolver.lower() == ens.resolver(PROJECT).lower() for c in changes)
    assert changes[0].to_dict()["value"] == "bafy-one"

    latest = ens.text_changes([PROJECT, ALPHA], from_block=start, last=1)
    assert [(c.key, c.value) for c in latest] == [("wasm.signer", "bafy-two"), ("notice", "hello")]

    only_alpha = ens.text_changes([ALPHA], from_block=start)
    assert [c.tx_hash for c in only_alpha] == [other.tx_hash]

    window = ens.text_changes([PROJECT], from_block=second.block_number, to_block=second.block_number)
    assert [c.value for c in window] == ["bafy-two"]


def test_a_name_without_resolver_has_no_history(ens_env) -> None:
    assert ens_env.ens.text_changes(["nobody-registered-this.eth"]) == []


def test_two_changes_in_one_block_keep_their_own_values(ens_env) -> None:
    """Plain setText transactions: each value comes from its own calldata, not from the block's final state."""
    ens, gov, client = ens_env.ens, ens_env.gov, ens_env.client
    first = ens.set_text_request(PROJECT, "wasm.ens", "bafy-first")
    second = ens.set_text_request(PROJECT, "wasm.ens", "bafy-second")
    client.rpc("evm_setAutomine", [False])
    try:
        hashes = [gov.send(r.to, r.data, gas=200_000, wait=False) for r in (first, second)]
        client.rpc("evm_mine", [])
    finally:
        client.rpc("evm_setAutomine", [True])
    block = client.block_number()
    changes = ens.text_changes([PROJECT], from_block=block)
    assert [(c.tx_hash, c.block_number, c.value) for c in changes] == [
        (hashes[0], block, "bafy-first"),
        (hashes[1], block, "bafy-second"),
    ]


def test_a_change_inside_a_multicall_is_read_at_its_block(ens_env) -> None:
    """Not a plain setText (the resolver's multicall): the value is the record at the change's block."""
    from fluence_dao.eth import RESOLVER_ABI

    ens, gov, client = ens_env.ens, ens_env.gov, ens_env.client
    resolver = ens.resolver(PROJECT)
    calls = [ens.set_text_request(PROJECT, key, f"bafy-{key}").data for key in ("wasm.signer", "air.interval")]
    multicall_abi = {
        "type": "function",
        "name": "multicall",
        "inputs": [{"name": "data", "type": "bytes[]"}],
        "outputs": [{"name": "results", "type": "bytes[]"}],
        "stateMutability": "nonpayable",
    }
    contract = client.w3.eth.contract(address=resolver, abi=[*RESOLVER_ABI, multicall_abi])
    receipt = gov.send_and_wait(resolver, contract.encode_abi("multicall", args=[calls]))
    assert receipt.status == 1 and ens.text(PROJECT, "air.interval") == "bafy-air.interval"
    ens.set_text(PROJECT, "air.interval", "bafy-later", gov)  # the value now differs from the one at that block

    changes = ens.text_changes([PROJECT], from_block=receipt.block_number, to_block=receipt.block_number)
    assert {(c.key, c.value, c.tx_hash) for c in changes} == {
        ("wasm.signer", "bafy-wasm.signer", receipt.tx_hash),
        ("air.interval", "bafy-air.interval", receipt.tx_hash),
    }
