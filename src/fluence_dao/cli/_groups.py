"""Options that every command of a group takes, declared once in a dataclass instead of in each signature.

    @dataclass(frozen=True)
    class Store:
        api: ApiOption = None
        repo: RepoOption = None

    @grouped_command(app, "cat")
    def cat(store: Store, path: PathArg) -> None: ...

The command's first parameter is the group. Typer sees the group's fields as the command's last options (their
Annotated types and defaults, after the command's own arguments and options), and the command gets their values
as one instance of the group.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable

import typer

Command = Callable[..., None]


def grouped_command(app: typer.Typer, name: str | None = None) -> Callable[[Command], Command]:
    """`app.command(name)` for a command whose first parameter is an option group (a dataclass)."""

    def register(command: Command) -> Command:
        own = list(inspect.signature(command, eval_str=True).parameters.values())
        group = own[0].annotation if own else None
        if not (isinstance(group, type) and dataclasses.is_dataclass(group)):
            raise TypeError(f"{command.__name__}: the first parameter must be an option group (a dataclass)")
        hints = typing.get_type_hints(group, include_extras=True)
        fields = [field.name for field in dataclasses.fields(group)]
        options = [
            inspect.Parameter(
                field.name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[field.name], default=field.default
            )
            for field in dataclasses.fields(group)
        ]

        @functools.wraps(command)
        def run(**arguments: object) -> None:
            command(group(**{field: arguments.pop(field) for field in fields}), **arguments)

        signature = inspect.Signature([*own[1:], *options], return_annotation=None)
        # Typer reads the command's parameters from these two (the wrapped command's would name the group).
        run.__dict__["__signature__"] = signature
        run.__annotations__ = {param.name: param.annotation for param in signature.parameters.values()}
        app.command(name)(run)
        return run

    return register
