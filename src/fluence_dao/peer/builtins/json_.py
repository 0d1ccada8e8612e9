"""`json`: obj, put, puts, parse, stringify, obj_pairs, puts_pairs (nox semantics; keys sorted like serde_json)."""

from __future__ import annotations

import json

from fluence_dao.peer.args import OBJECT, STR, arg, exact_arity
from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, export
from fluence_dao.util.json_types import Args, JsonObject, JsonValue


def stringify(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _put_pairs(obj: JsonObject, rest: Args) -> JsonObject:
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


def _pairs(value: JsonValue, field_name: str) -> list[tuple[str, JsonValue]]:
    pairs: list[tuple[str, JsonValue]] = []
    for p in value if isinstance(value, list) else [None]:
        if not (isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)):
            raise BuiltinError(
                f"Error: Error deserializing field '{field_name}': expected Vec<(String, serde_json::value::Value)>, "
                f"got {stringify(value)}"
            )
        pairs.append((p[0], p[1]))
    return pairs


class JsonService(BuiltinService):
    service_id = "json"

    @export()
    def obj(self, args: Args, ctx: CallContext) -> JsonObject:
        return _put_pairs({}, args)

    @export()
    def put(self, args: Args, ctx: CallContext) -> JsonObject:
        obj = arg(args, 0, "object", OBJECT)
        key = arg(args, 1, "key", STR)
        if len(args) < 3:
            raise BuiltinError("Error: Field 'value' is missing from args to call_service\nMissingField(\"value\")")
        return {**obj, key: args[2]}

    @export()
    def puts(self, args: Args, ctx: CallContext) -> JsonObject:
        return _put_pairs(arg(args, 0, "object", OBJECT), args[1:])

    @export()
    def parse(self, args: Args, ctx: CallContext) -> JsonValue:
        exact_arity(args, 1)
        text = arg(args, 0, "x", STR)
        try:
            parsed: JsonValue = json.loads(text)
        except json.JSONDecodeError as err:
            raise BuiltinError(f"Error: error parsing json {text}\n\nCaused by:\n    {err}") from err
        return parsed

    @export()
    def stringify(self, args: Args, ctx: CallContext) -> str:
        exact_arity(args, 1)
        return stringify(args[0])

    @export()
    def obj_pairs(self, args: Args, ctx: CallContext) -> JsonObject:
        exact_arity(args, 1)
        return dict(_pairs(args[0], "x"))

    @export()
    def puts_pairs(self, args: Args, ctx: CallContext) -> JsonObject:
        exact_arity(args, 2)
        if not isinstance(args[0], dict):
            raise BuiltinError(f"expected json object, got {stringify(args[0])}")
        return {**args[0], **dict(_pairs(args[1], "y"))}
