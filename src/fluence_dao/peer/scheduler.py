"""The `script` scheduler (nox's 2021 `Script.add`), and the run grid and run history it shares with spells.

`add(air, interval?, args?)` returns a uuid. A periodic script's runs are due on a fixed grid, start + k * interval,
where start is the moment of `add` (the first run at once): a run's length never shifts the next one, and the peer
loop sleeps until the next due run (`next_wakeup_s`) instead of polling on a tick. A grid point that comes while the
script's previous run is still going is skipped and recorded as skipped: runs of one script never overlap and never
pile up. When the loop reaches a script late by several grid points (the peer was busy with something else), the
latest one runs (its lateness recorded) and the earlier ones are recorded as skipped. A script without interval runs
once and is then removed.

Each run is a new particle whose init peer is the host, TTL 120 s (2021 nox). `args` answer the script's
`getDataSrv.<name>` calls (how a compiled Aqua function reads its arguments): each script carries its own, nothing
peer-wide is involved. A run fails when AquaVM fails on this peer, when the script reports an error through
`errorHandlingSrv`, when it does not finish within its TTL, or when its result is a record with `success: false` (a
failure its AIR caught, e.g. the interval's RunOutcome); the failing step is read from the error text (`<step>:
<message>`, as `Operator.require` words it). A script whose runs fail in AquaVM (or time out) 3 times in a row is
dropped, as in 2021; failures its AIR catches do not drop it. Nothing is persisted across restarts. Only the creator,
the host or a management peer may remove a script.

Differences from 2021 nox, on purpose: no random delay before the first run, no 3 s tick, runs on a grid with skips
instead of `now + interval` after each run.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

from fluence_dao.util.json_types import JsonObject, JsonValue, to_json_object

logger = logging.getLogger(__name__)

MAX_FAILURES = 3
HISTORY = 100  # run records kept per interval (a skipped range counts as one)

SKIP_OVERLAP = "the previous run was still going"
SKIP_LATE = "the peer was busy past this run's time"

_WRAPPED = re.compile(r"error message is '(?P<inner>.*)'\s*$", re.DOTALL)
_SERVICE_FAILED = re.compile(r"^Error: service '(?P<service>[^']*)' function '(?P<function>[^']*)' failed")
_STEP = re.compile(r"^(?P<step>[A-Za-z][\w .\-/]{0,59}?): ")


def _now_ms() -> int:
    return int(time.time() * 1000)


def error_text(error: object) -> str:
    """The message of an AIR error: AquaVM wraps a service's answer as `... error message is '"<text>"'`."""
    text = str(error.get("message", error)) if isinstance(error, dict) else str(error)
    for _ in range(3):  # nested wrappers (an error re-raised through a catch)
        match = _WRAPPED.search(text)
        if match is None:
            break
        text = match.group("inner")
        if text.startswith('"'):
            try:
                text = str(json.loads(text))
            except ValueError:
                text = text.strip('"')
    return text


def failed_step(error: str | None) -> str | None:
    """The step a failure names: `<step>: <message>` (Operator.require, rpc), a failed service call, or None."""
    if not error:
        return None
    text = error_text(error)
    service = _SERVICE_FAILED.match(text)
    if service is not None:
        return f"{service.group('service')}.{service.group('function')}"
    step = _STEP.match(text)
    if step is None or step.group("step") in ("Error", "error"):
        return None
    return step.group("step")


def run_facts(result: object) -> JsonObject:
    """What a run's result says about the chain: tx hash, nonce, block (as the run returned them), value.

    The interval's RunOutcome has `tx_hash`, `nonce`, `block_number`; the aggregation pipeline's outcome has
    `tx_hashes`, `root` and `cursor`. Absent facts are left out."""
    if not isinstance(result, dict):
        return {}
    facts: JsonObject = {}
    for key in ("tx_hash", "nonce", "block_number", "value", "root", "cursor"):
        value = result.get(key)
        if value not in (None, ""):
            facts[key] = value
    hashes = result.get("tx_hashes")
    if isinstance(hashes, list) and hashes:
        facts["tx_hashes"] = [str(h) for h in hashes]
        facts.setdefault("tx_hash", str(hashes[-1]))
    if result.get("replaced") is True:
        facts["replaced"] = True
    return facts


