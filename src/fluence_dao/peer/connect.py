"""One way to reach a peer: `connect(settings, relay=None)`.

- no relay: the peer daemon of the settings' state dir (`devnet up` or `peer serve`), over its loopback endpoint,
  with the CLI's client key (`RemoteNetwork`);
- `relay="/ip4/127.0.0.1/tcp/PORT/ws/p2p/12D3KooW..."`: any Fluence relay over libp2p (`Libp2pRelayNetwork`; py-libp2p
  itself is imported only then: it costs start-up time).
Both, like the in-process `LocalNetwork`, are a `ParticleNetwork` (peer/client.py), what `call_function` and the
flows' `PeerSession` take.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fluence_dao.errors import PeerError
from fluence_dao.peer.client import ParticleNetwork
from fluence_dao.peer.libp2p import Libp2pRelayNetwork
from fluence_dao.peer.remote import RemoteNetwork, client_key_pair, daemon_address

if TYPE_CHECKING:
    from fluence_dao.config import Settings


def connect(settings: Settings, *, relay: str | None = None, timeout_s: float = 5.0) -> ParticleNetwork:
    """A network to the daemon of `settings` (or to `relay`); PeerError naming what to run when none answers."""
    key = client_key_pair(settings)
    if relay:
        return Libp2pRelayNetwork(relay, key)
    address = daemon_address(settings)
    if address is None:
        raise PeerError(
            f"no peer daemon for state dir {settings.state_dir}: run `fluence-dao devnet up` (or `peer serve`)",
            state_dir=str(settings.state_dir),
        )
    try:
        return RemoteNetwork(address, key, connect_timeout_s=timeout_s)
    except PeerError as err:
        raise PeerError(
            f"the peer daemon of state dir {settings.state_dir} does not answer at {address} ({err.message}): "
            "run `fluence-dao devnet up` (or `peer serve`)",
            state_dir=str(settings.state_dir),
            address=address,
        ) from err
