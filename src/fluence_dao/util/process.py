"""Background processes that outlive the command that started them (anvil, the peer daemon, an IPFS server).

A `ManagedProcess` is described by a `ProcessSpec`: the command line, a log file, a pid file and a health check.
`start()` is idempotent (a healthy running process is reused), waits for health by polling (no fixed sleeps)
and raises `StartupTimeoutError` with the log tail; `stop()` sends SIGTERM, then SIGKILL after a grace period.
The pid file holds the pid and the command line, so a recycled pid is never mistaken for our process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fluence_dao.errors import DevnetError, StartupTimeoutError, ToolNotFoundError

log = logging.getLogger(__name__)

HealthCheck = Callable[[], bool]


@dataclass(frozen=True)
class ProcessSpec:
    """How to run one background process. `health` must be quick and must not raise."""

    name: str
    argv: Sequence[str]
    log_path: Path
    pid_path: Path
    health: HealthCheck
    startup_timeout_s: float = 30.0
    stop_timeout_s: float = 10.0
    cwd: Path | None = None
    env: Mapping[str, str] | None = None
    port: int | None = None  # informational: the port it listens on (127.0.0.1), shown by status


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    pid: int | None
    running: bool
    healthy: bool
    log_path: str
    port: int | None = None
    argv: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "pid": self.pid,
            "running": self.running,
            "healthy": self.healthy,
            "port": self.port,
            "log": self.log_path,
        }


class ManagedProcess:
    """One background process tracked through its pid file."""

    def __init__(self, spec: ProcessSpec) -> None:
        self.spec = spec
        self._exit_codes: dict[int, int] = {}  # our children that exited, reaped while waiting

    @property
    def name(self) -> str:
        return self.spec.name

    def pid(self) -> int | None:
        """The pid of our running process, or None (a stale pid file is removed)."""
        record = self._read_pid_file()
        if record is None:
            return None
        pid, argv0 = record
        if _alive(pid) and _cmdline_matches(pid, argv0):
            return pid
        log.debug("%s: stale pid file %s (pid %s gone)", self.name, self.spec.pid_path, pid)
        with contextlib.suppress(FileNotFoundError):
            self.spec.pid_path.unlink()
        return None

    def healthy(self) -> bool:
        try:
            return bool(self.spec.health())
        except Exception:  # a health probe must never break status reporting
            log.debug("%s: health check raised", self.name, exc_info=True)
            return False

    def status(self) -> ProcessStatus:
        pid = self.pid()
        return ProcessStatus(
            name=self.name,
            pid=pid,
            running=pid is not None,
            healthy=pid is not None and self.healthy(),
            log_path=str(self.spec.log_path),
            port=self.spec.port,
            argv=list(self.spec.argv),
        )

    def start(self) -> tuple[int, bool]:
        """Start (or reuse) the process; returns (pid, started_now). Raises StartupTimeoutError."""
        existing = self.pid()
        if existing is not None:
            if self._wait_healthy(existing, self.spec.startup_timeout_s):
                log.info("%s already running (pid %d)", self.name, existing)
                return existing, False
            raise StartupTimeoutError(
                f"{self.name} (pid {existing}) is running but not healthy; stop it first. Log tail:\n"
                + "\n".join(self.log_tail(20)),
                process=self.name,
                pid=existing,
                log=str(self.spec.log_path),
            )
        if self.healthy():
            raise DevnetError(
                f"something else already answers {self.name}'s health check (not started by us; pid file "
                f"{self.spec.pid_path} is missing): stop it or choose another port",
                process=self.name,
            )
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.spec.pid_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.spec.log_path, "ab") as log_file:
            log_file.write(f"--- {self.name} starting: {' '.join(self.spec.argv)}\n".encode())
        pid = self._spawn()
        self.spec.pid_path.write_text(json.dumps({"pid": pid, "argv0": self.spec.argv[0]}) + "\n")
        if not self._wait_healthy(pid, self.spec.startup_timeout_s):
            code = self._exit_codes.get(pid)
            self.stop()
            why = (
                f"exited with code {code}" if code is not None else f"not healthy after {self.spec.startup_timeout_s}s"
            )
            raise StartupTimeoutError(
                f"{self.name} {why}. Log tail ({self.spec.log_path}):\n" + "\n".join(self.log_tail(20)),
                process=self.name,
                exit_code=code,
                log=str(self.spec.log_path),
            )
        log.info("%s started (pid %d)", self.name, pid)
        return pid, True

    def stop(self) -> bool:
        """SIGTERM, wait up to stop_timeout_s, then SIGKILL. Returns whether a process was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal(pid, signal.SIGTERM)
        if not self._wait_gone(pid, self.spec.stop_timeout_s):
            log.warning("%s (pid %d) ignored SIGTERM for %ss; killing it", self.name, pid, self.spec.stop_timeout_s)
            _signal(pid, signal.SIGKILL)
            if not self._wait_gone(pid, 5.0):
                log.error("%s (pid %d) is still there 5 s after SIGKILL", self.name, pid)
        with contextlib.suppress(FileNotFoundError):
            self.spec.pid_path.unlink()
        return True

    def log_tail(self, lines: int = 40) -> list[str]:
        try:
            with open(self.spec.log_path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - 64 * 1024))
                text = handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return text.splitlines()[-lines:] if lines > 0 else []

    def _spawn(self) -> int:
        """posix_spawn in a new session (Ctrl-C in the terminal does not reach it), stdin from /dev/null,
        stdout and stderr appended to the log. No Popen object: the process outlives this one by design."""
        argv = [str(a) for a in self.spec.argv]
        if self.spec.cwd is not None:  # posix_spawn has no cwd: let sh change directory, then exec (no quoting)
            argv = ["/bin/sh", "-c", 'cd "$0" && exec "$@"', str(self.spec.cwd), *argv]
        env = dict(self.spec.env) if self.spec.env is not None else dict(os.environ)
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(self.spec.log_path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        try:
            return os.posix_spawnp(argv[0], argv, env, file_actions=actions, setsid=True)
        except OSError as err:
            raise ToolNotFoundError(
                f"cannot start {self.name}: {argv[0]}: {err.strerror}", process=self.name, path=argv[0]
            ) from err

    def _wait_healthy(self, pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        delay = 0.02
        while True:
            code = _reap(pid)
            if code is not None:
                self._exit_codes[pid] = code
                return False
            if not _alive(pid):
                return False
            if self.healthy():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def _wait_gone(self, pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        delay = 0.01
        while _alive(pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
        return True

    def _read_pid_file(self) -> tuple[int, str] | None:
        try:
            data = json.loads(self.spec.pid_path.read_text())
            return int(data["pid"]), str(data.get("argv0", ""))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            log.warning("%s: unreadable pid file %s, ignoring it", self.name, self.spec.pid_path)
            return None


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(pid: int) -> int | None:
    """The exit code if `pid` is our child and has exited (reaping it), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if done == pid else None


def _alive(pid: int) -> bool:
    """True if `pid` runs and is not a zombie (our own exited children are reaped here)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            with contextlib.suppress(ChildProcessError):  # it exited between the two checks: reap it if ours
                os.waitpid(pid, os.WNOHANG)
            return False
        return True
    except (OSError, IndexError):
        return True


def _cmdline_matches(pid: int, argv0: str) -> bool:
    """Whether `pid` runs the program we started (for a `#!` script, the kernel puts the interpreter first)."""
    if not argv0:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the pid file
    return Path(argv0).name in {Path(os.fsdecode(part)).name for part in cmdline[:3] if part}
