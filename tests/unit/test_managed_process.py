"""ManagedProcess pid-file bookkeeping (no subprocesses: real pids of this test process and of nothing)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from fluence_dao.util.process import ManagedProcess, ProcessSpec


def _proc(tmp_path: Path, argv0: str, healthy: bool = True) -> ManagedProcess:
    return ManagedProcess(
        ProcessSpec(
            name="probe",
            argv=[argv0],
            log_path=tmp_path / "probe.log",
            pid_path=tmp_path / "probe.pid",
            health=lambda: healthy,
            port=4242,
        )
    )


def _unused_pid() -> int:
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    for candidate in range(pid_max - 1, 1, -1):
        if not Path(f"/proc/{candidate}").exists():
            return candidate
    raise AssertionError("no free pid")


def test_a_stale_pid_file_is_ignored_and_removed(tmp_path: Path) -> None:
    proc = _proc(tmp_path, sys.executable)
    proc.spec.pid_path.write_text(json.dumps({"pid": _unused_pid(), "argv0": sys.executable}))
    assert proc.pid() is None
    assert not proc.spec.pid_path.exists()
    assert proc.stop() is False
    status = proc.status()
    assert (status.running, status.healthy, status.pid) == (False, False, None)


def test_a_recycled_pid_running_another_program_is_not_ours(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "/usr/bin/definitely-not-this-program")
    proc.spec.pid_path.write_text(json.dumps({"pid": os.getpid(), "argv0": "/usr/bin/definitely-not-this-program"}))
    assert proc.pid() is None


def test_our_running_process_is_found_with_its_health(tmp_path: Path) -> None:
    proc = _proc(tmp_path, sys.executable)
    proc.spec.pid_path.write_text(json.dumps({"pid": os.getpid(), "argv0": sys.executable}))
    status = proc.status().to_dict()
    assert status == {
        "name": "probe",
        "pid": os.getpid(),
        "running": True,
        "healthy": True,
        "port": 4242,
        "log": str(tmp_path / "probe.log"),
    }


def test_a_raising_health_check_counts_as_unhealthy(tmp_path: Path) -> None:
    def broken() -> bool:
        raise RuntimeError("probe failed")

    proc = ManagedProcess(ProcessSpec("probe", [sys.executable], tmp_path / "l", tmp_path / "p", broken))
    assert proc.healthy() is False


def test_an_unreadable_pid_file_is_ignored(tmp_path: Path) -> None:
    proc = _proc(tmp_path, sys.executable)
    proc.spec.pid_path.write_text("not json")
    assert proc.pid() is None


def test_log_tail(tmp_path: Path) -> None:
    proc = _proc(tmp_path, sys.executable)
    assert proc.log_tail() == []
    proc.spec.log_path.write_text("".join(f"line {i}\n" for i in range(100)))
    assert proc.log_tail(3) == ["line 97", "line 98", "line 99"]


def test_a_child_that_exits_between_the_checks_is_reaped(monkeypatch) -> None:
    """The race that left a zombie behind `devnet down`: the child exits after `_alive`'s first waitpid; it must
    still be reported gone and be reaped, so its pid no longer answers."""
    import os
    import time
    from pathlib import Path

    import pytest

    from fluence_dao.util import process

    pid = os.posix_spawn("/bin/true", ["/bin/true"], dict(os.environ))
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    real_waitpid, calls = os.waitpid, []

    def waitpid_not_yet_on_first_call(p: int, options: int) -> tuple[int, int]:
        calls.append(p)
        return (0, 0) if len(calls) == 1 else real_waitpid(p, options)

    monkeypatch.setattr(process.os, "waitpid", waitpid_not_yet_on_first_call)
    assert process._alive(pid) is False
    monkeypatch.undo()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
