"""Minimal ABIs for the ENS registry and a public resolver (standard ENS interfaces).

Registry events come from web3's `ens.abis` (the npm ENSRegistry artifact's `Transfer` event is wrong).
"""

from __future__ import annotations

from fluence_dao.util.json_types import JsonObject


def _fn(name: str, inputs: list[tuple[str, str]], outputs: list[str], mutability: str) -> JsonObject:
    return {
        "type": "function",
        "name": name,
        "inputs": [{"name": n, "type": t} for n, t in inputs],
        "outputs": [{"name": "", "type": t} for t in outputs],
        "stateMutability": mutability,
    }


def registry_abi() -> list[JsonObject]:
    from ens import abis

    extra = [
        _fn(
            "setSubnodeRecord",
            [
                ("node", "bytes32"),
                ("label", "bytes32"),
                ("owner", "address"),
                ("resolver", "address"),
                ("ttl", "uint64"),
            ],
            [],
            "nonpayable",
        ),
        _fn(
            "setRecord",
            [("node", "bytes32"), ("owner", "address"), ("resolver", "address"), ("ttl", "uint64")],
            [],
            "nonpayable",
        ),
        _fn("recordExists", [("node", "bytes32")], ["bool"], "view"),
    ]
    return [*abis.ENS, *extra]


RESOLVER_ABI: list[JsonObject] = [
    _fn("text", [("node", "bytes32"), ("key", "string")], ["string"], "view"),
    _fn("setText", [("node", "bytes32"), ("key", "string"), ("value", "string")], [], "nonpayable"),
    _fn("addr", [("node", "bytes32")], ["address"], "view"),
    _fn("setAddr", [("node", "bytes32"), ("a", "address")], [], "nonpayable"),
    _fn("supportsInterface", [("interfaceID", "bytes4")], ["bool"], "view"),
    {
        "type": "event",
        "name": "TextChanged",
        "anonymous": False,
        "inputs": [
            {"name": "node", "type": "bytes32", "indexed": True},
            {"name": "indexedKey", "type": "string", "indexed": True},
            {"name": "key", "type": "string", "indexed": False},
        ],
    },
]
