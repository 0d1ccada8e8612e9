"""`start-interval` / `stop-interval`: the governed loop as a script on the peer.

The interval AIR is fetched by the CID in the `air.interval` record and verified (the peer's aqua-ipfs builtin
refuses bytes that do not hash to it) before `script.add` schedules it.
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

    def to_dict(self) -> dict[str, Any]:
        return {"script_id": self.script_id, "air_cid": self.air_cid, "every_s": self.every_s,
                "peer_id": self.peer_id, "record_key": self.record_key}  # fmt: skip


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
    """True when the script was removed, False when the peer had no such script."""
    return bool(session.call("deploy.aqua", "stop_interval", [script_id]))
