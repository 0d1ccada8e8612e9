"""The 2021 `script` scheduler (nox's Script.add before spells), driven by the peer loop.

Semantics (2021 nox): `add(air, interval?)` returns a uuid; the first run happens after a random delay in
[0, interval]; a script without interval runs once; the scheduler looks for due scripts every `tick_s` (3 s in
nox; configurable); each run is a new particle whose init peer is the host peer, TTL 120 s; a script whose run
fails (AquaVM ret_code != 0 on this peer) 3 times in a row is dropped; nothing is persisted across restarts.
Only the creator, the host or a management peer may remove a script.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

MAX_FAILURES = 3
HISTORY = 20  # runs kept per script


@dataclass
class ScriptRun:
    """One run of a script: when, how it ended, what it returned through `callbackSrv.response` (compiled Aqua
    functions do that) and the error it reported through `errorHandlingSrv.error` or AquaVM."""

    particle_id: str
    started_ms: int
    late_ms: float = 0.0  # how long after its scheduled time the run started
    finished_ms: int | None = None
    ok: bool | None = None
    result: Any = None
    error: str | None = None

    def to_aqua(self) -> dict[str, Any]:
        """As Aqua's `ScriptRun` (aqua/deploy.aqua): the result travels as JSON text, its shape is the script's."""
        import json

        return {
            "particle_id": self.particle_id,
            "started_ms": self.started_ms,
            "late_ms": round(self.late_ms, 3),
            "finished_ms": self.finished_ms or 0,
            "finished": self.ok is not None,
            "ok": bool(self.ok),
            "result_json": json.dumps(self.result, sort_keys=True),
            "error": self.error or "",
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "particle_id": self.particle_id,
            "started_ms": self.started_ms,
            "finished_ms": self.finished_ms,
            "ok": self.ok,
            "result": self.result,
            "error": self.error,
        }


@dataclass
class ScheduledScript:
    id: str
    src: str
    owner: str
    interval_s: float | None
    next_run_s: float
    failures: int = 0
    runs: int = 0
    history: deque[ScriptRun] = field(default_factory=lambda: deque(maxlen=HISTORY))
    late_s: float = 0.0  # lateness of the run `due()` last handed out

    def to_aqua(self) -> dict[str, object]:
        return {
            "id": self.id,
            "src": self.src,
            "failures": self.failures,
            "interval": "" if self.interval_s is None else f"{self.interval_s:g}",
            "owner": self.owner,
        }


class ScriptScheduler:
    def __init__(self, *, tick_s: float = 3.0, rng: random.Random | None = None) -> None:
        self.tick_s = tick_s
        self._rng = rng or random.Random()
        self._scripts: dict[str, ScheduledScript] = {}
        self._lock = threading.Lock()
        self._last_tick_s = float("-inf")

    def add(self, src: str, owner: str, interval_s: float | None, now_s: float) -> str:
        script_id = str(uuid.uuid4())
        delay = self._rng.uniform(0, interval_s) if interval_s else 0.0
        with self._lock:
            self._scripts[script_id] = ScheduledScript(script_id, src, owner, interval_s, now_s + delay)
        logger.info("script %s added by %s (interval %s s)", script_id, owner, interval_s)
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
            if not self._scripts:
                return None
            earliest = min(s.next_run_s for s in self._scripts.values())
        return max(earliest, self._last_tick_s + self.tick_s)

    def due(self, now_s: float) -> list[ScheduledScript]:
        """Scripts to run now (at most once per tick); their next run is scheduled, one-shot ones removed."""
        if now_s < self._last_tick_s + self.tick_s:
            return []
        self._last_tick_s = now_s
        out = []
        with self._lock:
            for script in list(self._scripts.values()):
                if script.next_run_s > now_s:
                    continue
                out.append(script)
                script.late_s = now_s - script.next_run_s
                script.runs += 1
                if script.interval_s:
                    script.next_run_s = now_s + script.interval_s
                else:
                    del self._scripts[script.id]
        return out

    def start_run(self, script: ScheduledScript, particle_id: str) -> ScriptRun:
        run = ScriptRun(particle_id, started_ms=int(time.time() * 1000), late_ms=script.late_s * 1000)
        with self._lock:
            script.history.append(run)
        return run

    def report(self, script_id: str, ok: bool, run: ScriptRun | None = None) -> None:
        if run is not None and run.ok is None:
            run.finished_ms = int(time.time() * 1000)
            run.ok = ok and run.error is None
        with self._lock:
            script = self._scripts.get(script_id)
            if script is None:
                return
            script.failures = 0 if ok else script.failures + 1
            if script.failures >= MAX_FAILURES:
                logger.warning("script %s failed %d times in a row: dropped", script_id, script.failures)
                del self._scripts[script_id]
