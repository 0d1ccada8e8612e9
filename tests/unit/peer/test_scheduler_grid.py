"""The run grid of scripts and spells (fluence_dao.peer.scheduler): runs due at start + k * period whatever each run
takes, a tick that comes while a run is still going skipped and recorded, no pile-up after a stall; the run
records (outcome, failing step, chain facts) and the script scheduler on top, all on a fake monotonic clock."""

from __future__ import annotations

import pytest

from fluence_dao.peer.scheduler import (
    HISTORY,
    MAX_FAILURES,
    SKIP_LATE,
    SKIP_OVERLAP,
    RunBook,
    ScriptRun,
    ScriptScheduler,
    failed_step,
    run_facts,
)


def _run(book: RunBook, now: float, *, lasts: float, ok: bool = True) -> ScriptRun | None:
    """Take the due run at `now` (if any), start it and finish it `lasts` seconds later."""
    taken = book.take(now)
    if taken is None:
        return None
    k, late = taken
    run = book.start(k, late, f"p{k}")
    book.finish(run, ok, now_s=now + lasts)
    return run


def test_runs_stay_on_the_grid_whatever_each_run_takes() -> None:
    book = RunBook(100.0, 1.0)
    starts = []
    now = 100.0
    for _ in range(10):
        due = book.next_due_s()
        assert due is not None
        now = due + 0.004  # the loop wakes 4 ms late every time, and each run takes 0.7 s
        run = _run(book, now, lasts=0.7)
        assert run is not None
        starts.append((run.seq, round(run.late_ms, 3)))
    assert starts == [(k, 4.0) for k in range(10)]  # the 4 ms never accumulate: no drift
    assert book.next_due_s() == 110.0
    assert book.take(109.999) is None  # nothing before its time
    assert book.runs == 10 and book.ok == 10 and book.skipped == 0


def test_a_tick_while_the_previous_run_is_still_going_is_skipped_and_recorded() -> None:
    book = RunBook(0.0, 1.0)
    taken = book.take(0.0)
    assert taken == (0, 0.0)
    running = book.start(0, 0.0, "p0")
    assert book.info()["running"] is True
    assert book.take(1.001) is None  # run 0 still going at tick 1
    assert book.take(2.0) is None  # ... and at tick 2
    assert book.skipped == 2
    skipped = book.history[-1]
    assert (skipped.outcome, skipped.seq, skipped.skipped, skipped.error) == ("skipped", 1, 2, SKIP_OVERLAP)
    book.finish(running, True, now_s=2.5)
    assert book.take(2.9) is None
    run = _run(book, 3.0, lasts=0.1)
    assert run is not None and run.seq == 3
    assert [r.outcome for r in book.history] == ["ok", "skipped", "ok"]
    assert book.runs == 2 and book.skipped == 2


def test_ticks_due_before_a_long_run_finished_are_skipped_no_pile_up() -> None:
    """A run that blocked past several ticks (finished at 3.4): ticks 1-3 came while it was going; tick 4 runs."""
    book = RunBook(0.0, 1.0)
    assert _run(book, 0.0, lasts=3.4) is not None
    run = _run(book, 4.01, lasts=0.1)
    assert run is not None and run.seq == 4 and round(run.late_ms) == 10
    assert book.skipped == 3
    assert [(r.seq, r.skipped, r.error) for r in book.history if r.skipped] == [(1, 3, SKIP_OVERLAP)]


def test_a_loop_late_past_several_ticks_runs_only_the_latest() -> None:
    """The previous run ended in time but the loop came back late (the peer was busy): one run, late, not four."""
    book = RunBook(0.0, 1.0)
    assert _run(book, 0.0, lasts=0.1) is not None
    run = _run(book, 4.25, lasts=0.1)
    assert run is not None and run.seq == 4 and run.late_ms == pytest.approx(250.0)
    assert [(r.seq, r.skipped, r.error) for r in book.history if r.skipped] == [(1, 3, SKIP_LATE)]
    assert book.next_due_s() == 5.0


def test_contiguous_skips_merge_into_one_record_and_history_is_bounded() -> None:
    book = RunBook(0.0, 1.0)
    book.start(*book.take(0.0), "p0")  # type: ignore[misc]  # never finishes
    for tick in range(1, 6):
        assert book.take(float(tick)) is None
    assert [(r.seq, r.skipped) for r in book.history if r.skipped] == [(1, 5)]
    endless = RunBook(0.0, 1.0)
    for tick in range(HISTORY + 50):
        _run(endless, float(tick), lasts=0.1)
    assert len(endless.history) == HISTORY and endless.runs == HISTORY + 50


