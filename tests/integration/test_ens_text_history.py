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
