"""`json`: obj, put, puts, parse, stringify, obj_pairs, puts_pairs (nox semantics; keys sorted like serde_json)."""

from __future__ import annotations

import json
from typing import Any

from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, Function, arg, exact_arity


def stringify(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _put_pairs(obj: dict[str, Any], rest: list[Any]) -> dict[str, Any]:
    out = dict(obj)
    for index in range(0, len(rest), 2):
        key = rest[index]
        if index + 1 >= len(rest):
            raise BuiltinError(f"Expected odd number of arguments, got even. No value for key '{stringify(key)}'")
        if not isinstance(key, str):
            raise BuiltinError(
                "All keys must be of type string. Key of the following pair is of invalid type: "
                f"({stringify(key)}, {stringify(rest[index + 1])})"
            )
        out[key] = rest[index + 1]
    return out


def _pairs(value: Any, field_name: str) -> list[tuple[str, Any]]:
    ok = isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in value)
    if not ok:
        raise BuiltinError(
            f"Error: Error deserializing field '{field_name}': expected Vec<(String, serde_json::value::Value)>, "
            f"got {stringify(value)}"
        )
    return [(p[0], p[1]) for p in value]


class JsonService(BuiltinService):
    service_id = "json"

    def functions(self) -> dict[str, Function]:
        return {
            "obj": lambda args, ctx: _put_pairs({}, args),
            "put": self.put,
            "puts": self.puts,
            "parse": self.parse,
            "stringify": self.stringify,
            "obj_pairs": self.obj_pairs,
            "puts_pairs": self.puts_pairs,
        }

    def put(self, args: list[Any], ctx: CallContext) -> dict[str, Any]:
        obj = arg(args, 0, "object", dict)
        key = arg(args, 1, "key", str)
        if len(args) < 3:
            raise BuiltinError("Error: Field 'value' is missing from args to call_service\nMissingField(\"value\")")
        return {**obj, key: args[2]}

    def puts(self, args: list[Any], ctx: CallContext) -> dict[str, Any]:
        return _put_pairs(arg(args, 0, "object", dict), args[1:])

    def parse(self, args: list[Any], ctx: CallContext) -> Any:
        exact_arity(args, 1)
        text = arg(args, 0, "x", str)
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise BuiltinError(f"Error: error parsing json {text}\n\nCaused by:\n    {err}") from err

    def stringify(self, args: list[Any], ctx: CallContext) -> str:
        exact_arity(args, 1)
        return stringify(args[0])

    def obj_pairs(self, args: list[Any], ctx: CallContext) -> dict[str, Any]:
        exact_arity(args, 1)
        return dict(_pairs(args[0], "x"))

    def puts_pairs(self, args: list[Any], ctx: CallContext) -> dict[str, Any]:
        exact_arity(args, 2)
        if not isinstance(args[0], dict):
            raise BuiltinError(f"expected json object, got {stringify(args[0])}")
        return {**args[0], **dict(_pairs(args[1], "y"))}
