"""The failed step of an aggregate run, dug out of AquaVM's nested error text."""

from __future__ import annotations

import json

from fluence_dao.flows.aggregate import step_message


def _nested(message: str, depth: int) -> str:
    """AquaVM wraps a service error in `fail with '<json>'` once per enclosing xor/fail."""
    inner = json.dumps(message)
    text = json.dumps(
        {"error_code": 10000, "message": f"Local service error, ret_code is 1, error message is '{inner}'"}
    )
    for _ in range(depth):
        text = json.dumps({"error_code": 10006, "message": f"fail with '{text}' is used without corresponding xor"})
    return f"fail with '{text}'"


def test_step_message_at_any_depth() -> None:
    for depth in range(3):
        message = "read the subgraph's indexed block: curl exited with 7: it's down"
        assert step_message(_nested(message, depth)) == message


def test_other_errors_pass_through() -> None:
    assert step_message("particle expired") == "particle expired"
