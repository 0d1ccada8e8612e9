"""docs/cli.md agrees with `--help`: its command reference lists every command with every argument and option the
CLI shows (and nothing else), and the overview tables name only commands and options that exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from fluence_dao.cli.main import app

DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"
COMMON = {"--json", "--state-dir"}  # documented once, named per command in its "Also takes" line


def _commands() -> dict[str, Any]:
    """Every command by its full name ('fluence-dao' for the root, 'fluence-dao ipfs pin ls', ...); groups too."""
    found: dict[str, Any] = {}

    def walk(command: Any, name: str) -> None:
        found[name] = command
        for child_name, child in sorted((getattr(command, "commands", None) or {}).items()):
            walk(child, f"{name} {child_name}")

    walk(typer.main.get_command(app), "fluence-dao")
    return found


def _leaves() -> dict[str, Any]:
    return {name: c for name, c in _commands().items() if not getattr(c, "commands", None) or name == "fluence-dao"}


def _help_names(command: Any) -> tuple[set[str], set[str]]:
    """(option names, argument names) as `--help` shows them."""
    options: set[str] = set()
    arguments: set[str] = set()
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "argument":
            arguments.add(param.name.upper())
        else:
            options.update(n for n in [*param.opts, *param.secondary_opts] if n != "--help")
    return options, arguments


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _reference() -> dict[str, str]:
    text = DOC.read_text().split("\n## Command reference\n", 1)[1]
    parts = re.split(r"^### `(fluence-dao[^`]*)`.*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _documented_names(body: str) -> tuple[set[str], set[str]]:
    options: set[str] = set()
    arguments: set[str] = set()
    for line in body.splitlines():
        if line.startswith("| `"):
            span = re.match(r"`([^`]*)`", _cells(line)[0])
            assert span is not None, line
            head = span.group(1)
            if head.startswith("-"):  # `-o, --output PATH`, `--pin/--no-pin`, `--port PORT`
                options.update(re.findall(r"(?<![\w-])-{1,2}[a-zA-Z][a-zA-Z0-9-]*", head))
            else:
                arguments.add(head)
        elif "Also takes" in line:
            options.update(re.findall(r"`(--[a-z][a-z0-9-]*)[^`]*`", line.split("Also takes", 1)[1]))
    return options, arguments


def test_the_reference_has_a_section_for_every_command_and_no_other() -> None:
    documented = set(_reference())
    commands = set(_leaves())
    assert documented - commands == set(), "documented, but no such command"
    assert commands - documented == set(), "commands docs/cli.md does not describe"


@pytest.mark.parametrize("name", sorted(_leaves()))
def test_the_reference_lists_what_help_shows(name: str) -> None:
    body = _reference().get(name)
    assert body is not None, f"no section for `{name}` in docs/cli.md"
    help_options, help_arguments = _help_names(_leaves()[name])
    doc_options, doc_arguments = _documented_names(body)
    assert doc_options == help_options, f"{name}: options in docs/cli.md differ from --help"
    assert doc_arguments == help_arguments, f"{name}: arguments in docs/cli.md differ from --help"
    if name != "fluence-dao":
        common = {o for o in help_options if o in COMMON}
        also = set(re.findall(r"`(--[a-z-]+)", body.split("Also takes", 1)[1].split("\n", 1)[0])) if common else set()
        assert also == common, f"{name}: its 'Also takes' line names {also}, --help shows {common}"


def _overview_spans() -> list[str]:
    """The first cells of the overview tables (before the reference): `command [options]` synopses."""
    overview = DOC.read_text().split("\n## Command reference\n", 1)[0]
    spans: list[str] = []
    for line in overview.splitlines():
        if line.startswith("| `"):
            spans += re.findall(r"`([^`]*)`", _cells(line)[0])
    return spans


def _resolve(span: str, commands: dict[str, Any]) -> list[str]:
    """The commands a synopsis names: `ipfs add\\|cat`, `devnet up\\|down`, `tree show [CID]`, `pin` (a group)."""
    names = ["fluence-dao"]
    for word in span.split():
        if not re.fullmatch(r"[a-z][a-z0-9-]*(\\\|[a-z][a-z0-9-]*)*", word):
            break
        names = [f"{base} {alt}" for base in names for alt in word.split("\\|")]
    out: list[str] = []
    for name in names:
        assert name in commands, f"docs/cli.md names `{name}`, which does not exist"
        out += [n for n in commands if n == name or n.startswith(name + " ")]
    return out


def test_the_overview_tables_name_only_existing_commands_and_options() -> None:
    commands = _commands()
    spans = _overview_spans()
    assert len(spans) > 15
    for span in spans:
        targets = _resolve(span, commands)
        if targets == ["fluence-dao"] or not span.split()[0][0].islower():
            continue  # not a synopsis (e.g. `--relay ...` prose in a cell)
        known = set().union(*(_help_names(commands[t])[0] for t in targets))
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", span):
            assert option in known, f"docs/cli.md: `{span}` shows {option}, which {targets} do not take"
