"""Compiled Aqua functions as scheduled scripts: the host answers `-relay-`, and each run's result or error is
kept in the script's history (what `fluence-dao status` reports); a failing run does not stop the loop."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from fluence_dao.aqua import compile_aqua
from fluence_dao.peer import LocalNetwork, PeerConfig

pytestmark = pytest.mark.integration

AQUA = Path(__file__).resolve().parents[1] / "aqua" / "script_runs.aqua"


@pytest.fixture(scope="module")
def compiled(require):
    require(shutil.which("node"), "node is not installed")
    return compile_aqua(AQUA)


def _run_until_history(net: LocalNetwork, script_id: str, runs: int, timeout_s: float = 20.0):
    peer = net.relay
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        net.run_for(0.05)
        script = peer.scheduler.get(script_id)
        if script is not None and sum(r.ok is not None for r in script.history) >= runs:
            return list(script.history)
    raise AssertionError(f"script {script_id} did not finish {runs} runs in {timeout_s} s")


def test_each_run_records_the_functions_result(compiled, tmp_path) -> None:
    net = LocalNetwork(1, base_dir=tmp_path, config=PeerConfig(script_tick_s=0.05))
    peer = net.relay
    script_id = peer.scheduler.add(compiled.function("ok_run").script, peer.peer_id, 0.2, time.monotonic())
    history = _run_until_history(net, script_id, 2)
    finished = [r for r in history if r.ok is not None]
    assert all(r.ok for r in finished)
    assert finished[0].result == ["ran", peer.peer_id]
    assert finished[0].finished_ms >= finished[0].started_ms
    assert len({r.particle_id for r in finished}) == len(finished)


def test_a_failing_run_is_recorded_and_the_loop_keeps_running(compiled, tmp_path) -> None:
    net = LocalNetwork(1, base_dir=tmp_path, config=PeerConfig(script_tick_s=0.05))
    peer = net.relay
    script_id = peer.scheduler.add(compiled.function("failing_run").script, peer.peer_id, 0.1, time.monotonic())
    history = _run_until_history(net, script_id, 4)
    finished = [r for r in history if r.ok is not None]
    assert len(finished) >= 4  # more than MAX_FAILURES: a caught Aqua error does not drop the script
    assert all(r.ok is False for r in finished)
    assert all("error decoding base58" in (r.error or "") for r in finished)
    assert peer.scheduler.get(script_id) is not None
