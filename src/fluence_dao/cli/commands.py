"""The one place where command groups and top-level commands are attached to the root app.

Add a line here for a new group; keep heavy imports inside the command functions of each module.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from fluence_dao.cli import module_cmd

    app.add_typer(module_cmd.app, name="module")
    app.command("build")(module_cmd.build)
