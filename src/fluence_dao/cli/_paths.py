"""Checks of paths given on the command line, made before a command does any work.

Each failure is a usage error (exit 2) naming the flag, the path and what is wrong with it. Writability is probed by
creating (and removing) a file, since permission bits say little for root or on a read-only file system.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer


def _bad(flag: str, path: Path, problem: str) -> typer.BadParameter:
    return typer.BadParameter(f"{path}: {problem}", param_hint=flag)


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


def existing_ancestor(path: Path) -> Path:
    """The nearest of `path` and its parents that exists (at worst the file system's root)."""
    current = path.absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def writable_dir(path: Path, flag: str, *, create: bool = True) -> Path:
    """`path` is (or can be created as) a directory this process can write in; created when `create`."""
    if path.exists() and not path.is_dir():
        raise _bad(flag, path, "exists and is not a directory")
    ancestor = existing_ancestor(path)
    if not ancestor.is_dir():
        raise _bad(flag, path, f"{ancestor} is a file, not a directory")
    if not create and not path.exists():
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".fluence-dao-probe-"):
            pass
    except OSError as err:
        raise _bad(flag, path, f"cannot write there ({_reason(err)})") from None
    return path


def writable_file(path: Path, flag: str) -> Path:
    """`path` can be written as a file: not a directory, its directory exists (or is created) and takes files."""
    if path.is_dir():
        raise _bad(flag, path, "is a directory; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise _bad(flag, path, "exists and is not writable")
    try:
        writable_dir(path.parent, flag)
    except typer.BadParameter as err:
        raise _bad(flag, path, f"its directory {err.message}") from None
    return path


def readable_file(path: Path, flag: str) -> Path:
    """`path` is an existing, readable file."""
    if not path.exists():
        raise _bad(flag, path, "no such file")
    if path.is_dir():
        raise _bad(flag, path, "is a directory, not a file")
    try:
        with path.open("rb"):
            pass
    except OSError as err:
        raise _bad(flag, path, f"cannot be read ({_reason(err)})") from None
    return path


def state_dir(path: Path | None, flag: str = "--state-dir") -> Path | None:
    """A --state-dir value: None (not given) or a directory, existing or not, that is not below a file."""
    if path is None:
        return None
    if path.exists() and not path.is_dir():
        raise _bad(flag, path, "is a file, not a directory")
    ancestor = existing_ancestor(path)
    if not ancestor.is_dir():
        raise _bad(flag, path, f"{ancestor} is a file, not a directory")
    return path


def writable_state_dir(path: Path, *, given: bool) -> Path:
    """The state dir a command writes to: from --state-dir (a usage error when it cannot be written), else from
    FLUENCE_DAO_STATE_DIR or the default (a ConfigError naming the variable)."""
    if given:
        return writable_dir(path, "--state-dir")
    try:
        return writable_dir(path, "FLUENCE_DAO_STATE_DIR")
    except typer.BadParameter as err:
        from fluence_dao.errors import ConfigError

        raise ConfigError(
            f"the state dir {err.message} (set FLUENCE_DAO_STATE_DIR or pass --state-dir)", path=str(path)
        ) from None
