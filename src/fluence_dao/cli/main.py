"""Root of the `fluence-dao` CLI.

Exit codes (documented in docs/cli.md):
  0    success
  1    the operation failed (a FluenceDaoError: bad input, a failing service, a chain error, ...)
  2    usage error (unknown command or option, bad argument)
  3    internal error (a bug: a traceback is printed)
  130  interrupted (Ctrl-C)

With `--json`, every outcome is one JSON document on stdout (a result, or an error of any kind); progress goes to
stderr in both modes (`console`), silent with `--quiet`.

Command groups are imported lazily by Typer only when their module is loaded here; each group module
imports heavy libraries (web3, wasmtime) inside its command functions, so `--help` stays fast.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback
from typing import Annotated

# Plain help for every group: rendering it with rich costs ~150 ms of `--help` (Typer reads this at import).
os.environ.setdefault("TYPER_USE_RICH", "0")

import typer
from typer._click import exceptions as click_errors  # typer 0.29 vendors click (pinned in pyproject)

from fluence_dao import __version__
from fluence_dao.cli import commands, console
from fluence_dao.cli._state import CliState
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
    add_completion=True,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fluence-dao {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "-v",
            "--verbose",
            count=True,
            help="Log fluence-dao's details to stderr; twice (-vv) also the libraries' (web3, HTTP).",
        ),
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="No progress on stderr (errors and warnings still show).")
    ] = False,
) -> None:
    """fluence-dao: governed WebAssembly services, a local Fluence peer, IPFS and ENS."""
    console.reset()  # per invocation: a command's eager --json option turns JSON back on
    console.set_quiet(quiet)
    _configure_logging(verbose)
    state = ctx.obj = CliState()  # Settings and the FlowContext, built once when a command first asks
    ctx.call_on_close(state.close)


_log_handler: logging.Handler | None = None


def _configure_logging(verbose: int) -> None:
    """Warnings by default; -v: fluence-dao's debug logs; -vv: every library's too (web3 logs whole responses)."""
    global _log_handler
    root_logger = logging.getLogger()
    if _log_handler is not None:
        root_logger.removeHandler(_log_handler)
    _log_handler = logging.StreamHandler(sys.stderr)
    _log_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    _log_handler.addFilter(console.SkipProgress())
    root_logger.addHandler(_log_handler)  # levels are the loggers' (a server command raises fluence_dao's to INFO)
    root_logger.setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    logging.getLogger("fluence_dao").setLevel(logging.DEBUG if verbose else logging.NOTSET)


commands.register(app)  # each command module keeps its heavy imports inside its commands


class _Interrupted(BaseException):
    """Raised from the SIGINT handler; a BaseException so no library layer swallows or rewraps it."""


def _on_sigint(signum: int, frame: object) -> None:
    raise _Interrupted


def main() -> None:
    """Console-script entry point: runs the CLI and exits with the documented code.

    The umask 077 makes every file this process and its children (ipfs/subgraph serve, the peer daemon, anvil)
    create readable by this user only: the state dir holds keys, tokens and logs.
    """
    os.umask(0o077)
    signal.signal(signal.SIGINT, _on_sigint)
    sys.exit(run(sys.argv[1:]))


def run(args: list[str]) -> int:
    """Run one invocation and return its exit code; nothing escapes as a traceback except a bug's (exit 3).

    Every outcome is mapped here: usage errors (2), FluenceDaoError (1), a file-system error the commands did not
    check for (1, naming the path), Ctrl-C (130) and bugs (3, with the traceback on stderr). With --json, stdout
    then holds exactly one JSON document, `{"error": {"type", "message", ...}}` unless a result was written.
    """
    wants_json = "--json" in args  # a usage error can stop parsing before the option's own callback runs
    console.reset()
    try:
        outcome = app(args=args, prog_name="fluence-dao", standalone_mode=False)
    except click_errors.NoArgsIsHelpError as err:
        err.show()
        return EXIT_USAGE
    except click_errors.ClickException as err:
        _name_the_value(err, args)
        err.show()
        if wants_json or console.json_mode():
            console.emit_error(_usage_error(err))
        return err.exit_code
    except typer.Abort:
        sys.stderr.write("aborted\n")
        return EXIT_FAILED
    except FluenceDaoError as err:
        _report(err, wants_json)
        return EXIT_FAILED
    except (_Interrupted, KeyboardInterrupt):
        sys.stderr.write("interrupted\n")
        if wants_json or console.json_mode():
            console.emit_error({"type": "Interrupted", "message": "interrupted"})
        return EXIT_INTERRUPTED
    except OSError as err:
        logging.getLogger(__name__).debug("file-system error", exc_info=True)
        _report(_os_error(err), wants_json)
        return EXIT_FAILED
    except Exception as err:
        traceback.print_exc()
        sys.stderr.write("internal error: this is a bug in fluence-dao; please report it with the traceback\n")
        if wants_json or console.json_mode():
            console.emit_error(
                {
                    "type": "InternalError",
                    "message": f"internal error (a bug in fluence-dao): {type(err).__name__}: {err}",
                    "exception": type(err).__name__,
                }
            )
        return EXIT_INTERNAL
    return outcome if isinstance(outcome, int) else EXIT_OK


def _name_the_value(err: click_errors.ClickException, args: list[str]) -> None:
    """Typer's conversion errors ("Input should be a valid integer") do not say what was given: add the value of
    the option from the command line, so the message names the bad value as well as the option."""
    opts = getattr(getattr(err, "param", None), "opts", None)
    if not isinstance(err, click_errors.BadParameter) or not opts or not err.message.startswith("Input should be"):
        return
    for index, token in enumerate(args):
        if token in opts and index + 1 < len(args):
            value = args[index + 1]
        elif token.startswith(tuple(f"{opt}=" for opt in opts if opt.startswith("--"))):
            value = token.partition("=")[2]
        else:
            continue
        err.message = f"{err.message} (got {value!r})"
        return


def _usage_error(err: click_errors.ClickException) -> dict[str, str]:
    out = {"type": "UsageError", "message": err.format_message()}
    ctx = getattr(err, "ctx", None)
    if ctx is not None:
        out["command"] = ctx.command_path
    param = getattr(err, "param", None)
    if param is not None and getattr(param, "opts", None):
        out["param"] = param.opts[0]
    elif hint := getattr(err, "param_hint", None):
        out["param"] = str(hint)
    return out


def _os_error(err: OSError) -> FluenceDaoError:
    """An OSError a command did not expect (disk full, a path that changed meanwhile), as a clean failure."""
    what = err.strerror or type(err).__name__
    path = err.filename
    message = f"{path}: {what}" if path is not None else f"{what} ({type(err).__name__})"
    if err.filename2 is not None:
        message += f" (with {err.filename2})"
    return FluenceDaoError(message, path=None if path is None else str(path), errno=err.errno)


def _report(err: FluenceDaoError, wants_json: bool) -> None:
    if wants_json or console.json_mode():
        console.emit_error(err.to_dict())
    sys.stderr.write(f"error: {err.message}\n")
