"""to_json: the one serialiser behind every `--json` result."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fluence_dao.util.json_types import json_name, omit_none, to_json, to_json_object


class Colour(enum.Enum):
    RED = "red"


@dataclass
class Inner:
    path: Path
    colour: Colour


@dataclass
class Outer:
    sender: str = field(metadata=json_name("from"))
    inner: Inner = field(default_factory=lambda: Inner(Path("/a/b"), Colour.RED))
    items: tuple[int, ...] = (1, 2)
    secret: str = "hidden"


def test_dataclasses_are_written_by_field_with_renames_and_nested_values() -> None:
    assert to_json(Outer("0xabc")) == {
        "from": "0xabc",
        "inner": {"path": "/a/b", "colour": "red"},
        "items": [1, 2],
        "secret": "hidden",
    }


@dataclass
class Optional_:
    error: str | None = field(default=None, metadata=omit_none())
    value: int | None = None


def test_omit_none_fields_have_no_key_while_none() -> None:
    assert to_json(Optional_()) == {"value": None}
    assert to_json(Optional_("down", 0)) == {"error": "down", "value": 0}


def test_excluded_fields_are_left_out() -> None:
    assert "secret" not in to_json_object(Outer("0xabc"), exclude={"secret"})


def test_objects_that_are_not_json_are_named_in_the_error() -> None:
    with pytest.raises(TypeError, match="cannot write a bytes as JSON"):
        to_json({"key": b"\x00"})
    with pytest.raises(TypeError, match=r"not a \w*Path"):
        to_json_object(Path("/"))


def test_only_writes_the_named_fields() -> None:
    assert to_json_object(Outer("0xabc"), only=("sender", "items")) == {"from": "0xabc", "items": [1, 2]}
