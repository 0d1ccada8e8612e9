from __future__ import annotations

import pytest
from eth_hash.auto import keccak

from fluence_dao.subgraph import abi_json_type, parse_call_signature, parse_manifest_event, parse_type

ERC20_TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"  # well-known


def test_manifest_event_names_from_abi_and_topic() -> None:
    abi = [
        {
            "type": "event",
            "name": "Transfer",
            "inputs": [
                {"name": "from", "type": "address", "indexed": True},
                {"name": "to", "type": "address", "indexed": True},
                {"name": "value", "type": "uint256", "indexed": False},
            ],
        }
    ]
    sig = parse_manifest_event("Transfer(indexed address,indexed address,uint256)", abi)
    assert [p.name for p in sig.params] == ["from", "to", "value"]
    assert [p.indexed for p in sig.params] == [True, True, False]
    assert keccak(sig.canonical.encode()).hex() == ERC20_TRANSFER_TOPIC


def test_tuple_and_array_types() -> None:
    t = parse_type("(uint,address[],(bytes32,string)[2])[]")
    assert t.canonical() == "(uint256,address[],(bytes32,string)[2])[]"
    assert t.is_dynamic and not parse_type("(uint256,bytes32)").is_dynamic
    param = {
        "type": "tuple[]",
        "components": [{"type": "uint256"}, {"type": "tuple", "components": [{"type": "bool"}]}],
    }
    assert abi_json_type(param) == "(uint256,(bool))[]"


def test_call_signature() -> None:
    name, inputs, outputs = parse_call_signature("getReferendum(uint256):(address,uint256,bool)")
    assert name == "getReferendum"
    assert [t.canonical() for t in inputs] == ["uint256"]
    assert [t.canonical() for t in outputs] == ["address", "uint256", "bool"]
    assert parse_call_signature("total():(uint256)")[1] == []


@pytest.mark.parametrize("bad", ["", "uint 256", "tuple"])
def test_bad_types(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_type(bad)
