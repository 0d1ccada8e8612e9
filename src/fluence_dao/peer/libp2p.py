"""Fluence's real wire protocol over libp2p (py-libp2p 0.8.1): what js-client and nox speak.

    endpoint = Libp2pEndpoint(key_pair, on_message, listen_port=0).start()    # the daemon side
    with Libp2pRelayNetwork("/ip4/127.0.0.1/tcp/P/ws/p2p/12D3KooW...", key_pair) as net:   # a client
        call_function(net, function, args)

Transport: websocket (`/ws`, what js-client dials; plain tcp is also accepted when dialing), `/noise`,
`/yamux/1.0.0`, identify (protocol_version `/fluence/particle/2.0.0`, as nox advertises) and ping. Protocol
`/fluence/particle/2.0.0`: one particle per stream, framed and encoded by `wire.py` (varint length, `81 04`,
MessagePack map with binary signature and data); messages over 4 MiB are refused with a ParticleError on send and
reset on receive.

py-libp2p is trio-based: each endpoint runs its host in a trio loop in its own thread. Received messages go to
the `on_message(remote_peer_id, message)` callback, called from that thread (it must be thread-safe and quick;
the daemon decodes, verifies and queues the particle for its loop thread). `send()` is thread-safe and does not
block: it hands the message to the trio thread, which opens a new stream to the peer over its existing
connection (a js-client behind us has no listen address: replies reuse its inbound connection).
Only 127.0.0.1 addresses are used.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from fluence_dao.errors import ConfigError, ParticleError, PeerError
from fluence_dao.peer.node import Peer
from fluence_dao.peer.particle import KeyPair, Particle, is_peer_id
from fluence_dao.peer.remote import RelayClient, RemotePeer
from fluence_dao.peer.wire import FrameReader, decode_particle, encode_particle, frame
from fluence_dao.util.net import LOOPBACK

if TYPE_CHECKING:  # py-libp2p and trio are imported where they are used: they cost start-up time
    import trio
    from libp2p.abc import IHost, INetConn, INetStream, INetwork
    from libp2p.peer.id import ID
    from multiaddr import Multiaddr

logger = logging.getLogger(__name__)

PARTICLE_PROTOCOL = "/fluence/particle/2.0.0"
IDENTIFY_PROTOCOL_VERSION = PARTICLE_PROTOCOL  # nox's identify protocol_version
START_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 2.0
READ_CHUNK = 65536

MessageHandler = Callable[[str, bytes], None]
Outgoing = tuple[str, bytes]  # (peer id, stream bytes) handed to the trio thread


class RelayInfo(TypedDict):
    """What a relay's identify said (`Libp2pEndpoint.connect`)."""

    peer_id: str
    protocol_version: str
    agent_version: str
    protocols: list[str]


@dataclass(frozen=True)
class RelayAddress:
    """A parsed relay multiaddr on 127.0.0.1: `/ip4/127.0.0.1/tcp/PORT[/ws]/p2p/PEER_ID`."""

    multiaddr: str
    port: int
    websocket: bool
    peer_id: str


def parse_relay_multiaddr(text: str) -> RelayAddress:
    """ConfigError naming the value for anything that is not a loopback tcp/ws multiaddr with a /p2p/ peer id."""
    parts = text.strip().split("/")
    if len(parts) < 2 or parts[0] != "":
        raise ConfigError(f"relay {text!r} is not a multiaddr (expected /ip4/127.0.0.1/tcp/PORT/ws/p2p/12D3KooW...)")
    parts = parts[1:]
    if len(parts) not in (6, 7) or parts[0] != "ip4" or parts[2] != "tcp" or parts[-2] != "p2p":
        raise ConfigError(f"relay {text!r} is not /ip4/127.0.0.1/tcp/PORT[/ws]/p2p/PEER_ID", relay=text)
    if parts[1] != LOOPBACK:
        raise ConfigError(f"relay {text!r}: only {LOOPBACK} is supported", relay=text)
    if not parts[3].isdigit() or not 0 < int(parts[3]) < 65536:
        raise ConfigError(f"relay {text!r}: bad tcp port {parts[3]!r}", relay=text)
    websocket = len(parts) == 7
    if websocket and parts[4] != "ws":
        raise ConfigError(f"relay {text!r}: unsupported protocol /{parts[4]} (tcp or tcp/ws only)", relay=text)
    if not is_peer_id(parts[-1]):
        raise ConfigError(f"relay {text!r}: {parts[-1]!r} is not an ed25519 peer id (12D3KooW...)", relay=text)
    return RelayAddress(multiaddr=text.strip(), port=int(parts[3]), websocket=websocket, peer_id=parts[-1])


