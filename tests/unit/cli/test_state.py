"""One invocation's configuration: Settings and the FlowContext built once, from the command's flags over the
environment, and the context closed at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from _helpers import cli_sandbox
from fluence_dao.cli import CliState, Flags

RPC = "http://127.0.0.1:1"


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return cli_sandbox(monkeypatch, tmp_path)  # FLUENCE_DAO_STATE_DIR only


def test_settings_are_built_once_from_the_flags_over_the_environment(state_dir: Path) -> None:
    state = CliState()
    settings = state.settings(Flags(rpc_url=RPC))
    assert settings.eth.rpc_url == RPC and settings.state_dir == state_dir.resolve()
    assert state.settings(Flags(rpc_url=RPC)) is settings
    with pytest.raises(RuntimeError, match="already built"):  # one invocation, one configuration
        state.settings(Flags())
    flag = state_dir.parent / "from-flag"
    assert CliState().settings(Flags(state_dir=flag)).state_dir == flag.resolve()


def test_demo_moves_the_settings_into_its_own_state_dir(state_dir: Path) -> None:
    state = CliState()
    configured = state.settings(Flags(rpc_url=RPC)).state_dir
    moved = state.move_state_dir(configured / "demo")
    assert moved.state_dir == configured / "demo" and moved.eth.rpc_url == RPC
    assert state.settings(Flags(state_dir=configured / "demo", rpc_url=RPC)) is moved


def test_the_context_is_built_once_and_closed_at_the_end(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = CliState()
    context = state.context()
    assert state.context() is context and context.settings is state.settings()
    closed: list[object] = []
    monkeypatch.setattr(context, "close", lambda: closed.append(context))  # what the root callback's close reaches
    with pytest.raises(RuntimeError, match="flow context already is"):
        state.move_state_dir(state_dir / "demo")
    state.close()
    state.close()  # once only
    assert closed == [context]
    assert state.context() is not context  # a later use opens a new one
