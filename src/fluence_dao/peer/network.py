"""Several peers in one process: particles hop between them through an in-memory transport.

`LocalNetwork(n)` creates n peers (each with its own identity and state dir) that all know each other, so
`on OTHER_PEER` works. One thread at a time drives every peer (`run_until`, `run_for`); peers stay
synchronous. `start()` drives the network from a background thread (scripts keep running); `step()` holds a
lock, so `call_function` from another thread interleaves safely with the background driver.
Clients (`network.client()`) are peers too, with their own identity, reachable by the others but not listed
as network peers (kad).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from fluence_dao.errors import ConfigError
from fluence_dao.peer.avm import AquaVM
from fluence_dao.peer.node import Peer, PeerConfig
from fluence_dao.peer.particle import Particle

logger = logging.getLogger(__name__)

IDLE_SLEEP_S = 0.05


class LocalNetwork:
    def __init__(self, peers: int = 1, *, base_dir: Path | None = None, config: PeerConfig | None = None) -> None:
        if peers < 1:
            raise ConfigError(f"a local network needs at least 1 peer, got {peers}")
        self._base_config = config or PeerConfig()
        self._base_dir = base_dir
        self.peers: list[Peer] = []
        self.clients: list[Peer] = []
        self._by_id: dict[str, Peer] = {}
        self.delivered = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by a peer's call worker when a service call finished
        self._thread: threading.Thread | None = None
        for index in range(peers):
            self.add_peer(self._make_peer(f"peer-{index}", is_client=False))

    def _make_peer(self, name: str, *, is_client: bool) -> Peer:
        state_dir = None if self._base_dir is None else self._base_dir / name
        config = replace(self._base_config, state_dir=state_dir)
        return Peer(config, avm=AquaVM(), transport=self, is_client=is_client)

    def add_peer(self, peer: Peer) -> Peer:
        with self._lock:
            peer.transport = self
            peer.add_wake_listener(self._wake.set)
            self._by_id[peer.peer_id] = peer
            (self.clients if peer.is_client else self.peers).append(peer)
        return peer

    def client(self) -> Peer:
        """A new client peer (own identity, builtins, no hosted services expected) connected to every peer."""
        return self.add_peer(self._make_peer(f"client-{len(self.clients)}", is_client=True))

    @property
    def relay(self) -> Peer:
        return self.peers[0]

    # ---- Transport ------------------------------------------------------------------------------------------

    def send(self, sender_peer_id: str, target_peer_id: str, particle: Particle) -> bool:
        target = self._by_id.get(target_peer_id)
        if target is None:
            return False
        self.delivered += 1
        target.receive(particle)
        return True

    def contact(self, peer_id: str) -> list[str] | None:
        return [f"/memory/{peer_id}"] if peer_id in self._by_id else None

    def peer_ids(self) -> list[str]:
        return [p.peer_id for p in self.peers]

    # ---- driving ----------------------------------------------------------------------------------------------

    def step(self) -> bool:
        with self._lock:
            worked = False
            for peer in [*self.peers, *self.clients]:
                worked = peer.step() or worked
            return worked

    def run_until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        """Drive all peers until `done()` or the timeout; True if `done()` became true."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._wake.clear()
            worked = self.step()
            if done():
                return True
            now = time.monotonic()
            if now >= deadline:
                return False
            if not worked:
                wakeups = [w for p in [*self.peers, *self.clients] if (w := p.next_wakeup_s()) is not None]
                wake = min([deadline, now + IDLE_SLEEP_S, *wakeups])
                if wake > now:
                    self._wake.wait(wake - now)  # a finished service call ends the wait early

    def run_for(self, seconds: float) -> None:
        self.run_until(lambda: False, seconds)

    def run_until_idle(self, timeout_s: float = 10.0) -> bool:
        """Drive until no peer has queued particles (deferred timers and scripts may still be pending)."""
        return self.run_until(lambda: not any(p.has_pending_work() for p in [*self.peers, *self.clients]), timeout_s)

    def start(self) -> None:
        """Drive the network from a daemon thread until `stop()` (for scripts and long-running flows)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run_until, args=(self._stop.is_set, float("inf")), name="fluence-dao-network", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
