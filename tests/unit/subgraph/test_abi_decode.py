"""The runner's own decoder of elementary ABI values agrees with eth_abi, and defers to it on anything it rejects."""

from __future__ import annotations

import random

import eth_abi.abi as eth_abi
import pytest

from fluence_dao.subgraph import decode_elementary, parse_type

TYPES = ["uint8", "uint256", "int16", "int256", "address", "bool", "bytes4", "bytes32", "string", "bytes"]


def _value(rng: random.Random, t: str) -> object:
    if t.startswith("uint"):
        return rng.randrange(2 ** int(t[4:]))
    if t.startswith("int"):
        bits = int(t[3:])
        return rng.randrange(-(2 ** (bits - 1)), 2 ** (bits - 1))
    if t == "address":
        return "0x" + rng.randbytes(20).hex()
    if t == "bool":
        return rng.random() < 0.5
    if t == "string":
        return "".join(rng.choice("aé☕提 ") for _ in range(rng.randrange(70)))
    if t == "bytes":
        return rng.randbytes(rng.randrange(70))
    return rng.randbytes(int(t[5:]))


def test_same_values_as_eth_abi() -> None:
    rng = random.Random(7)
    for _ in range(300):
        types = [rng.choice(TYPES) for _ in range(rng.randrange(1, 5))]
        data = eth_abi.encode(types, [_value(rng, t) for t in types])
        assert decode_elementary([parse_type(t) for t in types], data) == list(eth_abi.decode(types, data))


def test_what_eth_abi_rejects_is_left_to_eth_abi() -> None:
    """Flip single bytes of valid encodings: whenever eth_abi (strict) raises, the fast decoder declines."""
    rng = random.Random(11)
    for _ in range(400):
        types = [rng.choice(TYPES) for _ in range(rng.randrange(1, 4))]
        data = bytearray(eth_abi.encode(types, [_value(rng, t) for t in types]))
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        if rng.random() < 0.2:
            del data[rng.randrange(len(data)) :]
        try:
            expected = list(eth_abi.decode(types, bytes(data)))
        except Exception:
            assert decode_elementary([parse_type(t) for t in types], bytes(data)) is None
        else:
            got = decode_elementary([parse_type(t) for t in types], bytes(data))
            assert got is None or got == expected


@pytest.mark.parametrize("text", ["uint256[]", "(uint256,bool)", "bytes32[2]"])
def test_containers_are_left_to_eth_abi(text: str) -> None:
    assert decode_elementary([parse_type(text)], bytes(256)) is None
