"""The client side of the peer daemon: `RemoteNetwork`, usable wherever `call_function` takes a network.

    with RemoteNetwork("127.0.0.1:PORT", KeyPair.load_or_create(state_dir / "client" / "key")) as net:
        call_function(net, compile_aqua("x.aqua").function("greet"), ["world"])

A RemoteNetwork holds one TCP connection to the daemon and one local client `Peer` (its own AquaVM, the given
identity) whose transport is that connection: the client executes its part of the AIR locally (getDataSrv,
callbackSrv) and exchanges particles with the daemon, which is the relay. `run_until` drives the client and
reads the socket. A particle the daemon refuses (bad signature, expired, over a limit) or that fails there (AquaVM
error, memory ceiling) raises ParticleError at once instead of waiting for its TTL.
`connect_from_settings(settings)` finds a running daemon (devnet or `peer serve`) or returns None.
Only 127.0.0.1 addresses are accepted.

The Ping a RemoteNetwork sends is signed with its key: when the key is a management key, the connection keeps a
slot of the daemon's reserved capacity even while other clients hold every general one. The daemon closes
connections idle for its `idle_timeout_s`; a RemoteNetwork whose connection was closed that way reconnects
before it sends its next particle.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

from fluence_dao.errors import ConfigError, ParticleError, PeerError
from fluence_dao.peer.node import Peer, PeerConfig
from fluence_dao.peer.particle import KeyPair, Particle
from fluence_dao.peer.paths import client_key_path, daemon_file
from fluence_dao.peer.wire import (
    ControlMessage,
    FrameReader,
    decode_message,
    encode_control,
    encode_particle,
    encode_signed_ping,
    frame,
)
from fluence_dao.util.json_types import JsonObject, to_json
from fluence_dao.util.net import LOOPBACK

if TYPE_CHECKING:
    from fluence_dao.config import Settings

logger = logging.getLogger(__name__)

MAX_POLL_S = 0.5
SEND_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RemotePeer:
    """The daemon's peer as seen from the client: its id and address."""

    peer_id: str
    address: str


def parse_address(address: str | tuple[str, int]) -> tuple[str, int]:
    """`127.0.0.1:PORT` (or a tuple) -> (host, port); ConfigError for anything not on 127.0.0.1."""
    if isinstance(address, tuple):
        host, port = address
    else:
        host, _, port_text = address.rpartition(":")
        if not port_text.isdigit():
            raise ConfigError(f"peer daemon address {address!r} is not HOST:PORT", address=address)
        port = int(port_text)
    if host not in (LOOPBACK, "localhost"):
        raise ConfigError(f"peer daemon address {host}:{port}: only {LOOPBACK} is supported", address=str(address))
    if not 0 < port < 65536:
        raise ConfigError(f"peer daemon address {host}:{port}: bad port", address=str(address))
    return LOOPBACK, port


