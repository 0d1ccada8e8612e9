"""`math`: checked i64 arithmetic as nox does it (the Aqua compiler emits these calls for `+ - * / % **`)."""

from __future__ import annotations

import math
from collections.abc import Callable

from fluence_dao.peer.args import F64, I64, U32, arg, exact_arity
from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, Function
from fluence_dao.util.json_types import Args, JsonValue

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1


def checked(value: int, what: str) -> int:
    if not I64_MIN <= value <= I64_MAX:
        raise BuiltinError(f"i64 {what} overflow")
    return value


def trunc_div(x: int, y: int) -> int:
    """Integer division rounding toward zero, as Rust's `/`."""
    quotient = abs(x) // abs(y)
    return quotient if (x >= 0) == (y >= 0) else -quotient


def binary_i64(fn: Callable[[int, int], JsonValue]) -> Function:
    def call(args: Args, ctx: CallContext) -> JsonValue:
        exact_arity(args, 2)
        return fn(arg(args, 0, "x", I64), arg(args, 1, "y", I64))

    return call


def _div(x: int, y: int) -> int:
    if y == 0:
        raise BuiltinError("i64 div overflow")
    return checked(trunc_div(x, y), "div")


def _rem(x: int, y: int) -> int:
    if y == 0:
        raise BuiltinError("i64 rem overflow")
    return checked(x - y * trunc_div(x, y), "rem")


def _log(base: int, value: int) -> int:
    """floor(log_base(value)) as Rust's checked_ilog: error for value <= 0 or base < 2."""
    if value <= 0 or base < 2:
        raise BuiltinError("i64 log overflow")
    result = 0
    while value >= base:
        value //= base
        result += 1
    return result


def _pow(args: Args, ctx: CallContext) -> int:
    exact_arity(args, 2)
    x = arg(args, 0, "x", I64)
    y = arg(args, 1, "y", U32)
    if abs(x) > 1 and y > 64:
        raise BuiltinError("i64 pow overflow")
    return checked(x**y, "pow")


def _fmul(args: Args, ctx: CallContext) -> int:
    exact_arity(args, 2)
    product = float(arg(args, 0, "x", F64)) * float(arg(args, 1, "y", F64))
    # Rust's `as i64` saturates
    return max(I64_MIN, min(I64_MAX, math.floor(product)))


class MathService(BuiltinService):
    service_id = "math"

    def functions(self) -> dict[str, Function]:
        return {
            "add": binary_i64(lambda x, y: checked(x + y, "add")),
            "sub": binary_i64(lambda x, y: checked(x - y, "add") if y != I64_MIN else checked(I64_MAX + 1, "neg")),
            "mul": binary_i64(lambda x, y: checked(x * y, "mul")),
            "fmul": _fmul,
            "div": binary_i64(_div),
            "rem": binary_i64(_rem),
            "pow": _pow,
            "log": binary_i64(_log),
        }
