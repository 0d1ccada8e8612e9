"""`grouped_command`: a group's options reach the command as one dataclass and show as the command's last options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from fluence_dao.cli._groups import grouped_command

Level = Annotated[int, typer.Option("--level", min=0, help="How deep.")]
Where = Annotated[str | None, typer.Option("--where", help="Which place.")]
Thing = Annotated[str, typer.Argument(help="What to look at.")]
Close = Annotated[bool, typer.Option("--close", help="From near.")]


@dataclass(frozen=True)
class _Place:
    where: Where = None
    level: Level = 1


def _app(seen: list[tuple[_Place, str, bool]]) -> typer.Typer:
    app = typer.Typer()

    @grouped_command(app, "look")
    def look(place: _Place, thing: Thing, close: Close = False) -> None:
        """Look at THING."""
        seen.append((place, thing, close))

    @app.command()
    def other() -> None:  # two commands, so `look` is a subcommand
        """Nothing."""

    return app


def test_the_group_reaches_the_command_as_one_instance_with_defaults_and_values() -> None:
    seen: list[tuple[_Place, str, bool]] = []
    app = _app(seen)
    assert CliRunner().invoke(app, ["look", "moon"]).exit_code == 0
    assert CliRunner().invoke(app, ["look", "sun", "--close", "--where", "hill", "--level", "3"]).exit_code == 0
    assert seen == [(_Place(None, 1), "moon", False), (_Place("hill", 3), "sun", True)]


def test_the_group_options_are_checked_and_listed_after_the_commands_own() -> None:
    app = _app([])
    refused = CliRunner().invoke(app, ["look", "moon", "--level", "-1"])
    assert refused.exit_code == 2 and "--level" in refused.output
    text = CliRunner().invoke(app, ["look", "--help"]).output
    assert "Look at THING." in text
    assert text.index("--close") < text.index("--where") < text.index("--level")


def test_a_command_without_a_group_is_refused() -> None:
    with pytest.raises(TypeError, match="first parameter must be an option group"):

        @grouped_command(typer.Typer())
        def plain(name: str) -> None:
            """Not grouped."""
