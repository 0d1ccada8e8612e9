"""Options shared by many commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fluence_dao.cli import _paths, console


def _json_callback(value: bool) -> bool:
    if value:
        console.set_json(True)
    return value


def _state_dir_callback(value: Path | None) -> Path | None:
    return _paths.state_dir(value)


JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document on stdout.", callback=_json_callback, is_eager=True),
]


StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Runtime state dir (env FLUENCE_DAO_STATE_DIR; default ./.fluence-dao).",
        callback=_state_dir_callback,
    ),
]
