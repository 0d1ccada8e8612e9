"""`peer`: identify, timestamp_ms, timestamp_sec, timeout, is_connected, connect, get_contact."""

from __future__ import annotations

import time

from fluence_dao import __version__
from fluence_dao.errors import ParticleError
from fluence_dao.peer.args import STR, STRINGS, U64, arg, missing, opt
from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, Deferred, export
from fluence_dao.peer.particle import public_key_from_peer_id
from fluence_dao.util.json_types import Args, JsonObject

AIR_VERSION = "0.62.0"


def _peer_id_arg(args: Args, index: int, field_name: str) -> str:
    peer_id: str = arg(args, index, field_name, STR)
    try:
        public_key_from_peer_id(peer_id)
    except ParticleError as err:
        raise BuiltinError(f"Error: {err.message}\nParseError") from err
    return peer_id


class PeerService(BuiltinService):
    service_id = "peer"

    @export()
    def timestamp_ms(self, args: Args, ctx: CallContext) -> int:
        return int(time.time() * 1000)

    @export()
    def timestamp_sec(self, args: Args, ctx: CallContext) -> int:
        return int(time.time())

    @export()
    def identify(self, args: Args, ctx: CallContext) -> JsonObject:
        return {
            "external_addresses": list(ctx.peer.external_addresses),
            "node_version": f"fluence-dao {__version__}",
            "air_version": AIR_VERSION,
            "spell_version": "",
            "allowed_binaries": sorted(ctx.peer.services.allowed_binaries.values()),
            "vm_info": None,
        }

    @export()
    def timeout(self, args: Args, ctx: CallContext) -> Deferred:
        if not args:
            raise missing("duration_ms")
        duration = args[0]
        if isinstance(duration, str) and duration.isdigit():
            duration = int(duration)
        duration = arg([duration], 0, "duration_ms", U64)
        message = opt(args, 1, "message", STR)
        return Deferred(delay_s=duration / 1000.0, value=message)

    @export()
    def is_connected(self, args: Args, ctx: CallContext) -> bool:
        peer_id = _peer_id_arg(args, 0, "peer_id")
        return peer_id != ctx.peer.peer_id and ctx.peer.network_contact(peer_id) is not None

    @export()
    def connect(self, args: Args, ctx: CallContext) -> bool:
        peer_id = _peer_id_arg(args, 0, "peer_id")
        opt(args, 1, "addresses", STRINGS)
        ctx.peer.policy.guard_protected(ctx.init_peer_id)
        return ctx.peer.network_contact(peer_id) is not None

    @export()
    def get_contact(self, args: Args, ctx: CallContext) -> list[JsonObject]:
        peer_id = _peer_id_arg(args, 0, "peer_id")
        # builtin.aqua's contract is `?Contact`: [] when not connected (nox answers its "empty" outcome, "")
        addresses = ctx.peer.network_contact(peer_id)
        if addresses is None or peer_id == ctx.peer.peer_id:
            return []
        return [{"peer_id": peer_id, "addresses": addresses}]