class _Link:
    """A framed connection: send messages, receive decoded ones."""

    def __init__(self, address: tuple[str, int], timeout_s: float) -> None:
        self.address = address
        try:
            self.sock = socket.create_connection(address, timeout=timeout_s)
        except OSError as err:
            raise PeerError(
                f"cannot connect to the peer daemon at {address[0]}:{address[1]}: {err.strerror or err} "
                "(is it running? `fluence-dao devnet up` or `fluence-dao peer serve`)",
                address=f"{address[0]}:{address[1]}",
            ) from err
        self.sock.settimeout(SEND_TIMEOUT_S)  # reads go through select with their own deadlines
        # a particle and the Sync after it are two writes in a row: with Nagle's algorithm the second waits
        # for the daemon's delayed ACK (40 ms on Linux); each message is sent whole, so nothing is gained by it
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = FrameReader()
        self._ready: list[bytes] = []

    def send(self, message: bytes) -> None:
        try:
            self.sock.sendall(frame(message))
        except OSError as err:
            raise PeerError(f"the peer daemon connection failed while sending: {err}") from err

    def receive(self, timeout_s: float) -> Particle | ControlMessage | None:
        """The next message, or None when nothing arrived within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while not self._ready:
            if not self._readable(max(0.0, deadline - time.monotonic())):
                return None
            try:
                data = self.sock.recv(65536)
            except OSError as err:
                raise PeerError(f"the peer daemon connection failed: {err}") from err
            if not data:
                raise PeerError(f"the peer daemon at {self.address[0]}:{self.address[1]} closed the connection")
            self._ready.extend(self._reader.feed(data))
        return decode_message(self._ready.pop(0))

    def _readable(self, timeout_s: float) -> bool:
        readable, _, _ = select.select([self.sock], [], [], timeout_s)
        return bool(readable)

    def ping_message(self, key_pair: KeyPair | None) -> bytes:
        return encode_control("Ping") if key_pair is None else encode_signed_ping(key_pair)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class _DaemonPeer:
    """The daemon's peer in `RemoteNetwork.peers`: `has_pending_work()` is True until the daemon has executed
    what was sent to it (a Sync round trip), as LocalNetwork's peers report their queues, so `call_function` of a
    function without a result returns after it ran and reports its errors."""

    def __init__(self, network: RemoteNetwork) -> None:
        self._network = network

    @property
    def peer_id(self) -> str:
        return self._network.relay.peer_id

    def has_pending_work(self) -> bool:
        """Non-blocking: the first call asks for a Sync and says True; True until the daemon's Synced arrives
        (read by `run_until`, which keeps its own deadline), then False once."""
        return self._network._sync_pending()

    def __repr__(self) -> str:
        return f"DaemonPeer({self.peer_id})"


def ping(
    address: str | tuple[str, int], timeout_s: float = 1.0, *, key_pair: KeyPair | None = None
) -> JsonObject | None:
    """The daemon's `Pong` facts, or None when nothing (or something else) answers: the health check. With
    `key_pair` the Ping is signed, so a management key is answered even when the daemon's general capacity is
    taken."""
    try:
        link = _Link(parse_address(address), timeout_s)
    except (PeerError, ConfigError):
        return None
    try:
        link.send(link.ping_message(key_pair))
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            message = link.receive(remaining)
            if isinstance(message, dict) and message.get("action") == "Pong":
                return _pong_facts(message, link.address)
            if message is None:
                return None
        return None
    except (PeerError, ParticleError):
        return None
    finally:
        link.close()


def drive_client(
    client: Peer | None, done: Callable[[], bool], timeout_s: float, read: Callable[[float], None]
) -> bool:
    """Step a client peer until `done()` (True) or the timeout (False). When the client has nothing to do,
    `read(seconds)` waits at most that long for the relay's messages and hands them to the client; the wait ends
    early for the client's own timers (e.g. a `peer.timeout`)."""
    deadline = time.monotonic() + timeout_s
    while True:
        worked = client.step() if client is not None else False
        if done():
            return True
        now = time.monotonic()
        if now >= deadline:
            return False
        if worked:
            continue
        wake = client.next_wakeup_s() if client is not None else None
        until = min(deadline, now + MAX_POLL_S, *(w for w in (wake,) if w is not None))
        read(max(0.0, until - now))


