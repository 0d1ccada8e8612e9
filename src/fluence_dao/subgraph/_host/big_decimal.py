"""`bigDecimal.*`: graph-node's BigDecimal (34 significant digits; see subgraph._numbers)."""

from __future__ import annotations

from collections.abc import Callable

from fluence_dao.subgraph._asc import AscHeap
from fluence_dao.subgraph._host._context import HostContext, HostFunction, binary_op
from fluence_dao.subgraph._numbers import BigDecimal


def divide(a: BigDecimal, b: BigDecimal) -> BigDecimal:
    """`a / b`; division by zero fails with graph-node's message."""
    if b.digits == 0:
        raise ValueError(f"attempted to divide BigDecimal `{a}` by zero")
    return a / b


def functions(ctx: HostContext) -> dict[str, HostFunction]:
    def binop(fn: Callable[[BigDecimal, BigDecimal], BigDecimal]) -> HostFunction:
        return binary_op(ctx, AscHeap.read_bigdecimal, AscHeap.new_bigdecimal, fn)

    def to_string(p: int) -> int:
        h = ctx.h
        return h.new_string(str(h.read_bigdecimal(p)))

    def from_string(p: int) -> int:
        h = ctx.h
        text = h.read_string(p)
        try:
            return h.new_bigdecimal(BigDecimal.parse(text))
        except ValueError:
            raise ValueError(f"string  is not a BigDecimal: '{text}'") from None

    def equals(x: int, y: int) -> int:
        h = ctx.h
        return 1 if h.read_bigdecimal(x) == h.read_bigdecimal(y) else 0

    return {
        "bigDecimal.toString": to_string,
        "bigDecimal.fromString": from_string,
        "bigDecimal.plus": binop(lambda x, y: x + y),
        "bigDecimal.minus": binop(lambda x, y: x - y),
        "bigDecimal.times": binop(lambda x, y: x * y),
        "bigDecimal.dividedBy": binop(divide),
        "bigDecimal.equals": equals,
    }