_AS_IS_IN_AQUA = ("particle_id", "seq", "due_ms", "started_ms", "skipped")  # IntervalRun's fields copied as they are


@dataclass
class ScriptRun:
    """One run of an interval, or a range of skipped grid points (`skipped` > 0: no particle ran).

    Times are wall-clock milliseconds; `seq` is the run's index on its grid (the `seq`-th due time since start)."""

    particle_id: str
    seq: int = 0
    due_ms: int = 0
    started_ms: int = 0
    late_ms: float = 0.0
    finished_ms: int | None = None
    ok: bool | None = None  # None: still going (or skipped)
    result: JsonValue = None  # what the run returned through callbackSrv.response
    error: str | None = None
    skipped: int = 0
    aborted: bool = False  # AquaVM failed on this peer or the TTL passed (what drops a script 3 times in a row)

    @property
    def outcome(self) -> str:
        if self.skipped:
            return "skipped"
        if self.ok is None:
            return "running"
        return "ok" if self.ok else "failed"

    @property
    def step(self) -> str | None:
        """The failing step of a failed run (None when the error names none)."""
        if self.ok is not False:
            return None
        error = self.error or ""
        if self.aborted and "within its TTL" in error:
            return "timeout"
        if self.aborted and error.startswith("AquaVM ret_code"):
            error = error.partition(": ")[2]  # AquaVM's own message may name the failing call's step
        return failed_step(error) or ("AquaVM" if self.aborted else None)

    def complete(self, avm_ok: bool) -> None:
        """Mark the run finished: ok only when AquaVM finished, nothing reported an error and the result is not a
        record with `success: false`."""
        if self.ok is not None or self.skipped:
            return
        self.finished_ms = _now_ms()
        result = self.result
        if isinstance(result, dict) and result.get("success") is False and self.error is None:
            self.error = str(result.get("error") or "the run reported success: false")
        self.aborted = not avm_ok
        self.ok = avm_ok and self.error is None

    def to_aqua(self) -> JsonObject:
        """As Aqua's `IntervalRun` (aqua/runs.aqua): the result travels as JSON text, its shape is the script's."""
        facts = run_facts(self.result)
        return {
            **to_json_object(self, only=_AS_IS_IN_AQUA),
            "late_ms": round(self.late_ms, 3),
            "finished_ms": self.finished_ms or 0,
            "finished": self.ok is not None,
            "ok": bool(self.ok),
            "outcome": self.outcome,
            "step": self.step or "",
            "tx_hash": str(facts.get("tx_hash", "")),
            "nonce": str(facts.get("nonce", "")),
            "block_number": str(facts.get("block_number", "")),
            "result_json": json.dumps(self.result, sort_keys=True),
            "error": self.error or "",
        }


