"""Option groups (cli/_groups.py): the ipfs and ens commands declare their shared options once; each command still
lists them, after its own options, and gets their values (tests/unit/ipfs/test_ipfs_cli.py runs the commands)."""

from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from fluence_dao.cli.main import app

STORE = ["--api", "--repo", "--json"]
CHAIN = ["--rpc-url", "--registry", "--state-dir", "--json"]
GROUPED = [
    (["ipfs", "add"], "--quiet", STORE),
    (["ipfs", "cat"], "--length", STORE),
    (["ipfs", "get"], "--output", STORE),
    (["ipfs", "dag-put"], "--pin", STORE),
    (["ipfs", "dag-get"], None, STORE),
    (["ipfs", "car-export"], "--output", STORE),
    (["ipfs", "car-import"], "--pin-roots", STORE),
    (["ipfs", "gc"], None, STORE),
    (["ipfs", "pin", "add"], "--recursive", STORE),
    (["ipfs", "pin", "rm"], None, STORE),
    (["ipfs", "pin", "ls"], "--type", STORE),
    (["ens", "get"], None, CHAIN),
    (["ens", "set"], None, CHAIN),
    (["ens", "owner"], None, CHAIN),
    (["ens", "set-owner"], None, CHAIN),
]


@pytest.mark.parametrize(("command", "own_last", "group"), GROUPED, ids=[" ".join(c) for c, _, _ in GROUPED])
def test_a_grouped_command_takes_the_group_after_its_own_options(
    command: list[str], own_last: str | None, group: list[str]
) -> None:
    click_command = typer.main.get_command(app)
    for name in command:
        click_command = click_command.commands[name]  # type: ignore[attr-defined]
    options = [param.opts[0] for param in click_command.params]
    assert options[-len(group) :] == group
    if own_last is not None:
        assert options[-len(group) - 1] == own_last


def test_a_group_option_is_checked_like_any_other() -> None:
    result = CliRunner().invoke(app, ["ens", "owner", "alpha.eth", "--state-dir", __file__])
    assert result.exit_code == 2
    assert "--state-dir" in result.output
