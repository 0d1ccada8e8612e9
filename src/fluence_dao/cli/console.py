"""Rendering for every command: results on stdout, progress and logs on stderr.

With `--json`, stdout holds exactly one JSON document: the result, or `{"error": {...}}` for a failure of any kind
(`main.run` writes those). Without it, stdout holds only the result (a CID, an address, a table). Progress goes to
stderr in both modes: a rich spinner (with the progress lines above it) when stderr is a terminal, plain lines when
it is not, nothing at all with the root `--quiet`.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import is_dataclass
from typing import TYPE_CHECKING

from fluence_dao.util.json_types import to_json

if TYPE_CHECKING:
    from rich.console import Console

_json_mode = False
_quiet = False
_emitted = False
_live_console: Console | None = None  # the rich Console of a running spinner: progress lines are printed above it
_pending: _Announcement | None = None  # a running `status`'s plain-line announcement, due before its first progress

#: A log record with this attribute was shown as a progress line; the CLI's log handler skips it.
PROGRESS_ATTR = "fluence_dao_progress"


def reset() -> None:
    """Forget the previous invocation's modes (one process may run several, e.g. in tests)."""
    global _json_mode, _quiet, _emitted
    _json_mode = _quiet = _emitted = False


def set_json(enabled: bool) -> None:
    global _json_mode
    _json_mode = enabled


def json_mode() -> bool:
    return _json_mode


def set_quiet(enabled: bool) -> None:
    global _quiet
    _quiet = enabled


def quiet() -> bool:
    return _quiet


def emitted() -> bool:
    """Whether this invocation already wrote its result document (a second one would break `--json`)."""
    return _emitted


def emit(result: object, text: str | None = None) -> None:
    """Print a command's result: JSON when --json is on, else `text` (or the result itself). A typed result (a
    dataclass, or an object with `to_dict`) is written by `to_json`; values JSON has no type for (a path) are
    written as their text."""
    global _emitted
    if _json_mode:
        sys.stdout.write(json.dumps(_json_data(result), indent=2, sort_keys=True, default=str) + "\n")
    else:
        sys.stdout.write((text if text is not None else _plain_document(result)) + "\n")
    sys.stdout.flush()
    _emitted = True


def emit_error(error: Mapping[str, object]) -> None:
    """The one JSON document of a failed invocation (only with --json, and only when no result was written)."""
    global _emitted
    if _emitted:
        return
    sys.stdout.write(json.dumps({"error": error}, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
    _emitted = True


def _json_data(result: object) -> object:
    if is_dataclass(result) or callable(getattr(result, "to_dict", None)):
        return to_json(result)
    return result


def _plain_document(result: object) -> str:
    if isinstance(result, str):
        return result
    return json.dumps(_json_data(result), indent=2, sort_keys=True, default=str)


def plain(value: object, missing: str = "-") -> str:
    """A value for human output, never a Python repr: None -> `missing`, bools yes/no, lists comma-separated."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(plain(item, missing) for item in value) or "(none)"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def info(message: str) -> None:
    """A progress line on stderr (in --json mode too; nothing with --quiet)."""
    if _quiet:
        return
    pending = _pending
    if pending is not None and not pending.done:
        pending()  # "publishing ..." before the operation's own first line
    if _live_console is not None:
        _live_console.print(message, markup=False, highlight=False, soft_wrap=True)
        return
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


@contextmanager
def status(message: str, *, loggers: Sequence[str] = ()) -> Iterator[None]:
    """Progress for an operation that may take more than a second.

    On a terminal: a rich spinner with `message`, progress lines printed above it. Otherwise plain lines: `message
    ...` once the operation has taken a second (or before its first progress line, `info` or a log line), and
    `message: done in S s` when it succeeds after that. The INFO records of `loggers` (e.g. "anvil started (pid 123)") are shown as progress lines
    meanwhile. Silent with --quiet.
    """
    global _live_console, _pending
    if _quiet:
        yield
        return
    if sys.stderr.isatty():
        from rich.console import Console

        console = Console(stderr=True)
        with console.status(message), _forward_logs(loggers):
            _live_console = console
            try:
                yield
            finally:
                _live_console = None
        return
    announce = _Announcement(f"{message} ...")
    timer = threading.Timer(1.0, announce)
    timer.daemon = True
    started = time.monotonic()
    outer, _pending = _pending, announce
    timer.start()
    try:
        with _forward_logs(loggers):
            yield
    finally:
        timer.cancel()
        _pending = outer
    if announce.done:
        info(f"{message}: done in {time.monotonic() - started:.1f} s")


class _Announcement:
    """A progress line printed once, by whichever comes first: the one-second timer or the first log line."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.done = False
        self._lock = threading.RLock()

    def __call__(self) -> None:
        with self._lock:
            if not self.done:
                self.done = True
                info(self.line)


class _ProgressHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        setattr(record, PROGRESS_ATTR, True)
        info(record.getMessage())


@contextmanager
def _forward_logs(names: Sequence[str]) -> Iterator[None]:
    if not names:
        yield
        return
    handler = _ProgressHandler()
    saved: list[tuple[logging.Logger, int]] = []
    for name in names:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)


class SkipProgress(logging.Filter):
    """For the CLI's log handler: records already shown as progress lines are not logged a second time."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, PROGRESS_ATTR, False)


def progress_bar_wanted(total: int, min_total: int) -> bool:
    """A byte-progress bar is worth showing: a terminal, not --quiet, and at least `min_total` to do."""
    return not _quiet and total >= min_total and sys.stderr.isatty()