class Libp2pEndpoint:
    """A py-libp2p host in its own thread speaking `/fluence/particle/2.0.0`.

    `listen_port` None: a dialing-only client host; an int (0: a free port): listen on
    `/ip4/127.0.0.1/tcp/PORT/ws`, the address js-client dials.
    """

    def __init__(self, key_pair: KeyPair, on_message: MessageHandler, *, listen_port: int | None = None) -> None:
        self.key_pair = key_pair
        self.peer_id = key_pair.peer_id
        self.on_message = on_message
        self.listen_port = listen_port
        self.port: int | None = None
        self.messages_received = 0
        self.messages_sent = 0
        self.send_failures = 0
        self._connected: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._send_channel: trio.MemorySendChannel[Outgoing] | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._stop_requested: trio.Event | None = None  # set from the trio thread
        self._stopped = threading.Event()
        self._host: IHost | None = None
        self._crash: BaseException | None = None

    # ---- lifecycle ------------------------------------------------------------------------------------------

    @property
    def multiaddr(self) -> str | None:
        """`/ip4/127.0.0.1/tcp/PORT/ws/p2p/PEER_ID` for a listening endpoint, else None."""
        if self.port is None:
            return None
        return f"/ip4/{LOOPBACK}/tcp/{self.port}/ws/p2p/{self.peer_id}"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> Libp2pEndpoint:
        self._thread = threading.Thread(target=self._thread_main, name="libp2p", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise PeerError(f"the libp2p host did not start within {timeout_s} s")
        if self._start_error is not None:
            root = _root_cause(self._start_error)
            if isinstance(root, PeerError):
                raise root
            where = f" on /ip4/{LOOPBACK}/tcp/{self.listen_port}/ws" if self.listen_port is not None else ""
            raise PeerError(
                f"the libp2p host did not start{where}: {type(root).__name__}: {_short(root)}", port=self.listen_port
            ) from self._start_error
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._token is None or self._stop_requested is None or self._stopped.is_set():
            return
        import trio

        try:
            self._token.run_sync_soon(self._stop_requested.set)
        except trio.RunFinishedError:
            return
        if self._thread is not None:
            self._thread.join(timeout_s)

    def connected_peers(self) -> set[str]:
        with self._lock:
            return set(self._connected)

    def is_connected(self, peer_id: str) -> bool:
        with self._lock:
            return peer_id in self._connected

    # ---- thread-safe API ------------------------------------------------------------------------------------

    def send(self, peer_id: str, message: bytes) -> bool:
        """Queue one particle message for `peer_id` (non-blocking); False when the host is not running.
        ParticleError (from `wire.frame`) at once for a message over 4 MiB."""
        return self.send_stream_bytes(peer_id, frame(message))

    def send_stream_bytes(self, peer_id: str, data: bytes) -> bool:
        """Write `data` as is on a new particle stream to `peer_id`: `send` does the framing; tests use this to
        check how a peer treats malformed or oversized streams."""
        if self._token is None or self._send_channel is None or self._stopped.is_set():
            return False
        import trio

        try:
            self._token.run_sync_soon(self._send_channel.send_nowait, (peer_id, data))
        except trio.RunFinishedError:
            return False
        return True

    def connect(self, relay: RelayAddress, timeout_s: float = CONNECT_TIMEOUT_S) -> RelayInfo:
        """Dial a relay (blocking); returns what its identify said. PeerError when it is not a Fluence peer."""
        import trio

        if self._token is None:
            raise PeerError("the libp2p host is not running")
        try:
            result = trio.from_thread.run(self._connect, relay, timeout_s, trio_token=self._token)
        except PeerError:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as err:  # py-libp2p lets some dial failures crash the host (e.g. an HTTP reply to ws)
            if isinstance(err, BaseExceptionGroup) and err.subgroup(lambda e: isinstance(e, PeerError)):
                raise _first(err, PeerError) from err
            if self._thread is not None:
                self._thread.join(1.0)  # the host's own crash names the cause; ours is only a cancellation
            root = _root_cause(self._crash or err)
            raise PeerError(
                f"relay {relay.multiaddr} is not a reachable Fluence peer: the libp2p handshake (websocket, noise, "
                f"yamux) failed: {type(root).__name__}: {_short(root)}",
                relay=relay.multiaddr,
            ) from err
        return result

    # ---- the trio side --------------------------------------------------------------------------------------

    def _thread_main(self) -> None:
        import trio

        try:
            trio.run(self._main)
        except BaseException as err:  # reported to start() or logged
            if not self._started.is_set():
                self._start_error = err
                self._started.set()
            else:
                self._crash = err
                if self.listen_port is not None:  # a serving host (the daemon's): its clients are cut off
                    logger.error("libp2p host %s stopped after an error", self.peer_id, exc_info=True)
                else:  # a client's failed dial: connect() raises a PeerError naming the cause
                    logger.debug("libp2p host thread failed", exc_info=True)
        finally:
            self._stopped.set()
            self._started.set()

    def _new_host(self) -> IHost:
        import libp2p.identity.identify.identify as identify_module
        from libp2p import create_yamux_muxer_option, new_host
        from libp2p.crypto.ed25519 import create_new_key_pair
        from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
        from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
        from libp2p.security.noise.transport import Transport as NoiseTransport

        # nox advertises the particle protocol as identify's protocol_version (and drops peers that do not);
        # py-libp2p reads this module constant whenever it answers identify (one libp2p identity per process).
        identify_module.PROTOCOL_VERSION = IDENTIFY_PROTOCOL_VERSION
        # Without LIBP2P_DEBUG, py-libp2p's logger has no handler and does not propagate, so Python's last-resort
        # handler would print its tracebacks of peers' failures to stderr; our own errors name the cause instead.
        libp2p_logger = logging.getLogger("libp2p")
        if not libp2p_logger.handlers:
            libp2p_logger.addHandler(logging.NullHandler())
        libp2p_keys = create_new_key_pair(self.key_pair.secret_seed())
        noise = NoiseTransport(libp2p_keys, noise_privkey=create_x25519_key_pair().private_key)
        return new_host(
            key_pair=libp2p_keys,
            sec_opt={NOISE_PROTOCOL_ID: noise},
            muxer_opt=create_yamux_muxer_option(),
            enable_websocket=True,
            enable_tcp=True,
        )

    async def _main(self) -> None:
        import multiaddr
        import trio
        from libp2p.custom_types import TProtocol

        self._token = trio.lowlevel.current_trio_token()
        self._stop_requested = trio.Event()
        send_channel, receive_channel = trio.open_memory_channel[Outgoing](1024)
        self._send_channel = send_channel
        host = self._new_host()
        self._host = host
        listen = []
        if self.listen_port is not None:
            listen = [multiaddr.Multiaddr(f"/ip4/{LOOPBACK}/tcp/{self.listen_port}/ws")]
        async with host.run(listen_addrs=listen), trio.open_nursery() as nursery:
            host.set_stream_handler(TProtocol(PARTICLE_PROTOCOL), self._handle_stream)
            self._watch_connections(host)
            if self.listen_port is not None:
                self.port = _listen_port(host, self.listen_port)
            self._started.set()
            nursery.start_soon(self._send_loop, host, receive_channel, nursery)
            await self._stop_requested.wait()
            with trio.move_on_after(STOP_TIMEOUT_S):  # close the connections: the other side sees us go at once
                await host.close()
            nursery.cancel_scope.cancel()
        self._host = None
        logger.debug("libp2p host %s stopped", self.peer_id)

    def _watch_connections(self, host: IHost) -> None:
        from libp2p.abc import INotifee

        endpoint = self

        class _Notifee(INotifee):
            async def connected(self, network: INetwork, conn: INetConn) -> None:
                peer = str(conn.muxed_conn.peer_id)
                with endpoint._lock:
                    endpoint._connected.add(peer)
                logger.info("libp2p: %s connected", peer)

            async def disconnected(self, network: INetwork, conn: INetConn) -> None:
                peer = conn.muxed_conn.peer_id
                if not network.get_connections(peer):
                    with endpoint._lock:
                        endpoint._connected.discard(str(peer))
                    logger.info("libp2p: %s disconnected", peer)

            async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
                return None

            async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
                return None

            async def listen(self, network: INetwork, multiaddr: Multiaddr) -> None:
                return None

            async def listen_close(self, network: INetwork, multiaddr: Multiaddr) -> None:
                return None

        host.get_network().register_notifee(_Notifee())

    async def _handle_stream(self, stream: INetStream) -> None:
        from libp2p.network.stream.exceptions import StreamError

        remote = str(stream.muxed_conn.peer_id)
        with self._lock:
            self._connected.add(remote)
        reader = FrameReader()
        try:
            async for chunk in _chunks(stream):
                for message in reader.feed(chunk):
                    self.messages_received += 1
                    self._deliver(remote, message)
            if reader.pending:
                logger.warning(
                    "libp2p: %s closed a particle stream inside a message (%d bytes)", remote, reader.pending
                )
        except ParticleError as err:  # e.g. a length over 4 MiB: the stream cannot continue
            logger.warning("libp2p: particle stream from %s refused: %s", remote, err.message)
            await _quietly(stream.reset())
            return
        except StreamError as err:
            logger.debug("libp2p: particle stream from %s failed: %s", remote, err)
            return
        await _quietly(stream.close())

    def _deliver(self, remote: str, message: bytes) -> None:
        try:
            self.on_message(remote, message)
        except Exception:  # one bad message must not end the host
            logger.exception("libp2p: handling a message from %s failed", remote)

    async def _send_loop(
        self, host: IHost, receive_channel: trio.MemoryReceiveChannel[Outgoing], nursery: trio.Nursery
    ) -> None:
        async for peer_id, data in receive_channel:
            nursery.start_soon(self._send_one, host, peer_id, data)

    async def _send_one(self, host: IHost, peer_id: str, data: bytes) -> None:
        import trio
        from libp2p.custom_types import TProtocol
        from libp2p.peer.id import ID

        try:
            with trio.fail_after(SEND_TIMEOUT_S):
                stream = await host.new_stream(ID.from_base58(peer_id), [TProtocol(PARTICLE_PROTOCOL)])
                try:
                    await stream.write(data)
                finally:
                    await _quietly(stream.close())
            self.messages_sent += 1
        except Exception as err:  # a peer that went away must not end the host
            self.send_failures += 1
            logger.warning("libp2p: sending a particle to %s failed: %s: %s", peer_id, type(err).__name__, err)

    async def _connect(self, relay: RelayAddress, timeout_s: float) -> RelayInfo:
        import multiaddr
        import trio
        from libp2p.peer.peerinfo import info_from_p2p_addr

        host = self._host
        if host is None:
            raise PeerError("the libp2p host is not running")
        info = info_from_p2p_addr(multiaddr.Multiaddr(relay.multiaddr))
        what = f"{relay.multiaddr}"
        try:
            with trio.fail_after(timeout_s):
                await host.connect(info)
        except trio.TooSlowError as err:
            raise PeerError(
                f"relay {what} did not complete a libp2p handshake (websocket, noise, yamux) within {timeout_s} s: "
                "is it a Fluence peer?",
                relay=what,
            ) from err
        except Exception as err:  # py-libp2p raises many kinds; all mean "not a Fluence peer here"
            raise PeerError(
                f"relay {what} is not a reachable Fluence peer: the libp2p handshake (websocket, noise, yamux) "
                f"failed: {type(err).__name__}: {err}",
                relay=what,
            ) from err
        with self._lock:
            self._connected.add(relay.peer_id)
        try:
            with trio.fail_after(timeout_s):
                facts = await _identify(host, info.peer_id)
        except Exception as err:
            raise PeerError(
                f"relay {what} answered libp2p but not identify ({type(err).__name__}: {err}): not a Fluence peer",
                relay=what,
            ) from err
        protocols = facts["protocols"]
        if PARTICLE_PROTOCOL not in protocols:
            raise PeerError(
                f"relay {what} is a libp2p peer but does not speak {PARTICLE_PROTOCOL} "
                f"(its protocols: {', '.join(protocols) or 'none'}): not a Fluence peer",
                relay=what,
            )
        return facts


async def _chunks(stream: INetStream) -> AsyncIterator[bytes]:
    """What a libp2p stream sends, as it arrives, until the remote closes its side."""
    from libp2p.network.stream.exceptions import StreamEOF

    while True:
        try:
            chunk = await stream.read(READ_CHUNK)
        except StreamEOF:
            return
        if not chunk:
            return
        yield chunk


async def _identify(host: IHost, peer: ID) -> RelayInfo:
    """Ask the peer's identify (`/ipfs/id/1.0.0`): its protocol_version, agent and protocols."""
    from libp2p.identity.identify.identify import ID as IDENTIFY_ID
    from libp2p.identity.identify.identify import parse_identify_response

    stream = await host.new_stream(peer, [IDENTIFY_ID])
    data = b""
    try:
        async for chunk in _chunks(stream):
            data += chunk
    finally:
        await _quietly(stream.close())
    response = parse_identify_response(data)
    return {
        "peer_id": str(peer),
        "protocol_version": response.protocol_version,
        "agent_version": response.agent_version,
        "protocols": list(response.protocols),
    }


def _root_cause(err: BaseException) -> BaseException:
    """The innermost exception of nested exception groups and causes (what actually went wrong)."""
    seen: set[int] = set()
    while id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, BaseExceptionGroup) and err.exceptions:
            err = err.exceptions[0]
        elif err.__cause__ is not None:
            err = err.__cause__
        else:
            break
    return err


