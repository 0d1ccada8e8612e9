"""ENS names: normalisation, namehash and labelhash against EIP-137 and an independent keccak recursion."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from fluence_dao.errors import EnsError
from fluence_dao.eth import labelhash, namehash, normalize_name, split_name

# Published in EIP-137 ("Namehash algorithm", test vectors)
EIP137 = {
    "": "0000000000000000000000000000000000000000000000000000000000000000",
    "eth": "93cdeb708b7545dc668eb9280176169d1c33cfd8ed6f04690a0bcc88a93fc4ae",
    "foo.eth": "de9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f",
}


def _reference_namehash(name: str) -> bytes:
    """EIP-137 written out directly: node = keccak(node(parent) ++ keccak(label))."""
    node = b"\x00" * 32
    if name:
        for label in reversed(name.split(".")):
            node = keccak(node + keccak(label.encode()))
    return node


@pytest.mark.parametrize("name", sorted(EIP137))
def test_namehash_matches_eip137(name: str) -> None:
    assert namehash(name).hex() == EIP137[name]


@pytest.mark.parametrize("name", ["public-record.eth", "alpha.public-record.eth", "a.b.alpha.public-record.eth"])
def test_namehash_of_subdomains_matches_the_definition(name: str) -> None:
    assert namehash(name) == _reference_namehash(name)


def test_names_are_normalised_before_hashing() -> None:
    assert normalize_name("Alpha.Public-Record.ETH") == "alpha.public-record.eth"
    assert namehash("Alpha.Public-Record.ETH") == _reference_namehash("alpha.public-record.eth")


def test_labelhash_is_keccak_of_the_label() -> None:
    assert labelhash("eth") == keccak(b"eth")
    assert labelhash("Alpha") == keccak(b"alpha")


def test_a_label_with_a_dot_is_refused() -> None:
    with pytest.raises(EnsError, match="cannot contain a dot"):
        labelhash("a.b")


@pytest.mark.parametrize("bad", ["a..eth", "bad name.eth", ".eth", "x_y.eth"])
def test_invalid_names_are_a_clear_error_naming_them(bad: str) -> None:
    with pytest.raises(EnsError) as err:
        namehash(bad)
    assert repr(bad) in err.value.message
    assert err.value.details["name"] == bad


def test_split_name() -> None:
    assert split_name("Alpha.Public-Record.eth") == ("alpha", "public-record.eth")
    assert split_name("eth") == ("eth", "")