class RunBook:
    """One interval's clock (runs due at start + k * period, before `end_s`; period 0: once) and its runs.

    Times in monotonic seconds. Not thread-safe by itself: its owner (the scheduler, the spell store) locks."""

    def __init__(self, start_s: float, period_s: float, end_s: float | None = None) -> None:
        if period_s < 0 or not math.isfinite(period_s):
            raise ValueError(f"period must be >= 0 seconds, got {period_s}")
        self.start_s = start_s
        self.period_s = period_s
        self.end_s = end_s
        self._wall_offset_s = time.time() - time.monotonic()  # monotonic -> wall clock, for the records
        self.next_k: int | None = 0 if end_s is None or start_s < end_s else None
        self.history: deque[ScriptRun] = deque(maxlen=HISTORY)
        self.current: ScriptRun | None = None
        self.last_finished_s = -math.inf
        self.runs = self.ok = self.failed = self.skipped = 0

    def reclock(self, start_s: float, period_s: float, end_s: float | None = None) -> None:
        """A new grid (a spell's trigger config changed); the history, counters and a run still going stay."""
        if period_s < 0 or not math.isfinite(period_s):
            raise ValueError(f"period must be >= 0 seconds, got {period_s}")
        self.start_s, self.period_s, self.end_s = start_s, period_s, end_s
        self.next_k = 0 if end_s is None or start_s < end_s else None

    def stop(self) -> None:
        """No more runs (a spell without a clock trigger)."""
        self.next_k = None

    def at(self, k: int) -> float:
        return self.start_s + k * self.period_s

    def due_ms(self, k: int) -> int:
        return round((self.at(k) + self._wall_offset_s) * 1000)

    def next_due_s(self) -> float | None:
        return None if self.next_k is None else self.at(self.next_k)

    @property
    def exhausted(self) -> bool:
        return self.next_k is None

    def _before_end(self, k: int) -> bool:
        return (self.period_s > 0 or k == 0) and (self.end_s is None or self.at(k) < self.end_s)

    def _last_due(self, first: int, now_s: float) -> int:
        """The largest grid index <= now (and before the end), at least `first` - 1."""
        if self.period_s == 0:
            return 0 if self.at(0) <= now_s else -1
        last = max(first - 1, math.floor((now_s - self.start_s) / self.period_s))
        while last >= first and self.at(last) > now_s:  # float rounding
            last -= 1
        while self.at(last + 1) <= now_s:
            last += 1
        while last >= first and not self._before_end(last):
            last -= 1
        return last

    def take(self, now_s: float) -> tuple[int, float] | None:
        """The grid index to run now and its lateness (s), or None. Due grid points that cannot run are recorded as
        skipped: all of them while a run is still going, those due before the previous run finished, and all but the
        latest when the loop came late past several."""
        first = self.next_k
        if first is None or self.at(first) > now_s:
            return None
        last = self._last_due(first, now_s)
        self.next_k = last + 1 if last >= first else first
        if not self._before_end(self.next_k):
            self.next_k = None
        if last < first:
            return None
        if self.current is not None:
            self._skip(first, last - first + 1, SKIP_OVERLAP)
            return None
        free = first
        while free <= last and self.at(free) < self.last_finished_s:
            free += 1
        if free > first:
            self._skip(first, free - first, SKIP_OVERLAP)
        if free > last:
            return None
        if last > free:
            self._skip(free, last - free, SKIP_LATE)
        return last, max(0.0, now_s - self.at(last))

    def _skip(self, first: int, count: int, reason: str) -> None:
        self.skipped += count
        previous = self.history[-1] if self.history else None
        if (
            previous is not None
            and previous.skipped
            and previous.error == reason
            and previous.seq + previous.skipped == first
        ):
            previous.skipped += count  # one record for a contiguous range
            return
        due = self.due_ms(first)
        self.history.append(ScriptRun("", seq=first, due_ms=due, started_ms=due, skipped=count, error=reason))

    def start(self, k: int, late_s: float, particle_id: str) -> ScriptRun:
        run = ScriptRun(particle_id, seq=k, due_ms=self.due_ms(k), started_ms=_now_ms(), late_ms=late_s * 1000)
        self.current = run
        self.runs += 1
        self.history.append(run)
        return run

    def finish(self, run: ScriptRun, avm_ok: bool, now_s: float | None = None) -> None:
        if run.ok is not None:
            return
        run.complete(avm_ok)
        if run.ok:
            self.ok += 1
        else:
            self.failed += 1
        if self.current is run:
            self.current = None
        self.last_finished_s = time.monotonic() if now_s is None else now_s

    def info(self) -> JsonObject:
        """Counters and clock as Aqua's `IntervalInfo` fields (aqua/runs.aqua)."""
        return {
            "started_ms": self.due_ms(0),
            "next_ms": 0 if self.next_k is None else self.due_ms(self.next_k),
            "runs": self.runs,
            "ok": self.ok,
            "failed": self.failed,
            "skipped": self.skipped,
            "running": self.current is not None,
        }