def _first(group: BaseExceptionGroup, kind: type[PeerError]) -> PeerError:
    for err in group.exceptions:
        if isinstance(err, kind):
            return err
        if isinstance(err, BaseExceptionGroup):
            return _first(err, kind)
    raise group


def _short(err: BaseException, limit: int = 200) -> str:
    status = getattr(err, "status_code", None)  # trio-websocket's ConnectionRejected: an HTTP answer, not ws
    if status is not None:
        return f"HTTP {status} instead of a websocket upgrade"
    text = str(err).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."


async def _quietly(awaitable: Awaitable[object]) -> None:
    try:
        await awaitable
    except Exception as err:  # closing a stream the other side already dropped
        logger.debug("libp2p: ignoring %s while closing a stream", type(err).__name__)


def _listen_port(host: IHost, port: int) -> int:
    for addr in host.get_transport_addrs() or host.get_addrs():
        text = str(addr)
        parts = text.split("/")
        if "tcp" in parts and "ws" in parts:
            return int(parts[parts.index("tcp") + 1])
    raise PeerError(
        f"the libp2p host could not listen on /ip4/{LOOPBACK}/tcp/{port}/ws (is the port in use?); "
        f"its addresses: {[str(a) for a in host.get_addrs()] or 'none'}",
        port=port,
    )


