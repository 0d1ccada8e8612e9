"""AquaVM (the official avm.wasm from npm @fluencelabs/avm) over the project's Marine host.

`AquaVM.invoke(air, prev_data, data, RunParameters, call_results)` -> `InterpreterOutcome`. Call requests and
call results cross the boundary as MessagePack behind the multicodec prefix `81 04` (as avmHelpers.js does):
requests are `{call_id: {service_id, function_name, arguments: bin(msgpack array), tetraplets: bin(msgpack)}}`,
results are `{"<call_id>": {ret_code, result: "<JSON text>"}}`; an empty result set is still `81 04 80`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from fluence_dao.errors import AvmError, FluenceDaoError

logger = logging.getLogger(__name__)

MSGPACK_MULTICODEC = b"\x81\x04"
KEY_FORMAT_ED25519 = 0
DEFAULT_SIZE_LIMIT = 4294967296  # what js-client passes for all three size limits
AVM_MEMORY_BYTES = 1024 * 2**20


@dataclass(frozen=True)
class RunParameters:
    init_peer_id: str
    current_peer_id: str
    timestamp_ms: int
    ttl_ms: int
    particle_id: str
    secret_key_bytes: bytes = field(repr=False)
    key_format: int = KEY_FORMAT_ED25519
    air_size_limit: int = DEFAULT_SIZE_LIMIT
    particle_size_limit: int = DEFAULT_SIZE_LIMIT
    call_result_size_limit: int = DEFAULT_SIZE_LIMIT
    hard_limit_enabled: bool = False

    def to_record(self) -> dict[str, Any]:
        """The IT record `RunParameters` by field name (avm.wasm's section order)."""
        return {
            "init_peer_id": self.init_peer_id,
            "current_peer_id": self.current_peer_id,
            "timestamp": self.timestamp_ms,
            "ttl": self.ttl_ms,
            "key_format": self.key_format,
            "secret_key_bytes": self.secret_key_bytes,
            "particle_id": self.particle_id,
            "air_size_limit": self.air_size_limit,
            "particle_size_limit": self.particle_size_limit,
            "call_result_size_limit": self.call_result_size_limit,
            "hard_limit_enabled": self.hard_limit_enabled,
        }


@dataclass(frozen=True)
class CallRequest:
    service_id: str
    function_name: str
    arguments: list[Any]
    tetraplets: list[Any]


@dataclass(frozen=True)
class CallResult:
    ret_code: int
    result: Any  # a JSON value; serialized to JSON text for AquaVM


@dataclass(frozen=True)
class InterpreterOutcome:
    ret_code: int
    error_message: str
    data: bytes = field(repr=False)
    next_peer_pks: list[str]
    call_requests: dict[int, CallRequest]
    limits_exceeded: tuple[bool, bool, bool] = (False, False, False)


def encode_call_results(results: dict[int, CallResult]) -> bytes:
    payload = {
        str(call_id): {"ret_code": res.ret_code, "result": json.dumps(res.result, separators=(",", ":"))}
        for call_id, res in results.items()
    }
    packed: bytes = msgpack.packb(payload, use_bin_type=True)
    return MSGPACK_MULTICODEC + packed


def decode_call_requests(raw: bytes) -> dict[int, CallRequest]:
    if not raw:
        return {}
    if not raw.startswith(MSGPACK_MULTICODEC):
        raise AvmError(f"call requests do not start with the MessagePack multicodec 81 04: {raw[:8].hex()}")
    requests = msgpack.unpackb(raw[len(MSGPACK_MULTICODEC) :], raw=False, strict_map_key=False)
    out: dict[int, CallRequest] = {}
    for call_id, req in requests.items():
        out[int(call_id)] = CallRequest(
            service_id=req["service_id"],
            function_name=req["function_name"],
            arguments=_unpack_nested(req["arguments"]),
            tetraplets=_unpack_nested(req["tetraplets"]),
        )
    return out


def _unpack_nested(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return msgpack.unpackb(bytes(value), raw=False, strict_map_key=False)
    if isinstance(value, list) and all(isinstance(b, int) for b in value):  # a byte array as a list
        return msgpack.unpackb(bytes(value), raw=False, strict_map_key=False)
    return value


class AquaVM:
    """One AquaVM instance (one per peer). The compiled avm.wasm is cached by the Marine host."""

    def __init__(self, wasm_path: Path | None = None, *, max_memory_bytes: int = AVM_MEMORY_BYTES) -> None:
        from fluence_dao._util import paths
        from fluence_dao.marine import MarineModule, ModuleConfig

        path = wasm_path or paths.avm_wasm_path()
        config = ModuleConfig(
            name="avm",
            max_memory_bytes=max_memory_bytes,
            max_call_seconds=60.0,
            logger_enabled=logger.isEnabledFor(logging.DEBUG),
        )
        self._module = MarineModule.load(path, config)

    def invoke(
        self,
        air: str,
        prev_data: bytes,
        data: bytes,
        params: RunParameters,
        call_results: dict[int, CallResult] | None = None,
    ) -> InterpreterOutcome:
        args = [air, prev_data, data, params.to_record(), encode_call_results(call_results or {})]
        try:
            raw = self._module.call("invoke", args)
        except FluenceDaoError as err:
            raise AvmError(f"AquaVM invoke failed for particle {params.particle_id}: {err.message}") from err
        return InterpreterOutcome(
            ret_code=int(raw["ret_code"]),
            error_message=raw["error_message"],
            data=bytes(raw["data"]),
            next_peer_pks=list(raw["next_peer_pks"]),
            call_requests=decode_call_requests(bytes(raw["call_requests"])),
            limits_exceeded=(
                bool(raw.get("air_size_limit_exceeded")),
                bool(raw.get("particle_size_limit_exceeded")),
                bool(raw.get("call_result_size_limit_exceeded")),
            ),
        )

    def parse_error(self, air: str) -> str | None:
        """None when AquaVM parses `air`, else its parser's message (avm.wasm's `ast` export)."""
        try:
            text = str(self._module.call("ast", [air]))
        except FluenceDaoError as err:
            return f"AquaVM could not parse the script: {err.message}"
        try:
            json.loads(text)
        except json.JSONDecodeError:
            return text.strip()
        return None
