"""The interface-types limits beyond names and argument counts: record fields, record and field names, adapter
instruction lists (one-byte lengths in the binary format) fail loudly instead of producing a corrupt section;
the largest representable sizes still work."""

from __future__ import annotations

from typing import Any

import pytest

from fluence_dao.build import generate_interface_types
from fluence_dao.errors import BuildError

U8 = {"U8": "ByValue"}
STRING = {"Utf8String": "ByValue"}


def _record(name: str, fields: list[tuple[str, Any]]) -> dict[str, Any]:
    return {"ast_type": "Record", "name": name, "fields": {"Named": [{"name": n, "ty": t} for n, t in fields]}}


def _fn(name: str, args: list[tuple[str, Any]]) -> dict[str, Any]:
    arguments = [{"name": n, "ty": t} for n, t in args]
    return {"ast_type": "Function", "signature": {"name": name, "arguments": arguments, "output_types": []}}


def test_record_with_128_fields_is_refused_and_127_work() -> None:
    with pytest.raises(BuildError, match=r"fields of record 'Wide'.*at most 127"):
        generate_interface_types([_record("Wide", [(f"f{i}", U8) for i in range(128)])])
    assert generate_interface_types([_record("Wide", [(f"f{i}", U8) for i in range(127)])])


def test_record_and_field_names_over_255_bytes_are_refused() -> None:
    with pytest.raises(BuildError, match="record name"):
        generate_interface_types([_record("R" * 256, [("x", U8)])])
    with pytest.raises(BuildError, match="field name"):
        generate_interface_types([_record("R", [("é" * 128, U8)])])  # 256 bytes in UTF-8
    assert generate_interface_types([_record("R" * 255, [("x", U8)])])


def test_too_many_adapter_instructions_are_refused() -> None:
    # each string argument lowers with several instructions: 30 of them exceed 127 instructions, not 127 arguments
    with pytest.raises(BuildError, match="instructions of 'many_strings'"):
        generate_interface_types([_fn("many_strings", [(f"s{i}", STRING) for i in range(30)])])
