"""Spells: nox's scheduler (since `Script.add` was removed), kept in memory by the peer.

A spell is a service whose id is a uuid; it holds an AIR script, a trigger config and a typed KV store (strings,
u32s, string lists), plus logs, errors and a mailbox, as fluencelabs/spell's `spell.wasm` keeps them in SQLite.
Each time its clock fires the peer runs the script as a new particle with id `spell_<spell id>_<counter>`, whose
init peer is the host (the root worker), after storing the trigger event under the KV key `trigger` and bumping
the KV u32 `counter` (nox's `Sorcerer::make_spell_particle`).

Clock semantics (nox's `spell-event-bus` `from_user_config`): `start_sec == 0` means no clock trigger (the other
fields are ignored); a start in the past means now; `period_sec == 0` fires once; `end_sec == 0` never ends;
`end_sec < start_sec` or an `end_sec` in the past is refused; the period is at most 100 years; no run at or after
the end. Connection-pool and blockchain triggers are refused by this peer (it has no event sources for them).
The clock fires on the grid start + k * period (nox reschedules at fire time + period, which drifts by the bus's
own delay), and a tick that comes while the spell's previous particle is still running on this peer is skipped
and recorded as skipped, as the peer's scripts (fluence_dao.peer.scheduler; nox would start an overlapping
particle). Each spell keeps its run history (outcome, failing step, tx hash, nonce, block) like a script.

KV write permissions (spell.wasm's `auth`): the spell's own particles may write any key; the host may write keys
prefixed `h_` or `hw_`; everyone may read. `store_log`, `store_error` and `pop_mailbox` are for the spell's own
particles only; anyone may `push_mailbox`. Nothing is persisted across restarts (as the peer's services).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TypedDict, cast

from fluence_dao.peer.calls import by_id_or_alias
from fluence_dao.peer.scheduler import RunBook, ScriptRun
from fluence_dao.util.json_types import JsonObject

logger = logging.getLogger(__name__)

MAX_PERIOD_SEC = 60 * 60 * 24 * 365 * 100
MAX_LOGS = 256
MAX_MAILBOX = 256
MAX_ERROR_PARTICLES = 64
SPELL_PARTICLE_PREFIX = "spell_"


class SpellConfigError(ValueError):
    """A trigger config this peer cannot schedule; the message is what the caller receives."""


def spell_id_of_particle(particle_id: str) -> str | None:
    """The spell id in a spell particle id `spell_<spell id>_<counter>` (nox's `ParticleParams::get_spell_id`)."""
    if not particle_id.startswith(SPELL_PARTICLE_PREFIX):
        return None
    parts = particle_id.split("_")
    return parts[1] if len(parts) > 2 and parts[1] else None


@dataclass(frozen=True)
class Clock:
    """A validated clock trigger in monotonic seconds: first run, period (0: once), end (None: never)."""

    start_s: float
    period_s: float
    end_s: float | None


class ClockConfig(TypedDict):
    start_sec: int
    end_sec: int
    period_sec: int


class ConnectionsConfig(TypedDict):
    connect: bool
    disconnect: bool


class BlockchainConfig(TypedDict):
    start_block: int
    end_block: int


class TriggerConfig(TypedDict):
    """Aqua's `TriggerConfig` (@fluencelabs/spell) with every field."""

    clock: ClockConfig
    connections: ConnectionsConfig
    blockchain: BlockchainConfig


KvValue = str | int | list[str]
"""A spell KV value: a string, a u32 or a string list."""


def empty_trigger_config() -> TriggerConfig:
    return {
        "clock": {"start_sec": 0, "end_sec": 0, "period_sec": 0},
        "connections": {"connect": False, "disconnect": False},
        "blockchain": {"start_block": 0, "end_block": 0},
    }


def normalize_trigger_config(config: object) -> TriggerConfig:
    """The Aqua `TriggerConfig` as a plain dict with every field, or SpellConfigError naming the bad field."""
    if not isinstance(config, dict):
        raise SpellConfigError(f"trigger config must be an object, got {json.dumps(config)}")
    out = empty_trigger_config()
    sections = cast(dict[str, dict[str, int | bool]], out)  # the same dicts, filled in place field by field
    for section, fields in sections.items():
        given = config.get(section, {})
        if not isinstance(given, dict):
            raise SpellConfigError(f"trigger config field '{section}' must be an object, got {json.dumps(given)}")
        for name, default in fields.items():
            value = given.get(name, default)
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise SpellConfigError(f"trigger config field '{section}.{name}' must be a bool, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
                raise SpellConfigError(f"trigger config field '{section}.{name}' must be a u32, got {value!r}")
            fields[name] = value
    return out


def clock_of(config: TriggerConfig, *, now_wall_s: float, now_mono_s: float) -> Clock | None:
    """The clock trigger of a normalized config (None: no clock), validated as nox does."""
    conn = config["connections"]
    if conn["connect"] or conn["disconnect"]:
        raise SpellConfigError("connection pool triggers (connections.connect/disconnect) are not supported here")
    chain = config["blockchain"]
    if chain["start_block"] or chain["end_block"]:
        raise SpellConfigError("blockchain triggers (blockchain.start_block/end_block) are not supported here")
    clock = config["clock"]
    start_sec, end_sec, period_sec = clock["start_sec"], clock["end_sec"], clock["period_sec"]
    if start_sec == 0:
        return None
    if period_sec > MAX_PERIOD_SEC:
        raise SpellConfigError(
            f"invalid config: period is too big. Max period is 100 years (or approx {MAX_PERIOD_SEC} seconds)"
        )
    end_s: float | None = None
    if end_sec != 0:
        if end_sec < start_sec or end_sec <= now_wall_s:
            raise SpellConfigError("invalid config: end_sec is less than start_sec or in the past")
        end_s = now_mono_s + (end_sec - now_wall_s)
    start_s = now_mono_s + max(0.0, start_sec - now_wall_s)
    return Clock(start_s=start_s, period_s=float(period_sec), end_s=end_s)


@dataclass
class Spell:
    id: str
    script: str
    trigger_config: TriggerConfig
    alias: str | None = None
    kv: dict[str, KvValue] = field(default_factory=dict)
    logs: deque[JsonObject] = field(default_factory=lambda: deque(maxlen=MAX_LOGS))
    mailbox: deque[JsonObject] = field(default_factory=lambda: deque(maxlen=MAX_MAILBOX))
    errors: dict[str, list[JsonObject]] = field(default_factory=dict)  # particle id -> entries, oldest first
    init_args: JsonObject = field(default_factory=dict)
    clock: Clock | None = None
    book: RunBook = field(default_factory=lambda: RunBook(0.0, 0.0, end_s=0.0))  # no clock: no runs

    @property
    def next_run_s(self) -> float | None:
        return self.book.next_due_s()

    @property
    def runs(self) -> int:
        return self.book.runs

    @property
    def history(self) -> deque[ScriptRun]:
        return self.book.history

    def info(self) -> JsonObject:
        """As Aqua's `IntervalInfo` (aqua/runs.aqua)."""
        period = self.trigger_config["clock"]["period_sec"]
        return {
            "id": self.id,
            "kind": "spell",
            "interval": str(period) if self.clock is not None and period else "",
            "args_json": json.dumps(self.init_args, sort_keys=True),
            **self.book.info(),
        }

    def counter(self) -> int:
        value = self.kv.get("counter")
        return value if isinstance(value, int) else 0

    def store_error(self, particle_id: str, entry: JsonObject) -> None:
        if particle_id not in self.errors and len(self.errors) >= MAX_ERROR_PARTICLES:
            del self.errors[next(iter(self.errors))]
        self.errors.setdefault(particle_id, []).append(entry)

    def schedule(self, clock: Clock | None) -> None:
        self.clock = clock
        if clock is None:
            self.book.stop()
        else:
            self.book.reclock(clock.start_s, clock.period_s, clock.end_s)

    def script_cid(self) -> str:
        """CIDv1 (raw codec, sha2-256, base32) of the script text."""
        digest = hashlib.sha256(self.script.encode()).digest()
        raw = bytes([0x01, 0x55, 0x12, 0x20]) + digest
        return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


class SpellStore:
    """The spells of one peer and their clocks. Thread-safe for the simple uses of the peer loop."""

    def __init__(self) -> None:
        self._spells: dict[str, Spell] = {}
        self._aliases: dict[str, str] = {}
        self._lock = threading.RLock()

    def install(self, script: str, init_data: JsonObject, config: object, alias: str | None = None) -> Spell:
        normalized = normalize_trigger_config(config)
        clock = clock_of(normalized, now_wall_s=time.time(), now_mono_s=time.monotonic())
        with self._lock:
            if alias and alias in self._aliases:
                raise SpellConfigError(f"alias {alias!r} already names spell {self._aliases[alias]}")
            spell = Spell(id=str(uuid.uuid4()), script=script, trigger_config=normalized, alias=alias or None)
            spell.init_args = dict(init_data)
            for key, value in init_data.items():
                spell.kv[str(key)] = json.dumps(value, separators=(",", ":"))
            spell.schedule(clock)
            self._spells[spell.id] = spell
            if alias:
                self._aliases[alias] = spell.id
        logger.info("spell %s installed (clock %s)", spell.id, clock)
        return spell

    def update_trigger_config(self, spell: Spell, config: object) -> None:
        normalized = normalize_trigger_config(config)
        clock = clock_of(normalized, now_wall_s=time.time(), now_mono_s=time.monotonic())
        with self._lock:
            spell.trigger_config = normalized
            spell.schedule(clock)

    def get(self, id_or_alias: str) -> Spell | None:
        with self._lock:
            return by_id_or_alias(self._spells, self._aliases, id_or_alias)

    def remove(self, spell_id: str) -> bool:
        with self._lock:
            spell = self._spells.pop(spell_id, None)
            if spell is not None and spell.alias:
                self._aliases.pop(spell.alias, None)
        if spell is not None:
            logger.info("spell %s removed", spell_id)
        return spell is not None

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._spells)

    def next_wakeup_s(self) -> float | None:
        with self._lock:
            times = [s.next_run_s for s in self._spells.values() if s.next_run_s is not None]
        return min(times) if times else None

    def due(self, now_s: float) -> list[tuple[Spell, int, float]]:
        """Spells whose clock fired, with the grid index and lateness (s) of the run to start; ticks that cannot
        run (the previous run still going, or missed while the peer was busy) are recorded as skipped."""
        out = []
        with self._lock:
            for spell in self._spells.values():
                taken = spell.book.take(now_s)
                if taken is not None:
                    out.append((spell, *taken))
        return out

    def start_run(self, spell: Spell, k: int, late_s: float, particle_id: str) -> ScriptRun:
        with self._lock:
            return spell.book.start(k, late_s, particle_id)

    def finish_run(self, spell: Spell, run: ScriptRun, avm_ok: bool, now_s: float | None = None) -> None:
        with self._lock:
            spell.book.finish(run, avm_ok, now_s)
