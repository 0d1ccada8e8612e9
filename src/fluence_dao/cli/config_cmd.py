"""`fluence-dao config show`: the effective configuration (flags > env > .env > defaults), keys masked."""

from __future__ import annotations

import json as json_lib
from typing import Annotated

import typer

from fluence_dao.cli import _state, console
from fluence_dao.cli._options import JsonOption, StateDirOption
from fluence_dao.util.json_types import JsonValue

app = typer.Typer(help="Configuration: what fluence-dao will use, and where it came from.", no_args_is_help=True)


def _flatten(prefix: str, value: JsonValue, out: list[tuple[str, JsonValue]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}__{key}" if prefix else key, item, out)
    else:
        out.append((prefix, value))


def _env_value(value: JsonValue) -> str:
    """A value as the environment takes it: lists and objects as JSON, booleans as true/false, unset as ''."""
    if value is None:
        return ""
    if isinstance(value, bool | list | dict):
        return json_lib.dumps(value)
    return str(value)


@app.command()
def show(
    rpc_url: Annotated[str | None, typer.Option("--rpc-url", help="Override eth.rpc_url for this view.")] = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Print every setting as FLUENCE_DAO_* = value; secrets show as ********** (or null when unset)."""
    from fluence_dao.config import ENV_PREFIX  # lazy: pydantic

    masked = _state.settings(state_dir=state_dir, rpc_url=rpc_url).masked()
    rows: list[tuple[str, JsonValue]] = []
    _flatten("", masked, rows)
    text = "\n".join(f"{ENV_PREFIX}{key.upper()}={_env_value(value)}" for key, value in rows)
    console.emit(masked, text)
