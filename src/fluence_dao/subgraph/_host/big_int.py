"""`bigInt.*`: arbitrary-precision integers with num-bigint's semantics (division truncates toward zero)."""

from __future__ import annotations

from collections.abc import Callable

from fluence_dao.subgraph._asc import AscHeap
from fluence_dao.subgraph._host._context import HostContext, HostFunction, binary_op
from fluence_dao.subgraph._host.big_decimal import divide
from fluence_dao.subgraph._numbers import BigDecimal


def tdiv(x: int, y: int) -> int:
    """Division truncating toward zero (Rust's `/` on BigInt)."""
    if y == 0:
        raise ValueError(f"attempted to divide BigInt `{x}` by zero")
    q = abs(x) // abs(y)
    return q if (x < 0) == (y < 0) else -q


def tmod(x: int, y: int) -> int:
    """The remainder with the dividend's sign (Rust's `%` on BigInt)."""
    if y == 0:
        raise ValueError(f"attempted to calculate the remainder of `{x}` with a divisor of zero")
    return x - tdiv(x, y) * y


def functions(ctx: HostContext) -> dict[str, HostFunction]:
    def binop(fn: Callable[[int, int], int]) -> HostFunction:
        return binary_op(ctx, AscHeap.read_bigint, AscHeap.new_bigint, fn)

    def plus(x: int, y: int) -> int:  # the most called one: no indirection
        h = ctx.h
        return h.new_bigint(h.read_bigint(x) + h.read_bigint(y))

    def pow_(x: int, exp: int) -> int:
        h = ctx.h
        return h.new_bigint(h.read_bigint(x) ** (exp & 0xFF))

    def left_shift(x: int, bits: int) -> int:
        h = ctx.h
        return h.new_bigint(h.read_bigint(x) << (bits & 0xFF))

    def right_shift(x: int, bits: int) -> int:
        h = ctx.h
        return h.new_bigint(h.read_bigint(x) >> (bits & 0xFF))

    def from_string(p: int) -> int:
        h = ctx.h
        text = h.read_string(p)
        try:
            return h.new_bigint(int(text, 10))
        except ValueError:
            raise ValueError(f"string is not a BigInt: `{text}`") from None

    def divided_by_decimal(x: int, y: int) -> int:
        h = ctx.h
        return h.new_bigdecimal(divide(BigDecimal.from_int(h.read_bigint(x)), h.read_bigdecimal(y)))

    return {
        "bigInt.plus": plus,
        "bigInt.minus": binop(lambda x, y: x - y),
        "bigInt.times": binop(lambda x, y: x * y),
        "bigInt.dividedBy": binop(tdiv),
        "bigInt.mod": binop(tmod),
        "bigInt.bitOr": binop(lambda x, y: x | y),
        "bigInt.bitAnd": binop(lambda x, y: x & y),
        "bigInt.pow": pow_,
        "bigInt.leftShift": left_shift,
        "bigInt.rightShift": right_shift,
        "bigInt.fromString": from_string,
        "bigInt.dividedByDecimal": divided_by_decimal,
    }
