"""graph-node's BigInt byte form and BigDecimal normalisation, checked against Python's decimal module."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluence_dao.subgraph import BigDecimal, bigint_from_le, bigint_to_le

CTX34 = Context(prec=34, rounding=ROUND_HALF_UP)
EXACT = Context(prec=400)


def reference(value: Decimal) -> str:
    return format(CTX34.normalize(CTX34.plus(value)), "f")


@pytest.mark.parametrize(
    ("value", "hex_le"),
    [
        (0, "00"),
        (1, "01"),
        (-1, "ff"),
        (127, "7f"),
        (128, "8000"),
        (255, "ff00"),
        (-128, "80"),
        (-129, "7fff"),
        (2**64, "000000000000000001"),
    ],
)
def test_bigint_signed_le_vectors(value: int, hex_le: str) -> None:
    assert bigint_to_le(value).hex() == hex_le
    assert bigint_from_le(bytes.fromhex(hex_le)) == value


@given(st.integers(min_value=-(2**300), max_value=2**300))
def test_bigint_roundtrip(value: int) -> None:
    data = bigint_to_le(value)
    assert bigint_from_le(data) == value
    assert len(data) == max(1, (value.bit_length() + 8) // 8) or len(data) == (value.bit_length() + 7) // 8


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("1.50", "1.5"),
        ("-0.00012", "-0.00012"),
        ("1e3", "1000"),
        ("0.000", "0"),
        ("+7", "7"),
        ("123456789012345678901234567890123456789", "123456789012345678901234567890123500000"),
    ],
)
def test_parse_and_string_form(text: str, shown: str) -> None:
    assert str(BigDecimal.parse(text)) == shown


@pytest.mark.parametrize("bad", ["", "abc", "1.2.3", "--1", "1e"])
def test_parse_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        BigDecimal.parse(bad)


decimals = st.decimals(
    min_value=Decimal("-1e30"), max_value=Decimal("1e30"), allow_nan=False, allow_infinity=False, places=12
)


@given(decimals, decimals)
@settings(max_examples=60, deadline=None)
def test_arithmetic_matches_decimal(a: Decimal, b: Decimal) -> None:
    # Like graph-node, a BigDecimal is normalised to 34 significant digits as soon as it exists.
    a, b = Decimal(reference(a)), Decimal(reference(b))
    x, y = BigDecimal.parse(str(a)), BigDecimal.parse(str(b))
    assert str(x + y) == reference(EXACT.add(a, b))
    assert str(x - y) == reference(EXACT.subtract(a, b))
    assert str(x * y) == reference(EXACT.multiply(a, b))
    if b != 0:
        assert str(x / y) == reference(EXACT.divide(a, b))
    assert (x < y) == (a < b) and (x == y) == (a == b)


def test_division_by_zero() -> None:
    with pytest.raises(ZeroDivisionError):
        _ = BigDecimal.parse("1") / BigDecimal.parse("0")