# ---- the client side: a Fluence client of a relay over libp2p ---------------------------------------------


class Libp2pRelayNetwork(RelayClient):
    """`call_function`'s network interface over libp2p to a relay (our daemon, or any Fluence peer).

    One local client `Peer` (its own AquaVM, the given identity) exchanges particles with the relay; incoming
    particles are verified before the client sees them (a bad signature is dropped and logged).
    """

    def __init__(self, relay: str, client_key_pair: KeyPair, *, connect_timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        super().__init__(client_key_pair)
        self.address = parse_relay_multiaddr(relay)
        self.peers: list[Peer] = []
        self.dropped = 0
        self._inbox: queue.Queue[bytes] = queue.Queue()
        self._endpoint = Libp2pEndpoint(client_key_pair, self._on_message).start()
        try:
            self.relay_info = self._endpoint.connect(self.address, connect_timeout_s)
        except BaseException:
            self._endpoint.stop()
            raise
        self._relay = RemotePeer(peer_id=self.address.peer_id, address=self.address.multiaddr)

    def _on_message(self, remote: str, message: bytes) -> None:
        if remote != self.address.peer_id:
            logger.warning("libp2p client: message from %s (not the relay) dropped", remote)
            return
        self._inbox.put(message)

    # ---- Transport for the client peer ----------------------------------------------------------------------

    def send(self, sender_peer_id: str, target_peer_id: str, particle: Particle) -> bool:
        if target_peer_id != self._relay.peer_id:
            return False  # everything goes through the relay
        return self._endpoint.send(target_peer_id, encode_particle(particle))

    def contact(self, peer_id: str) -> list[str] | None:
        return [self.address.multiaddr] if peer_id == self._relay.peer_id else None

    # ---- driving --------------------------------------------------------------------------------------------

    def _read(self, timeout_s: float) -> None:
        try:
            self._dispatch(self._inbox.get(timeout=timeout_s))
        except queue.Empty:
            return
        while True:
            try:
                self._dispatch(self._inbox.get_nowait())
            except queue.Empty:
                return

    def _dispatch(self, message: bytes) -> None:
        try:
            particle = decode_particle(message)
            particle.verify()
        except ParticleError as err:
            self.dropped += 1
            logger.warning("libp2p client: particle from the relay dropped: %s", err.message)
            return
        if particle.is_expired():
            self.dropped += 1
            logger.warning("libp2p client: expired particle %s from the relay dropped", particle.id)
            return
        if self._client is None:
            logger.debug("particle %s from the relay dropped: no client peer yet", particle.id)
            return
        self._client.receive(particle)

    def close(self) -> None:
        self._endpoint.stop()
