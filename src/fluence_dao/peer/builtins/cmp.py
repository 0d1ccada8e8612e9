"""`cmp`: i64 comparisons (the Aqua compiler emits these for `> >= < <=`)."""

from __future__ import annotations

from fluence_dao.peer.builtins.math import binary_i64
from fluence_dao.peer.calls import BuiltinService, Function


class CmpService(BuiltinService):
    service_id = "cmp"

    def functions(self) -> dict[str, Function]:
        return {
            "gt": binary_i64(lambda x, y: x > y),
            "gte": binary_i64(lambda x, y: x >= y),
            "lt": binary_i64(lambda x, y: x < y),
            "lte": binary_i64(lambda x, y: x <= y),
            "cmp": binary_i64(lambda x, y: (x > y) - (x < y)),
        }
