"""Rendering for every command: results on stdout, progress and logs on stderr.

With `--json`, stdout holds exactly one JSON document. Without it, stdout holds only the result
(a CID, an address, a table); everything else goes to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_json_mode = False


def set_json(enabled: bool) -> None:
    global _json_mode
    _json_mode = enabled


def json_mode() -> bool:
    return _json_mode


def emit(result: Any, text: str | None = None) -> None:
    """Print a command's result: JSON when --json is on, else `text` (or the result itself)."""
    if _json_mode:
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
    else:
        sys.stdout.write((text if text is not None else _plain(result)) + "\n")
    sys.stdout.flush()


def _plain(result: Any) -> str:
    if isinstance(result, str):
        return result
    return json.dumps(result, indent=2, sort_keys=True, default=str)


def info(message: str) -> None:
    """A progress line on stderr (silent in --json mode)."""
    if not _json_mode:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()


@contextmanager
def status(message: str) -> Iterator[None]:
    """A rich spinner on stderr while waiting; plain and silent when stderr is not a TTY or --json is on."""
    if _json_mode or not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield
