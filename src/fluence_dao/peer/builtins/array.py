"""`array`: sum, dedup, intersect, diff, sdiff, slice, length (nox semantics; set operations keep first-list order)."""

from __future__ import annotations

import json

from fluence_dao.peer.args import I64S, STRINGS, arg, exact_arity
from fluence_dao.peer.builtins.math import checked
from fluence_dao.peer.builtins.op import OpService
from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, export
from fluence_dao.util.json_types import Args, JsonArray


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _two_sets(args: Args) -> tuple[list[str], list[str]]:
    exact_arity(args, 2)
    return arg(args, 0, "x", STRINGS, "HashSet<String>"), arg(args, 1, "y", STRINGS, "HashSet<String>")


class ArrayService(BuiltinService):
    service_id = "array"

    @export()
    def length(self, args: Args, ctx: CallContext) -> int:
        return OpService().array_length(args, ctx)

    @export()
    def sum(self, args: Args, ctx: CallContext) -> int:
        exact_arity(args, 1)
        values = arg(args, 0, "x", I64S)
        return checked(sum(values), "add")

    @export()
    def dedup(self, args: Args, ctx: CallContext) -> list[str]:
        exact_arity(args, 1)
        return _unique(arg(args, 0, "x", STRINGS))

    @export()
    def intersect(self, args: Args, ctx: CallContext) -> list[str]:
        xs, ys = _two_sets(args)
        return [x for x in _unique(xs) if x in set(ys)]

    @export()
    def diff(self, args: Args, ctx: CallContext) -> list[str]:
        xs, ys = _two_sets(args)
        return [x for x in _unique(xs) if x not in set(ys)]

    @export()
    def sdiff(self, args: Args, ctx: CallContext) -> list[str]:
        xs, ys = _two_sets(args)
        return [x for x in _unique(xs) if x not in set(ys)] + [y for y in _unique(ys) if y not in set(xs)]

    @export()
    def slice(self, args: Args, ctx: CallContext) -> JsonArray:
        if len(args) != 3:
            raise BuiltinError("invalid number of parameters. need array, start index and end index")
        array, start, end = args
        if not isinstance(array, list):
            raise BuiltinError(f"first argument must be an array, was {json.dumps(array)}")
        if not array:
            return []
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise BuiltinError(f"second argument (start index) must be an unsigned integer, was {json.dumps(start)}")
        if not isinstance(end, int) or isinstance(end, bool) or end < 0:
            raise BuiltinError(f"third argument (end index) must be an unsigned integer, was {json.dumps(end)}")
        if start > end or end > len(array):
            raise BuiltinError(
                f"slice indexes out of bounds. start index: {start}, end index: {end}, array length: {len(array)}"
            )
        return array[start:end]
