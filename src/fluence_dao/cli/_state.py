"""One CLI invocation's configuration: its Settings and its FlowContext, each built once, on first use.

The root callback (`main.root`) stores a `CliState` in the click context's `obj` and closes it when the invocation
ends. A command names the flags that override configuration, `_state.settings(state_dir=..., rpc_url=...)`, and
the first call builds Settings from them > env > `.env` > defaults. pydantic and the flows are imported only then,
so `--help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from fluence_dao.config import Settings
    from fluence_dao.flows import FlowContext


class Flags(NamedTuple):
    """The flags of a command that override configuration (None: not given)."""

    state_dir: Path | None = None
    rpc_url: str | None = None
    ens_registry: str | None = None
    ipfs_api_url: str | None = None


NO_FLAGS = Flags()


class CliState:
    """Settings and the FlowContext of one invocation. Built lazily: a command that needs neither costs nothing."""

    def __init__(self) -> None:
        self._flags: Flags | None = None
        self._settings: Settings | None = None
        self._context: FlowContext | None = None

    def settings(self, flags: Flags = NO_FLAGS) -> Settings:
        """Settings from `flags` > env > `.env` > defaults, built on the first call.

        A later call must give the same flags: one invocation has one configuration."""
        if self._settings is None:
            self._settings, self._flags = _load(flags), flags
        elif flags != self._flags:
            raise RuntimeError(f"settings already built from {self._flags}, asked again with {flags}")
        return self._settings

    def move_state_dir(self, state_dir: Path) -> Settings:
        """Settings built again with `state_dir` as the flag (`demo`'s own dir under the configured one)."""
        if self._flags is None or self._context is not None:
            raise RuntimeError("move_state_dir: the settings are not built yet, or the flow context already is")
        self._flags = self._flags._replace(state_dir=state_dir)
        self._settings = _load(self._flags)
        return self._settings

    def context(self, flags: Flags = NO_FLAGS) -> FlowContext:
        """The FlowContext over `settings(flags)`, built on the first call, closed by `close`."""
        settings = self.settings(flags)
        if self._context is None:
            from fluence_dao.flows import FlowContext  # lazy: the flows import web3 and wasmtime (~0.2 s)

            self._context = FlowContext(settings)
        return self._context

    def close(self) -> None:
        """Close what the context opened (chain, IPFS); called when the invocation ends, also on failure."""
        context, self._context = self._context, None
        if context is not None:
            context.close()


def current() -> CliState:
    """The running invocation's state (the root callback created it)."""
    # lazy: `fluence_dao.cli` exports this module, and typer must first be imported by cli.main, after it turned
    # rich help off (TYPER_USE_RICH, ~150 ms of `--help`); typer 0.29 vendors click (pinned in pyproject)
    from typer._click.globals import get_current_context

    state = get_current_context().find_object(CliState)
    if state is None:
        raise RuntimeError("no CliState: a command ran without the root callback of fluence_dao.cli.main")
    return state


def settings(
    *,
    state_dir: Path | None = None,
    rpc_url: str | None = None,
    ens_registry: str | None = None,
    ipfs_api_url: str | None = None,
) -> Settings:
    """The invocation's Settings, with these flags (None: not given) over env, `.env` and defaults."""
    return current().settings(Flags(state_dir, rpc_url, ens_registry, ipfs_api_url))


def context(
    *, state_dir: Path | None = None, rpc_url: str | None = None, ens_registry: str | None = None
) -> FlowContext:
    """The invocation's FlowContext over `settings(...)` of these flags."""
    return current().context(Flags(state_dir, rpc_url, ens_registry))


def _load(flags: Flags) -> Settings:
    from fluence_dao.config import load_settings  # lazy: pydantic costs ~80 ms of CLI start-up

    return load_settings(
        {
            "state_dir": flags.state_dir,
            "eth": {"rpc_url": flags.rpc_url, "ens_registry": flags.ens_registry},
            "ipfs": {"api_url": flags.ipfs_api_url},
        }
    )
