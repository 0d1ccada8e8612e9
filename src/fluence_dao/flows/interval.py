"""`start-interval` / `stop-interval`: the governed loop as a script on the peer.

The interval AIR is fetched by the CID in the `air.interval` record and verified (the peer's aqua-ipfs builtin
refuses bytes that do not hash to it) before `script.add` schedules it. With `as_spell` (`start_interval_spell`) it is installed as a spell instead
(nox's scheduler since 2023): a clock trigger with period `every_s` whole seconds; `stop_interval` removes either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fluence_dao.errors import FluenceDaoError
from fluence_dao.flows._context import AIR_INTERVAL_KEY, FlowContext
from fluence_dao.flows._session import PeerSession


@dataclass
class IntervalStarted:
    script_id: str
    air_cid: str
    every_s: float
    peer_id: str
    record_key: str
    kind: str = "script"  # "script" (2021 script.add) or "spell" (script_id is then the spell id)

    def to_dict(self) -> dict[str, Any]:
        return {"script_id": self.script_id, "air_cid": self.air_cid, "every_s": self.every_s,
                "peer_id": self.peer_id, "record_key": self.record_key, "kind": self.kind}  # fmt: skip


def start_interval(
    context: FlowContext, session: PeerSession, every_s: float, *, record_key: str = "notice"
) -> IntervalStarted:
    if every_s <= 0:
        raise FluenceDaoError(f"the interval must be positive, got {every_s} s", every_s=every_s)
    project = context.settings.ens.project_name
    air_cid = context.ens.text(project, AIR_INTERVAL_KEY)
    if not air_cid:
        raise FluenceDaoError(f"no {AIR_INTERVAL_KEY} record on {project}: run `fluence-dao publish` first")
    script_id = session.call("deploy.aqua", "start_interval", [air_cid, f"{every_s:g}", record_key])
    return IntervalStarted(script_id, air_cid, every_s, session.peer_id, record_key)


def stop_interval(session: PeerSession, script_id: str) -> bool:
    """True when the script (or spell) was removed, False when the peer had no such script or spell."""
    if session.call("deploy.aqua", "stop_interval", [script_id]):
        return True
    return stop_interval_spell(session, script_id)


# ---- the interval as a spell --------------------------------------------------------------------------------


def start_interval_spell(
    context: FlowContext, session: PeerSession, every_s: float, *, record_key: str = "notice"
) -> IntervalStarted:
    """Install the governed interval AIR as a spell whose clock fires every `every_s` seconds (a whole number:
    spell clocks count seconds)."""
    if every_s < 1 or every_s != int(every_s) or every_s >= 2**32:
        raise FluenceDaoError(f"a spell's period is a whole number of seconds >= 1, got {every_s:g}", every_s=every_s)
    project = context.settings.ens.project_name
    air_cid = context.ens.text(project, AIR_INTERVAL_KEY)
    if not air_cid:
        raise FluenceDaoError(f"no {AIR_INTERVAL_KEY} record on {project}: run `fluence-dao publish` first")
    spell_id = session.call("spell.aqua", "start_interval_spell", [air_cid, int(every_s), record_key])
    return IntervalStarted(spell_id, air_cid, every_s, session.peer_id, record_key, kind="spell")


def stop_interval_spell(session: PeerSession, spell_id: str) -> bool:
    """True when the spell was removed, False when the peer has no such spell."""
    if spell_id not in (session.call("spell.aqua", "list_spells") or []):
        return False
    session.call("spell.aqua", "remove_spell", [spell_id])
    return True
