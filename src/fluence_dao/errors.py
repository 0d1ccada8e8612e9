"""The exception tree of fluence-dao. Every error the library raises on purpose is a FluenceDaoError.

    FluenceDaoError
      ConfigError
      MarineError
        ModuleLoadError          a module could not be read, validated or instantiated
        AbiError                 a value could not be lowered/lifted (wrong type, OOM in the guest)
        ModuleTrapError          the guest trapped, ran out of fuel, or hit its memory ceiling
        FunctionNotFoundError    no such export / no description for it
        MountedBinaryError       a mounted binary is not allowed or could not run
      PeerError
        ParticleError            bad signature, expired TTL, malformed particle
        AvmError                 AquaVM returned a non-zero ret_code
        ServiceNotFoundError
        AquaCallError            an Aqua function ended in an error on the peer
      AquaCompileError           the Aqua compiler rejected a file (file, line, compiler text)
      IpfsError
        InvalidCidError          (also a ValueError)
        BlockNotFoundError
        BlockCorruptedError      the bytes on disk do not hash to their CID
        KuboRpcError
        IpldCodecError           bytes that do not decode (DAG-CBOR, DAG-JSON, dag-pb, UnixFS); also ValueError
        CarError                 a CAR file that cannot be read
      EthError
        EnsError
        TransactionFailedError   reverted, underpriced, nonce too low, out of gas
        RpcUnavailableError
      DevnetError
        ToolNotFoundError        a binary (anvil, node, zig) is missing, with how to get it
        StartupTimeoutError      a process did not become healthy (with the tail of its log)
      BuildError                 building wasm modules failed
      SubgraphError

Errors carry the bad values as attributes so `--json` output never parses text. No error ever holds
key material. This module imports nothing from the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: at run time this module imports nothing from the package
    from fluence_dao.util.json_types import JsonObject


class FluenceDaoError(Exception):
    """Base of every error fluence-dao raises on purpose."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> JsonObject:
        """A JSON-friendly view for `--json` output."""
        out: JsonObject = {"type": type(self).__name__, "message": self.message}
        for key, value in self.details.items():
            out[key] = value if isinstance(value, str | int | float | bool | type(None) | list | dict) else str(value)
        return out


class ConfigError(FluenceDaoError):
    pass


class MarineError(FluenceDaoError):
    pass


class ModuleLoadError(MarineError):
    pass


class AbiError(MarineError):
    pass


class ModuleTrapError(MarineError):
    pass


class FunctionNotFoundError(MarineError, LookupError):
    pass


class MountedBinaryError(MarineError):
    pass


class PeerError(FluenceDaoError):
    pass


class ParticleError(PeerError):
    pass


class AvmError(PeerError):
    pass


class ServiceNotFoundError(PeerError, LookupError):
    pass


class AquaCallError(PeerError):
    pass


class AquaCompileError(FluenceDaoError):
    pass


class IpfsError(FluenceDaoError):
    pass


class InvalidCidError(IpfsError, ValueError):
    pass


class BlockNotFoundError(IpfsError, LookupError):
    pass


class BlockCorruptedError(IpfsError):
    pass


class KuboRpcError(IpfsError):
    pass


class IpldCodecError(IpfsError, ValueError):
    pass


class CarError(IpfsError):
    pass


class EthError(FluenceDaoError):
    pass


class EnsError(EthError):
    pass


class TransactionFailedError(EthError):
    pass


class RpcUnavailableError(EthError):
    pass


class DevnetError(FluenceDaoError):
    pass


class ToolNotFoundError(DevnetError):
    pass


class StartupTimeoutError(DevnetError):
    pass


class BuildError(FluenceDaoError):
    pass


class SubgraphError(FluenceDaoError):
    pass
