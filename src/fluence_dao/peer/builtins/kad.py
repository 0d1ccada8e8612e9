"""`kad`: neighborhood and merge over the peers of the local network (XOR distance of sha256 keys, as libp2p)."""

from __future__ import annotations

import hashlib

import base58

from fluence_dao.peer.args import BOOL, STR, STRINGS, U32, arg, opt
from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, export
from fluence_dao.util.json_types import Args, JsonObject

K_VALUE = 20


def _b58(text: str) -> bytes:
    try:
        return base58.b58decode(text)
    except ValueError as err:
        raise BuiltinError(f"Error: error decoding base58: {err}\nDecodeBase58({err!s})") from err


def _key(preimage: bytes) -> int:
    return int.from_bytes(hashlib.sha256(preimage).digest(), "big")


class KademliaService(BuiltinService):
    service_id = "kad"

    def _neighbors(self, args: Args, ctx: CallContext) -> list[str]:
        key = _b58(arg(args, 0, "key", STR))
        already_hashed = opt(args, 1, "already_hashed", BOOL)
        count = opt(args, 2, "count", U32)
        count = K_VALUE if count is None else count
        multihash = key if already_hashed else bytes([0x12, len(key)]) + key
        target = _key(multihash)
        peers = [p for p in ctx.peer.network_peer_ids() if p != ctx.peer.peer_id]
        peers.sort(key=lambda p: _key(base58.b58decode(p)) ^ target)
        return peers[:count]

    @export()
    def neighborhood(self, args: Args, ctx: CallContext) -> list[str]:
        return self._neighbors(args, ctx)

    @export()
    def neigh_with_addrs(self, args: Args, ctx: CallContext) -> list[JsonObject]:
        return [{"peer_id": p, "addresses": ctx.peer.network_contact(p) or []} for p in self._neighbors(args, ctx)]

    @export()
    def merge(self, args: Args, ctx: CallContext) -> list[str]:
        target = _key(_b58(arg(args, 0, "target", STR)))
        left = arg(args, 1, "left", STRINGS)
        right = arg(args, 2, "right", STRINGS)
        count = opt(args, 3, "count", U32)
        count = K_VALUE if count is None else count
        keys = list(dict.fromkeys(_b58(s) for s in left + right))
        keys.sort(key=lambda k: _key(k) ^ target)
        return [base58.b58encode(k).decode() for k in keys[:count]]
