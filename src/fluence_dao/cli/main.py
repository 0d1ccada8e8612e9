"""Root of the `fluence-dao` CLI.

Exit codes (documented in docs/cli.md):
  0    success
  1    the operation failed (a FluenceDaoError: bad input, a failing service, a chain error, ...)
  2    usage error (unknown command or option, bad argument)
  3    internal error (a bug: a traceback is printed)
  130  interrupted (Ctrl-C)

Command groups are imported lazily by Typer only when their module is loaded here; each group module
imports heavy libraries (web3, wasmtime) inside its command functions, so `--help` stays fast.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Annotated

# Plain help for every group: rendering it with rich costs ~150 ms of `--help` (Typer reads this at import).
os.environ.setdefault("TYPER_USE_RICH", "0")

import typer

from fluence_dao import __version__
from fluence_dao.cli import _output
from fluence_dao.errors import FluenceDaoError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="fluence-dao",
    help="Autonomous, DAO-governed services on the Fluence compute model.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fluence-dao {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Log details to stderr.")] = False,
) -> None:
    """fluence-dao: governed WebAssembly services, a local Fluence peer, IPFS and ENS."""
    _output.set_json(False)  # per invocation: a command's eager --json option turns it back on
    level = logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def _register() -> None:
    """Attach command groups and top-level commands. Each module keeps its heavy imports inside commands."""
    from fluence_dao.cli import commands

    commands.register(app)


_register()


class _Interrupted(BaseException):
    """Raised from the SIGINT handler; a BaseException so no library layer swallows or rewraps it."""


def _on_sigint(signum: int, frame: object) -> None:
    raise _Interrupted


def main() -> None:
    """Console-script entry point: maps errors to the documented exit codes.

    Typer's standalone mode handles usage errors itself (exit 2); FluenceDaoError and Ctrl-C are mapped
    here so a failed operation is one clean line (or one JSON document) and never a traceback.
    The umask 077 makes every file this process and its children (ipfs/subgraph serve, the peer daemon, anvil)
    create readable by this user only: the state dir holds keys, tokens and logs.
    """
    os.umask(0o077)
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        app(prog_name="fluence-dao")
    except FluenceDaoError as err:
        _report(err)
        sys.exit(EXIT_FAILED)
    except _Interrupted:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    except Exception:
        import traceback

        traceback.print_exc()
        sys.stderr.write("internal error: this is a bug in fluence-dao; please report it with the traceback\n")
        sys.exit(EXIT_INTERNAL)


def _report(err: FluenceDaoError) -> None:
    if _output.json_mode() or "--json" in sys.argv:
        import json

        sys.stdout.write(json.dumps({"error": err.to_dict()}, indent=2, sort_keys=True) + "\n")
    sys.stderr.write(f"error: {err.message}\n")