def test_once_and_end_of_clock() -> None:
    once = RunBook(5.0, 0.0)
    assert once.take(4.9) is None
    assert _run(once, 5.2, lasts=1.0) is not None
    assert once.exhausted and once.take(100.0) is None
    ending = RunBook(0.0, 2.0, end_s=6.0)  # runs at 0, 2, 4; none at or after 6 (nox: end_at <= run_at)
    seqs = [r.seq for t in (0.0, 2.0, 4.0, 6.0, 8.0) if (r := _run(ending, t, lasts=0.1)) is not None]
    assert seqs == [0, 1, 2] and ending.exhausted
    late = RunBook(0.0, 2.0, end_s=6.0)
    assert _run(late, 0.0, lasts=0.1) is not None
    run = _run(late, 9.0, lasts=0.1)  # came back after the end: the last tick before it (4) runs, 2 is skipped
    assert run is not None and run.seq == 2 and late.skipped == 1 and late.exhausted


def test_outcomes_steps_and_chain_facts() -> None:
    caught = ScriptRun("p", result={"success": False, "error": "pending nonce: curl: (7) Failed to connect"})
    caught.complete(avm_ok=True)
    assert caught.outcome == "failed" and caught.step == "pending nonce"
    assert caught.error == "pending nonce: curl: (7) Failed to connect"
    sent = ScriptRun("p", result={"success": True, "error": "", "tx_hash": "0xab", "nonce": "0x1f", "block_number": ""})
    sent.complete(avm_ok=True)
    assert sent.outcome == "ok" and sent.step is None
    assert sent.to_aqua()["nonce"] == "0x1f" and sent.to_aqua()["tx_hash"] == "0xab"
    assert sent.to_aqua()["block_number"] == ""
    aborted = ScriptRun("p")
    aborted.complete(avm_ok=False)
    aborted.error = "AquaVM ret_code 1: something"
    assert aborted.outcome == "failed" and aborted.step == "AquaVM"
    timed_out = ScriptRun("p", error="the run did not finish within its TTL")
    timed_out.complete(avm_ok=False)
    assert timed_out.step == "timeout"
    wrapped = "Local service error, ret_code is 1, error message is '\"receipt: transaction reverted: 0x12\"'"
    assert failed_step(wrapped) == "receipt"
    assert failed_step("Error: service 'curl_adapter' function 'eth_rpc' failed: trap") == "curl_adapter.eth_rpc"
    assert failed_step("Service with id 'x' not found (function address)") is None
    aggregate = run_facts({"success": True, "tx_hashes": ["0x1", "0x2"], "root": "bafy", "cursor": "0x10"})
    assert aggregate == {"tx_hash": "0x2", "tx_hashes": ["0x1", "0x2"], "root": "bafy", "cursor": "0x10"}


def test_the_scheduler_keeps_each_scripts_arguments_and_grid() -> None:
    scheduler = ScriptScheduler()
    first = scheduler.add("(null)", "owner", 1.0, 0.0, args={"record_key": "a"})
    second = scheduler.add("(null)", "owner", 2.0, 0.5, args={"record_key": "b"})
    once = scheduler.add("(null)", "owner", None, 0.0)
    assert scheduler.next_wakeup_s() == 0.0
    due = scheduler.due(0.0)
    assert {s.id for s in due} == {first, once}
    assert scheduler.get(once) is None  # a one-shot script is removed once it is taken
    runs = {s.id: scheduler.start_run(s, f"particle-{s.id}") for s in due}
    scheduler.report(first, True, runs[first], now_s=0.2)
    assert scheduler.next_wakeup_s() == 0.5
    assert [s.id for s in scheduler.due(0.5)] == [second]
    script = scheduler.get(second)
    assert script is not None and script.args == {"record_key": "b"}
    info = script.to_aqua()
    assert info["interval"] == "2" and info["args_json"] == '{"record_key": "b"}' and info["runs"] == 0
    assert scheduler.get(first).args == {"record_key": "a"}  # type: ignore[union-attr]


def test_a_script_failing_in_aquavm_three_times_in_a_row_is_dropped_but_caught_failures_do_not() -> None:
    scheduler = ScriptScheduler()
    script_id = scheduler.add("(null)", "owner", 1.0, 0.0)
    for tick in range(MAX_FAILURES + 2):
        (script,) = scheduler.due(float(tick))
        run = scheduler.start_run(script, f"p{tick}")
        run.result = {"success": False, "error": "send: refused"}
        scheduler.report(script_id, True, run, now_s=tick + 0.1)
        assert run.outcome == "failed" and run.step == "send"
    script = scheduler.get(script_id)
    assert script is not None and script.book.failed == MAX_FAILURES + 2 and script.failures == 0
    for tick in range(10, 10 + MAX_FAILURES):
        (script,) = scheduler.due(float(tick))
        scheduler.report(script_id, False, scheduler.start_run(script, f"p{tick}"), now_s=tick + 0.1)
    assert scheduler.get(script_id) is None