class RelayClient(ABC):
    """What a client of a relay is, over the daemon's loopback endpoint (`RemoteNetwork`) or libp2p
    (`libp2p.Libp2pRelayNetwork`): one local client peer with the given identity, every particle through the relay,
    `run_until` stepping the client and reading (`_read`) what the relay sends. A subclass sets `_relay` once it
    knows the relay's peer id."""

    _relay: RemotePeer

    def __init__(self, client_key_pair: KeyPair) -> None:
        self.key_pair = client_key_pair
        self.clients: list[Peer] = []
        self._client: Peer | None = None

    @property
    def relay(self) -> RemotePeer:
        return self._relay

    def client(self) -> Peer:
        """The one client peer of this connection (the identity given), created on first use."""
        if self._client is None:
            self._client = Peer(PeerConfig(), key_pair=self.key_pair, transport=self, is_client=True)
            self.clients.append(self._client)
        return self._client

    def peer_ids(self) -> list[str]:
        return [self._relay.peer_id]

    def run_until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        """Drive the client and read the relay's particles until `done()` or the timeout."""
        return drive_client(self._client, done, timeout_s, self._read)

    @abstractmethod
    def send(self, sender_peer_id: str, target_peer_id: str, particle: Particle) -> bool:
        """Transport for the client peer: a particle for the relay (False for any other target)."""

    @abstractmethod
    def contact(self, peer_id: str) -> list[str] | None:
        """Transport for the client peer: the relay's address."""

    @abstractmethod
    def _read(self, timeout_s: float) -> None:
        """Wait at most `timeout_s` for what the relay sends and hand it to the client."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection to the relay."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteNetwork(RelayClient):
    """`call_function`'s network interface over a connection to the peer daemon (the relay)."""

    def __init__(
        self, address: str | tuple[str, int], client_key_pair: KeyPair, *, connect_timeout_s: float = 5.0
    ) -> None:
        super().__init__(client_key_pair)
        self._address = parse_address(address)
        self._connect_timeout_s = connect_timeout_s
        self._link = _Link(self._address, connect_timeout_s)
        self.refused: list[ControlMessage] = []
        self.failed: list[ControlMessage] = []  # Failed messages of particles this client no longer waits for
        self.peers: list[_DaemonPeer] = [_DaemonPeer(self)]  # the daemon's peer, seen through the connection
        self._sync_tokens = 0
        self._sync_waiting: int | None = None  # token of the Sync asked by has_pending_work
        self._synced_token: object = None  # last Synced token received
        self.daemon_info = self.ping(connect_timeout_s)
        self._relay = RemotePeer(peer_id=str(self.daemon_info["peer_id"]), address=str(self.daemon_info["address"]))

    def ping(self, timeout_s: float = 5.0) -> JsonObject:
        """The daemon's facts (peer id, counters); particles that arrive meanwhile go to the client. The Ping is
        signed with this network's key (a management key keeps the daemon's reserved capacity)."""
        self._link.send(self._link.ping_message(self.key_pair))
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            message = self._link.receive(remaining)
            if isinstance(message, dict) and message.get("action") == "Pong":
                return _pong_facts(message, self._link.address)
            if message is not None:
                self._dispatch(message)
        raise PeerError(f"the peer daemon at {self._link.address[0]}:{self._link.address[1]} did not answer a ping")

    def _sync_pending(self) -> bool:
        if self._sync_waiting is None:
            self._sync_tokens += 1
            self._sync_waiting = self._sync_tokens
            self._link.send(encode_control("Sync", token=self._sync_waiting))
            return True
        if self._synced_token == self._sync_waiting:
            self._sync_waiting = None
            return False
        return True

    def sync(self, timeout_s: float = 30.0) -> None:
        """Return once the daemon has executed every particle sent before (particles it sends back meanwhile are
        queued on the client peer)."""
        self._sync_tokens += 1
        token = self._sync_tokens
        self._link.send(encode_control("Sync", token=token))
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            message = self._link.receive(remaining)
            if message is not None:
                self._dispatch(message)
            if self._synced_token == token:
                return
        raise PeerError(f"the peer daemon did not finish its work within {timeout_s} s (no Synced reply)")

    # ---- Transport for the client peer -----------------------------------------------------------------------

    def send(self, sender_peer_id: str, target_peer_id: str, particle: Particle) -> bool:
        if target_peer_id != self._relay.peer_id:
            return False  # everything goes through the relay; compiled Aqua routes other peers via it
        message = encode_particle(particle)
        self._reconnect_if_closed()
        self._link.send(message)
        return True

    def _reconnect_if_closed(self) -> None:
        """The daemon closes idle connections: read what is buffered and, if it hung up, connect again (nothing
        is lost: a connection with a particle still alive on the daemon is never idle)."""
        try:
            self._read(0.0)
        except PeerError as err:
            if isinstance(err, ParticleError):
                raise
            logger.debug("reconnecting to the peer daemon: %s", err.message)
            self._link.close()
            self._link = _Link(self._address, self._connect_timeout_s)
            self._sync_waiting = None
            self.daemon_info = self.ping(self._connect_timeout_s)

    def contact(self, peer_id: str) -> list[str] | None:
        return [f"/ip4/{LOOPBACK}/tcp/{self._link.address[1]}"] if peer_id == self._relay.peer_id else None

    # ---- driving ---------------------------------------------------------------------------------------------

    def run_until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        self._sync_waiting = None  # each drive asks the daemon afresh (a late Synced of an earlier one is ignored)
        return super().run_until(done, timeout_s)

    def _read(self, timeout_s: float) -> None:
        message = self._link.receive(timeout_s)
        while message is not None:
            self._dispatch(message)
            message = self._link.receive(0.0)

    def _dispatch(self, message: Particle | ControlMessage) -> None:
        if isinstance(message, Particle):
            if self._client is None:
                logger.debug("particle %s from the daemon dropped: no client peer yet", message.id)
                return
            self._client.receive(message)
            return
        if message.get("action") == "Synced":
            self._synced_token = message.get("token")
            return
        if message.get("action") == "Refused":
            self.refused.append(message)
            raise ParticleError(
                f"the peer daemon refused particle {message.get('id')}: {message.get('reason')}",
                particle_id=message.get("id"),
            )
        if message.get("action") == "Failed":
            particle_id = message.get("id")
            if self._client is None or not self._client.knows(str(particle_id)):
                logger.debug("particle %s (finished here) failed on the daemon: %s", particle_id, message.get("reason"))
                self.failed.append(message)
                return
            raise ParticleError(
                f"particle {particle_id} failed on the peer daemon: {message.get('reason')}", particle_id=particle_id
            )
        logger.debug("unexpected control message from the daemon: %s", message.get("action"))

    def close(self) -> None:
        self._link.close()


