"""A conversation with one peer: the network that reaches it and one client identity for every call.

Permissions on the peer follow the caller's peer id (who created a service may remove it; only the management
peer may add scripts), so a flow keeps one client for all its calls. The network is a `ParticleNetwork`: a
`LocalNetwork` (peers in this process), the peer daemon's `RemoteNetwork` or a libp2p relay; `open_session` reaches
the one the settings (or `relay`) name, through `peer.connect`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from fluence_dao.aqua import CompiledAqua, compile_aqua
from fluence_dao.config import Settings
from fluence_dao.peer import ParticleNetwork, Peer, call_function, connect
from fluence_dao.peer.client import CallArgs
from fluence_dao.util.paths import project_root


@cache
def project_aqua(file_name: str) -> CompiledAqua:
    """A compiled project Aqua file from `aqua/` (compiled once per process; cached on disk by source hash)."""
    return compile_aqua(project_root() / "aqua" / file_name)


@dataclass
class PeerSession:
    network: ParticleNetwork
    client: Peer | None = None
    ttl_ms: int = 60_000

    @property
    def peer_id(self) -> str:
        relay = self.network.relay
        return relay if isinstance(relay, str) else str(relay.peer_id)

    def call(self, aqua_file: str, function: str, args: CallArgs = ()) -> Any:
        """Run an exported function of a project Aqua file on the peer and return its result: JSON in the shape
        the Aqua function declares, which callers index directly (so the return type is loose)."""
        if self.client is None:
            self.client = self.network.client()
        fn = project_aqua(aqua_file).function(function)
        return call_function(self.network, fn, args, client=self.client, ttl_ms=self.ttl_ms)


def open_session(settings: Settings, *, relay: str | None = None, ttl_ms: int = 60_000) -> PeerSession:
    """A session with the peer daemon of `settings` (or the libp2p `relay`), with the CLI's client key."""
    return PeerSession(connect(settings, relay=relay), ttl_ms=ttl_ms)