@dataclass
class ScheduledScript:
    id: str
    src: str
    owner: str
    interval_s: float | None
    book: RunBook
    args: JsonObject = field(default_factory=dict)
    failures: int = 0  # AquaVM failures (or timeouts) in a row
    pending: tuple[int, float] | None = None  # what `due()` last handed out: grid index, lateness

    @property
    def history(self) -> deque[ScriptRun]:
        return self.book.history

    @property
    def runs(self) -> int:
        return self.book.runs

    @property
    def next_run_s(self) -> float | None:
        return self.book.next_due_s()

    def to_aqua(self) -> JsonObject:
        """As Aqua's `ScriptInfo` (aqua/deploy.aqua): the 2021 fields, then this interval's clock and counters."""
        return {
            "id": self.id,
            "src": self.src,
            "failures": self.failures,
            "interval": "" if self.interval_s is None else f"{self.interval_s:g}",
            "owner": self.owner,
            "args_json": json.dumps(self.args, sort_keys=True),
            **self.book.info(),
        }


class ScriptScheduler:
    def __init__(self) -> None:
        self._scripts: dict[str, ScheduledScript] = {}
        self._lock = threading.Lock()

    def add(
        self, src: str, owner: str, interval_s: float | None, now_s: float, *, args: JsonObject | None = None
    ) -> str:
        script_id = str(uuid.uuid4())
        book = RunBook(now_s, interval_s or 0.0)
        with self._lock:
            self._scripts[script_id] = ScheduledScript(script_id, src, owner, interval_s, book, dict(args or {}))
        logger.info("script %s added by %s (interval %s s, args %s)", script_id, owner, interval_s, sorted(args or {}))
        return script_id

    def remove(self, script_id: str) -> bool:
        with self._lock:
            return self._scripts.pop(script_id, None) is not None

    def get(self, script_id: str) -> ScheduledScript | None:
        return self._scripts.get(script_id)

    def scripts(self) -> list[ScheduledScript]:
        with self._lock:
            return list(self._scripts.values())

    def next_wakeup_s(self) -> float | None:
        with self._lock:
            times = [t for s in self._scripts.values() if (t := s.book.next_due_s()) is not None]
        return min(times) if times else None

    def due(self, now_s: float) -> list[ScheduledScript]:
        """Scripts to run now (`pending` says which grid point and how late); skipped grid points are recorded,
        one-shot scripts removed once taken."""
        out = []
        with self._lock:
            for script in list(self._scripts.values()):
                taken = script.book.take(now_s)
                if taken is not None:
                    script.pending = taken
                    out.append(script)
                if script.book.exhausted and script.book.current is None and script.interval_s is None:
                    del self._scripts[script.id]
        return out

    def start_run(self, script: ScheduledScript, particle_id: str) -> ScriptRun:
        k, late_s = script.pending if script.pending is not None else (script.book.next_k or 0, 0.0)
        script.pending = None
        with self._lock:
            return script.book.start(k, late_s, particle_id)

    def report(self, script_id: str, ok: bool, run: ScriptRun | None = None, *, now_s: float | None = None) -> None:
        """A run ended: `ok` False when AquaVM failed on this peer or the run timed out."""
        with self._lock:
            script = self._scripts.get(script_id)
            if run is not None:
                if script is not None:
                    script.book.finish(run, ok, now_s)
                else:
                    run.complete(ok)
            if script is None:
                return
            script.failures = 0 if ok else script.failures + 1
            if script.failures >= MAX_FAILURES:
                logger.warning("script %s failed %d times in a row in AquaVM: dropped", script_id, script.failures)
                del self._scripts[script_id]
