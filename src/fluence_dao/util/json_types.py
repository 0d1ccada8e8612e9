"""Type aliases for JSON values: what Aqua calls, builtins, Kubo and GraphQL exchange.

One definition, reused at every seam where the shape is arbitrary JSON. A value whose shape is known gets a
TypedDict or a dataclass instead.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Collection, Mapping, Sequence
from pathlib import PurePath
from typing import TypeAlias

JsonScalar: TypeAlias = str | int | float | bool | None
JsonValue: TypeAlias = "JsonScalar | Sequence[JsonValue] | Mapping[str, JsonValue]"
"""Containers are the read-only (covariant) ABCs, so a `list[str]` or a `dict[str, int]` is a JSON value; what
`json.loads` returns is a list or a dict."""
JsonObject: TypeAlias = dict[str, JsonValue]
JsonArray: TypeAlias = list[JsonValue]
Args: TypeAlias = list[JsonValue]
"""The arguments of a call from AIR: a list of JSON values, one per argument."""

JSON_NAME = "json_name"
"""Dataclass field metadata key: the name of the field in `to_json` output (`field(metadata=json_name("from"))`)."""


def json_name(name: str) -> dict[str, str]:
    """Field metadata that renames a dataclass field in `to_json` output (for names Python cannot use)."""
    return {JSON_NAME: name}


JSON_OMIT_NONE = "json_omit_none"
"""Dataclass field metadata key: `to_json` leaves the field out while its value is None."""


def omit_none() -> dict[str, bool]:
    """Field metadata for an optional fact: no key at all while the field is None (not `null`), for documents
    whose readers test a key's presence (`"error" in peer`)."""
    return {JSON_OMIT_NONE: True}


def to_json(value: object) -> JsonValue:
    """`value` as plain JSON data: objects with `to_dict()` by it, other dataclasses by field (renamed by
    `json_name` metadata), mappings, sequences, paths and enums as strings. One serialiser for every typed result
    the CLI prints with `--json`, instead of a hand-written dict per class."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):  # the class's own serialisation comes first
        return to_json(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json_object(value)
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


def to_json_object(value: object, *, exclude: Collection[str] = (), only: Collection[str] | None = None) -> JsonObject:
    """A dataclass instance as a JSON object, one key per field (see `to_json`), without the fields in `exclude`
    and those with `omit_none()` metadata that are None. `only` names the fields to write, for documents other
    parties read: a field added later stays out until someone adds it here."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        raise TypeError(f"to_json_object takes a dataclass instance, not a {type(value).__name__}")
    out: JsonObject = {}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        if field.name in exclude or (only is not None and field.name not in only):
            continue
        if item is None and field.metadata.get(JSON_OMIT_NONE):
            continue
        out[field.metadata.get(JSON_NAME, field.name)] = to_json(item)
    return out


__all__ = [
    "JSON_NAME",
    "JSON_OMIT_NONE",
    "Args",
    "JsonArray",
    "JsonObject",
    "JsonScalar",
    "JsonValue",
    "json_name",
    "omit_none",
    "to_json",
    "to_json_object",
]
