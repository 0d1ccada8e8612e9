"""Type aliases for JSON values: what Aqua calls, builtins, Kubo and GraphQL exchange.

One definition, reused at every seam where the shape is arbitrary JSON. A value whose shape is known gets a
TypedDict or a dataclass instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

JsonScalar: TypeAlias = str | int | float | bool | None
JsonValue: TypeAlias = "JsonScalar | Sequence[JsonValue] | Mapping[str, JsonValue]"
"""Containers are the read-only (covariant) ABCs, so a `list[str]` or a `dict[str, int]` is a JSON value; what
`json.loads` returns is a list or a dict."""
JsonObject: TypeAlias = dict[str, JsonValue]
JsonArray: TypeAlias = list[JsonValue]
Args: TypeAlias = list[JsonValue]
"""The arguments of a call from AIR: a list of JSON values, one per argument."""

__all__ = ["Args", "JsonArray", "JsonObject", "JsonScalar", "JsonValue"]
