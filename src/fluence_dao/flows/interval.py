"""`start-interval` / `stop-interval`: the governed loop as a script on the peer.

The interval AIR is fetched by the CID in the `air.interval` record and verified (the peer's aqua-ipfs builtin
refuses bytes that do not hash to it) before `script.add` schedules it. With `as_spell` (`start_interval_spell`) it
is installed as a spell instead (nox's scheduler since 2023): a clock trigger with period `every_s` whole seconds;
`stop_interval` removes either.

Each interval carries its own arguments, given here and answered to its AIR's getDataSrv calls by the peer: the
text record it writes (`record_key`), the name it writes it on (`signer_name`, default the configured signer name)
and the gas limit of its transactions. Starting an interval changes nothing else on the peer, so two intervals
with different keys each write their own. Runs start on a fixed grid (start + k * every_s); a run still going when
the next is due makes that one skipped (see fluence_dao.peer.scheduler).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypedDict, Unpack

from fluence_dao.errors import FluenceDaoError
from fluence_dao.flows._context import AIR_INTERVAL_KEY, FlowContext
from fluence_dao.flows._session import PeerSession
from fluence_dao.util.json_types import JsonObject, to_json_object

DEFAULT_RECORD_KEY = "notice"
DEFAULT_GAS_LIMIT = 120_000
MIN_GAS_LIMIT = 21_000
MAX_GAS_LIMIT = 30_000_000  # a block's gas limit on mainnet and anvil


@dataclass(frozen=True)
class IntervalArgs:
    """What one interval writes: the text record `record_key` of `signer_name`, with `gas_limit` gas."""

    record_key: str
    signer_name: str
    gas_limit: int

    def to_aqua(self) -> dict[str, str]:
        """As Aqua's `IntervalArgs` (aqua/runs.aqua)."""
        return {"record_key": self.record_key, "signer_name": self.signer_name, "gas_limit": str(self.gas_limit)}


class IntervalOptions(TypedDict, total=False):
    """The optional arguments of `start_interval` and `start_interval_spell` (see `interval_args`)."""

    record_key: str
    signer_name: str | None
    gas_limit: int


def interval_args(
    context: FlowContext,
    *,
    record_key: str = DEFAULT_RECORD_KEY,
    signer_name: str | None = None,
    gas_limit: int = DEFAULT_GAS_LIMIT,
) -> IntervalArgs:
    """Checked arguments for one interval (`signer_name` None: the configured signer name)."""
    name = signer_name or context.settings.ens.signer_name
    if not record_key or record_key != record_key.strip():
        raise FluenceDaoError(
            f"the record key must be a non-empty text without surrounding spaces, got {record_key!r} (--key)",
            record_key=record_key,
        )
    if "." not in name or name != name.strip():
        raise FluenceDaoError(f"the signer name must be an ENS name such as alpha.example.eth, got {name!r}", name=name)
    if not MIN_GAS_LIMIT <= gas_limit <= MAX_GAS_LIMIT:
        raise FluenceDaoError(
            f"the gas limit must be between {MIN_GAS_LIMIT} and {MAX_GAS_LIMIT}, got {gas_limit} (--gas-limit)",
            gas_limit=gas_limit,
        )
    return IntervalArgs(record_key, name, gas_limit)


@dataclass
class IntervalStarted:
    script_id: str
    air_cid: str
    every_s: float
    peer_id: str
    record_key: str
    kind: str = "script"  # "script" (2021 script.add) or "spell" (script_id is then the spell id)
    signer_name: str = ""
    gas_limit: int = DEFAULT_GAS_LIMIT

    def to_dict(self) -> JsonObject:
        return to_json_object(self)


def _air_cid(context: FlowContext) -> str:
    project = context.settings.ens.project_name
    air_cid = context.ens.text(project, AIR_INTERVAL_KEY)
    if not air_cid:
        raise FluenceDaoError(f"no {AIR_INTERVAL_KEY} record on {project}: run `fluence-dao publish` first")
    return air_cid


def start_interval(
    context: FlowContext, session: PeerSession, every_s: float, **options: Unpack[IntervalOptions]
) -> IntervalStarted:
    """Schedule the governed interval AIR with `script.add` every `every_s` seconds, with its own arguments."""
    if not every_s > 0:
        raise FluenceDaoError(f"the interval must be positive, got {every_s} s", every_s=every_s)
    return _start(context, session, "script", every_s, options)


def _start(
    context: FlowContext,
    session: PeerSession,
    kind: Literal["script", "spell"],
    every_s: float,
    options: IntervalOptions,
) -> IntervalStarted:
    """Install the interval AIR named in ENS as a script (period `every_s`) or a spell (whole seconds)."""
    args = interval_args(context, **options)
    air_cid = _air_cid(context)
    if kind == "spell":
        script_id = session.call("spell.aqua", "start_interval_spell", [air_cid, int(every_s), args.to_aqua()])
    else:
        script_id = session.call("deploy.aqua", "start_interval", [air_cid, f"{every_s:g}", args.to_aqua()])
    return IntervalStarted(
        script_id, air_cid, every_s, session.peer_id, args.record_key, kind, args.signer_name, args.gas_limit
    )


def stop_interval(session: PeerSession, script_id: str) -> bool:
    """True when the script (or spell) was removed, False when the peer had no such script or spell."""
    if session.call("deploy.aqua", "stop_interval", [script_id]):
        return True
    return stop_interval_spell(session, script_id)


# ---- the interval as a spell --------------------------------------------------------------------------------


def start_interval_spell(
    context: FlowContext, session: PeerSession, every_s: float, **options: Unpack[IntervalOptions]
) -> IntervalStarted:
    """Install the governed interval AIR as a spell whose clock fires every `every_s` seconds (a whole number:
    spell clocks count seconds); its arguments are the spell's init args."""
    if every_s < 1 or every_s != int(every_s) or every_s >= 2**32:
        raise FluenceDaoError(f"a spell's period is a whole number of seconds >= 1, got {every_s:g}", every_s=every_s)
    return _start(context, session, "spell", every_s, options)


def stop_interval_spell(session: PeerSession, spell_id: str) -> bool:
    """True when the spell was removed, False when the peer has no such spell."""
    if spell_id not in (session.call("spell.aqua", "list_spells") or []):
        return False
    session.call("spell.aqua", "remove_spell", [spell_id])
    return True
