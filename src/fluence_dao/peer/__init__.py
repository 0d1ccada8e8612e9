"""The local Fluence peer: particles on the official AquaVM (avm.wasm), nox-compatible builtins, hosted services.

    net = LocalNetwork(peers=3)                         # peers in one process; particles hop between them
    fn = compile_aqua("x.aqua").function("main")        # fluence_dao.aqua
    result = call_function(net, fn, ["arg"])            # as `fluence run`: a client peer, relay = net.peers[0]

Heavy parts (wasmtime) load when a Peer/AquaVM is created, not at import.

Extension points:
- Extra builtin services (e.g. `aqua-ipfs`): any object with `call(function_name, args, ctx) -> JSON value`
  (raise `BuiltinError(message)` for an Aqua-catchable error, return `Deferred(delay_s, value)` to answer
  later), registered with `PeerConfig(extra_builtins={"aqua-ipfs": handler})` or `peer.register_builtin(...)`.
  `ctx.peer` is the Peer (services, vault, key pair), `ctx.particle` the particle, `ctx.tetraplets` per argument.
- Transports: a Peer sends through any `Transport` (send/contact/peer_ids) and receives with
  `peer.receive(particle)` (thread-safe); `wire.encode_particle`/`decode_particle`/`frame` give the bytes.

The peer daemon (`daemon.py`, started by `devnet up` or `fluence-dao peer serve`) is one long-lived Peer on
127.0.0.1; `RemoteNetwork(address, key_pair)` (or `connect_from_settings(settings)`) is a network for
`call_function` whose relay is that daemon, so services outlive the command that created them.

Threading: peers are synchronous; one thread drives them (`LocalNetwork.run_until`, used by `call_function`).
The script scheduler is a tick inside `Peer.step()`, so scripts run only while something drives the loop.
"""

from fluence_dao.peer.avm import AquaVM, CallRequest, CallResult, InterpreterOutcome, RunParameters
from fluence_dao.peer.builtins import BuiltinError, BuiltinHandler, BuiltinService, CallContext, Deferred
from fluence_dao.peer.calls import ParticleHooks
from fluence_dao.peer.client import ParticleNetwork, call_function
from fluence_dao.peer.connect import connect
from fluence_dao.peer.network import LocalNetwork
from fluence_dao.peer.node import Peer, PeerConfig, Transport
from fluence_dao.peer.particle import KeyPair, Particle, peer_id_from_public_key, public_key_from_peer_id
from fluence_dao.peer.remote import RemoteNetwork, connect_from_settings
from fluence_dao.peer.wire import decode_particle, encode_particle

__all__ = [
    "AquaVM",
    "BuiltinError",
    "BuiltinHandler",
    "BuiltinService",
    "CallContext",
    "CallRequest",
    "CallResult",
    "Deferred",
    "InterpreterOutcome",
    "KeyPair",
    "LocalNetwork",
    "Particle",
    "ParticleHooks",
    "ParticleNetwork",
    "Peer",
    "PeerConfig",
    "RemoteNetwork",
    "RunParameters",
    "Transport",
    "call_function",
    "connect",
    "connect_from_settings",
    "decode_particle",
    "encode_particle",
    "peer_id_from_public_key",
    "public_key_from_peer_id",
]
