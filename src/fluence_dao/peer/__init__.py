"""The local Fluence peer: particles on the official AquaVM (avm.wasm), nox-compatible builtins, hosted services.

    net = LocalNetwork(peers=3)                         # peers in one process; particles hop between them
    fn = compile_aqua("x.aqua").function("main")        # fluence_dao.aqua
    result = call_function(net, fn, ["arg"])            # as `fluence run`: a client peer, relay = net.peers[0]

Heavy parts (wasmtime) load when a Peer/AquaVM is created, not at import.
"""

from fluence_dao.peer.avm import AquaVM, CallRequest, CallResult, InterpreterOutcome, RunParameters
from fluence_dao.peer.builtins import BuiltinError, BuiltinHandler, BuiltinService, CallContext, Deferred
from fluence_dao.peer.client import call_function
from fluence_dao.peer.network import LocalNetwork
from fluence_dao.peer.node import ParticleHooks, Peer, PeerConfig, Transport
from fluence_dao.peer.particle import KeyPair, Particle, peer_id_from_public_key, public_key_from_peer_id
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
    "Peer",
    "PeerConfig",
    "RunParameters",
    "Transport",
    "call_function",
    "decode_particle",
    "encode_particle",
    "peer_id_from_public_key",
    "public_key_from_peer_id",
]