def _pong_facts(message: ControlMessage, address: tuple[str, int]) -> JsonObject:
    """A Pong's facts as JSON; PeerError when a value is not JSON (then it is not our daemon's Pong)."""
    where = f"{address[0]}:{address[1]}"
    try:
        facts = to_json(message)
    except TypeError as err:  # bytes or another MessagePack type
        raise PeerError(f"the peer at {where} answered a Pong that is not JSON: {err}", address=where) from None
    if not isinstance(facts, dict):  # to_json writes a mapping as a dict
        raise PeerError(f"the peer at {where} answered a Pong that is not a map", address=where)
    return facts


def daemon_address(settings: Settings) -> str | None:
    """Where the daemon should be: `settings.peer.port` when set, else `<state_dir>/peer/daemon.json`."""

    if settings.peer.port:
        return f"{LOOPBACK}:{settings.peer.port}"
    path: Path = daemon_file(settings.state_dir)
    try:
        record = json.loads(path.read_text())
        return str(record["address"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as err:
        logger.warning("ignoring unreadable %s: %s", path, err)
        return None


def client_key_pair(settings: Settings) -> KeyPair:
    """The CLI client's persistent identity, `<state_dir>/client/key` (created on first use)."""

    return KeyPair.load_or_create(client_key_path(settings.state_dir))


def client_key_if_present(settings: Settings) -> KeyPair | None:
    """The CLI client's key when its file exists (never created here: a health check must not race the daemon,
    which creates it at its first start), else None."""

    path = client_key_path(settings.state_dir)
    try:
        return KeyPair.from_base64(path.read_text())
    except (OSError, ConfigError):
        return None


def connect_from_settings(settings: Settings, *, timeout_s: float = 2.0) -> RemoteNetwork | None:
    """A RemoteNetwork to the running daemon (with the CLI client's key), or None when none answers."""
    address = daemon_address(settings)
    if address is None:
        return None
    try:  # one connection: its own (signed) ping is the health check
        return RemoteNetwork(address, client_key_pair(settings), connect_timeout_s=timeout_s)
    except (PeerError, ParticleError):
        return None
