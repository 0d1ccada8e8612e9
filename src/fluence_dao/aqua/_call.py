"""Parse a function call written as `fluence run -f` takes it: `name(arg1, "literal", 42, [1, 2])`.

Bare identifiers are looked up in the `data` mapping (`--data JSON`); everything else is a JSON literal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from fluence_dao.errors import AquaCompileError
from fluence_dao.util.json_types import Args, JsonValue

_CALL = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\((?P<args>.*)\)\s*$", re.DOTALL)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class FunctionCall:
    name: str
    args: Args


def parse_function_call(text: str, data: Mapping[str, JsonValue] | None = None) -> FunctionCall:
    match = _CALL.match(text)
    if match is None:
        raise AquaCompileError(
            f"cannot parse function call {text!r}: expected `name(arg, ...)`", file="<call>", call=text
        )
    values = data or {}
    args: Args = []
    for raw in _split_top_level(match.group("args"), text):
        token = raw.strip()
        if _IDENT.match(token) and token not in ("true", "false", "null"):
            if token not in values:
                known = ", ".join(sorted(values)) or "none"
                raise AquaCompileError(
                    f"argument {token!r} of {text!r} is not in --data (keys: {known})", file="<call>", call=text
                )
            args.append(values[token])
            continue
        try:
            args.append(json.loads(token))
        except json.JSONDecodeError as err:
            raise AquaCompileError(
                f"argument {token!r} of {text!r} is neither a --data key nor a JSON literal", file="<call>", call=text
            ) from err
    return FunctionCall(name=match.group("name"), args=args)


def _split_top_level(text: str, call: str) -> list[str]:
    if not text.strip():
        return []
    parts: list[str] = []
    depth = 0
    in_string = False
    escaped = False
    start = 0
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if in_string or depth != 0:
        raise AquaCompileError(f"unbalanced quotes or brackets in {call!r}", file="<call>", call=call)
    parts.append(text[start:])
    if any(not p.strip() for p in parts):
        raise AquaCompileError(f"empty argument in {call!r}", file="<call>", call=call)
    return parts
