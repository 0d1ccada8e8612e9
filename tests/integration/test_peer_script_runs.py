"""Compiled Aqua functions as scheduled scripts on the real AquaVM: the host answers `-relay-` and the script's own
arguments, each run's result or error is kept in the script's history (what `fluence-dao status` reports), runs start
on the grid start + k * interval, a tick that comes while a run is still going is skipped and recorded, and a
failing run does not stop the loop."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from fluence_dao.peer import LocalNetwork, call_function
from fluence_dao.peer.scheduler import SKIP_OVERLAP

pytestmark = pytest.mark.integration

AQUA = Path(__file__).resolve().parents[1] / "aqua" / "script_runs.aqua"


@pytest.fixture(scope="module")
def compiled(compiled_aqua):
    return compiled_aqua(AQUA)


def _run_until_history(net: LocalNetwork, script_id: str, runs: int, timeout_s: float = 20.0):
    peer = net.relay
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        net.run_for(0.05)
        script = peer.scheduler.get(script_id)
        if script is not None and sum(r.ok is not None for r in script.history) >= runs:
            return list(script.history)
    raise AssertionError(f"script {script_id} did not finish {runs} runs in {timeout_s} s")


def _finished_runs(net: LocalNetwork, air: str, every_s: float, runs: int, **add: object) -> tuple[str, list]:
    """Schedule `air` on the relay every `every_s` s and wait for `runs` finished runs: (script id, finished runs)."""
    peer = net.relay
    script_id = peer.scheduler.add(air, peer.peer_id, every_s, time.monotonic(), **add)
    return script_id, [r for r in _run_until_history(net, script_id, runs) if r.ok is not None]


def test_each_run_records_the_functions_result(compiled, local_network) -> None:
    net = local_network()
    peer = net.relay
    _, finished = _finished_runs(net, compiled.function("ok_run").script, 0.2, 2)
    assert all(r.ok and r.outcome == "ok" for r in finished)
    assert finished[0].result == ["ran", peer.peer_id]
    assert finished[0].finished_ms >= finished[0].started_ms
    assert len({r.particle_id for r in finished}) == len(finished)


def test_a_failing_run_is_recorded_and_the_loop_keeps_running(compiled, local_network) -> None:
    net = local_network()
    peer = net.relay
    script_id, finished = _finished_runs(net, compiled.function("failing_run").script, 0.1, 4)
    assert len(finished) >= 4  # more than MAX_FAILURES: a caught Aqua error does not drop the script
    assert all(r.ok is False and r.outcome == "failed" for r in finished)
    assert all("error decoding base58" in (r.error or "") for r in finished)
    assert peer.scheduler.get(script_id) is not None


def test_a_failure_the_air_caught_counts_as_failed(compiled, local_network) -> None:
    """A run whose AIR caught its error finishes in AquaVM, but its result says success: false: a failed run."""
    net = local_network()
    peer = net.relay
    script_id, finished = _finished_runs(net, compiled.function("caught_failure_run").script, 0.1, 3)
    assert all(r.outcome == "failed" and not r.aborted for r in finished)
    assert all("error decoding base58" in (r.error or "") for r in finished)
    script = peer.scheduler.get(script_id)
    assert script is not None and script.book.failed >= 3 and script.failures == 0  # not dropped


def test_two_scripts_get_their_own_arguments(compiled, local_network) -> None:
    net = local_network()
    peer = net.relay
    owner = net.client()
    air = compiled.function("echo_args").script
    add = compiled.function("add_with_args")
    first = call_function(net, add, [air, "0.2", "notice", "alpha.example.eth"], client=owner)
    second = call_function(net, add, [air, "0.2", "spellnote", "beta.example.eth"], client=owner)
    assert _run_until_history(net, first, 2) and _run_until_history(net, second, 2)
    results = {sid: {tuple(r.result) for r in peer.scheduler.get(sid).history if r.ok} for sid in (first, second)}
    assert results == {first: {("notice", "alpha.example.eth")}, second: {("spellnote", "beta.example.eth")}}
    runs = call_function(net, compiled.function("script_runs"), [first], client=owner)
    assert runs and all(r["outcome"] in ("ok", "running") for r in runs)
    assert runs[0]["seq"] == 0 and runs[0]["result_json"] == '["notice", "alpha.example.eth"]'


def test_a_missing_argument_fails_the_run_naming_it(compiled, local_network) -> None:
    net = local_network()
    peer = net.relay
    script_id = peer.scheduler.add(
        compiled.function("echo_args").script, peer.peer_id, 0.1, time.monotonic(), args={"record_key": "k"}
    )
    history = _run_until_history(net, script_id, 1)
    failed = [r for r in history if r.ok is False]
    assert failed and "signer_name" in (failed[0].error or "")


def test_runs_stay_on_the_grid_and_a_run_still_going_makes_the_next_tick_skipped(compiled, local_network) -> None:
    """Every 0.2 s, each run taking 0.3 s (peer.timeout: the peer keeps serving meanwhile): runs start at ticks 0, 2,
    4, ... within a few ms of their grid time, and every other tick is recorded as skipped, never run late."""
    net = local_network()
    peer = net.relay
    air = compiled.function("slow_run").script
    script_id = peer.scheduler.add(air, peer.peer_id, 0.2, time.monotonic(), args={"ms": 300})
    script = peer.scheduler.get(script_id)
    assert script is not None
    net.run_until(lambda: script.book.ok >= 5, 10.0)
    runs = [r for r in script.history if not r.skipped]
    skipped = [r for r in script.history if r.skipped]
    assert [r.seq for r in runs[:5]] == [0, 2, 4, 6, 8]
    assert all(r.outcome == "ok" and r.result == "slept" for r in runs[:5])
    assert [(r.seq, r.skipped, r.error) for r in skipped[:4]] == [(k, 1, SKIP_OVERLAP) for k in (1, 3, 5, 7)]
    lateness = sorted(r.late_ms for r in runs[:5])
    assert lateness[2] < 50, lateness  # woken for the due run, not by a coarse tick
    due = [r.due_ms for r in runs[:5]]
    assert all(abs(b - a - 400) <= 1 for a, b in itertools.pairwise(due)), due  # the grid, not now + period
