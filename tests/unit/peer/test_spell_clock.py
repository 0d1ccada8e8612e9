"""Spell clocks as nox's spell-event-bus validates and fires them (fluence_dao.peer.spells), without a peer."""

from __future__ import annotations

import pytest

from fluence_dao.peer.spells import (
    MAX_PERIOD_SEC,
    SpellConfigError,
    SpellStore,
    clock_of,
    normalize_trigger_config,
    spell_id_of_particle,
)

WALL = 1_700_000_000.0  # a fixed "now" in unix seconds
MONO = 500.0  # the same instant on the monotonic clock


def _clock(start: int, end: int = 0, period: int = 0):
    config = normalize_trigger_config({"clock": {"start_sec": start, "end_sec": end, "period_sec": period}})
    return clock_of(config, now_wall_s=WALL, now_mono_s=MONO)


def test_start_zero_means_no_clock_and_a_past_start_means_now() -> None:
    assert _clock(0, period=5) is None
    now = _clock(1, period=5)
    assert now is not None and now.start_s == MONO and now.period_s == 5 and now.end_s is None
    later = _clock(int(WALL) + 30, period=5)
    assert later is not None and later.start_s == MONO + 30


def test_end_and_period_limits() -> None:
    with pytest.raises(SpellConfigError, match="end_sec is less than start_sec"):
        _clock(int(WALL) + 100, end=int(WALL) + 50, period=1)
    with pytest.raises(SpellConfigError, match="in the past"):
        _clock(1, end=int(WALL) - 1, period=1)
    with pytest.raises(SpellConfigError, match="period is too big"):
        _clock(1, period=MAX_PERIOD_SEC + 1)
    ends = _clock(1, end=int(WALL) + 10, period=2)
    assert ends is not None and ends.end_s == MONO + 10


def test_missing_fields_default_and_bad_types_name_the_field() -> None:
    full = normalize_trigger_config({"clock": {"start_sec": 1}})
    assert full["clock"] == {"start_sec": 1, "end_sec": 0, "period_sec": 0}
    assert full["connections"] == {"connect": False, "disconnect": False}
    with pytest.raises(SpellConfigError, match=r"clock\.period_sec"):
        normalize_trigger_config({"clock": {"period_sec": "5"}})
    with pytest.raises(SpellConfigError, match=r"connections\.connect"):
        normalize_trigger_config({"connections": {"connect": 1}})


def test_due_fires_on_the_period_grid_skips_missed_ticks_and_stops_at_the_end() -> None:
    store = SpellStore()
    periodic = store.install("(null)", {}, {"clock": {"start_sec": 1, "period_sec": 2}})
    once = store.install("(null)", {"n": 1}, {"clock": {"start_sec": 1}})
    assert once.kv == {"n": "1"} and once.init_args == {"n": 1}
    start = periodic.next_run_s
    assert start is not None and once.next_run_s is not None
    assert store.due(start - 0.001) == []
    fired = store.due(max(start, once.next_run_s))
    assert {spell.id for spell, _, _ in fired} == {periodic.id, once.id}
    assert once.next_run_s is None  # period 0: fired once
    first = store.start_run(periodic, 0, 0.0, "spell_x_0")
    store.finish_run(periodic, first, avm_ok=True, now_s=start + 0.5)
    assert store.due(start + 1.9) == []
    (again,) = store.due(start + 7.0)  # ticks at +2, +4 were missed: one run (+6), not three
    assert again[0] is periodic and again[1] == 3 and round(again[2], 6) == 1.0
    assert periodic.next_run_s == start + 8.0
    assert store.next_wakeup_s() == start + 8.0
    assert [(r.seq, r.skipped) for r in periodic.history] == [(0, 0), (1, 2)]
    assert store.remove(periodic.id) is True and store.remove(periodic.id) is False
    assert store.due(start + 100) == []


def test_a_tick_while_the_spells_particle_still_runs_is_skipped() -> None:
    store = SpellStore()
    spell = store.install("(null)", {}, {"clock": {"start_sec": 1, "period_sec": 1}})
    start = spell.next_run_s
    assert start is not None
    ((_, k, _),) = store.due(start)
    run = store.start_run(spell, k, 0.0, "spell_x_0")
    assert store.due(start + 1.0) == [] and store.due(start + 2.0) == []
    assert spell.info()["running"] is True and spell.info()["skipped"] == 2
    run.result = {"success": False, "error": "sign: refused"}
    store.finish_run(spell, run, avm_ok=True, now_s=start + 2.2)
    assert run.outcome == "failed" and run.step == "sign"
    assert [spell_ for spell_, _, _ in store.due(start + 3.0)] == [spell]
    info = spell.info()
    assert (info["kind"], info["interval"], info["failed"], info["runs"]) == ("spell", "1", 1, 1)


def test_spell_particle_ids() -> None:
    assert spell_id_of_particle("spell_0b5e-11_3") == "0b5e-11"
    assert spell_id_of_particle("spell__3") is None
    assert spell_id_of_particle("spell_x") is None
    assert spell_id_of_particle("d2c1-uuid") is None
