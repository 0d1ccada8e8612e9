"""AquaVM (the official avm.wasm from npm @fluencelabs/avm) over the project's Marine host.

`AquaVM.invoke(air, prev_data, data, RunParameters, call_results)` -> `InterpreterOutcome`. Call requests and
call results cross the boundary as MessagePack behind the multicodec prefix `81 04` (as avmHelpers.js does):
requests are `{call_id: {service_id, function_name, arguments: bin(msgpack array), tetraplets: bin(msgpack)}}`,
results are `{"<call_id>": {ret_code, result: "<JSON text>"}}`; an empty result set is still `81 04 80`.

Memory: the instance has a ceiling (`max_memory_bytes`): an invoke that needs more traps and fails with AvmError
(that particle only). Wasm memory never shrinks, so after an invoke that left the instance's linear memory above
`reset_memory_bytes` the instance is replaced by a fresh one and the process gets the memory back. AquaVM keeps
no state between invokes (the peer passes prev_data), so this is invisible to particles.

Time: an invoke is bounded by `max_call_seconds`; an invoke with `guest=True` (a stranger's particle, which runs on
the peer's loop thread like everyone's) by the much shorter `guest_call_seconds`, on a second instance with that
bound: a tight AIR loop (nested folds) fails that particle instead of holding the loop.

Host cost: every particle step is an invoke, so its arguments are written into the guest and its outcome read
back with layouts fixed once (`MarineModule.call_lowered`), when avm.wasm describes `invoke`, `RunParameters` and
`InterpreterOutcome` exactly as expected (else through the generic `MarineModule.call`, same results).
"""

from __future__ import annotations

import ctypes
import json
import logging
import struct
import sys
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypedDict

import msgpack

from fluence_dao.errors import AbiError, AvmError, FluenceDaoError
from fluence_dao.util import paths
from fluence_dao.util.json_types import Args, JsonValue

if TYPE_CHECKING:
    from fluence_dao.marine import MarineModule

logger = logging.getLogger(__name__)

MSGPACK_MULTICODEC = b"\x81\x04"
KEY_FORMAT_ED25519 = 0
DEFAULT_SIZE_LIMIT = 4294967296  # what js-client passes for all three size limits
AVM_MEMORY_BYTES = 256 * 2**20
AVM_RESET_MEMORY_BYTES = 64 * 2**20
AVM_CALL_SECONDS = 60.0
AVM_GUEST_CALL_SECONDS = 0.05  # ~20x a busy client invoke here; a due interval run waits at most this long

# What avm.wasm 0.62 describes (marine-rs-sdk 0.14), for the fixed-layout invoke; anything else: the generic path.
_INVOKE_DESCRIBED = (
    "invoke(air: String, prev_data: Vec<u8>, data: Vec<u8>, params: RunParameters, call_results: Vec<u8>) "
    "-> InterpreterOutcome",
    "RunParameters { init_peer_id: String, current_peer_id: String, timestamp: u64, ttl: u32, key_format: u8, "
    "secret_key_bytes: Vec<u8>, particle_id: String, air_size_limit: u64, particle_size_limit: u64, "
    "call_result_size_limit: u64, hard_limit_enabled: bool }",
    "InterpreterOutcome { ret_code: i64, error_message: String, data: Vec<u8>, next_peer_pks: Vec<String>, "
    "call_requests: Vec<u8>, air_size_limit_exceeded: bool, particle_size_limit_exceeded: bool, "
    "call_result_size_limit_exceeded: bool }",
)
_RUN_PARAMETERS = struct.Struct("<IIIIQIBIIIIQQQB")  # the record's fields packed: (ptr, len) per string/vector
_OUTCOME = struct.Struct("<qIIIIIIIIBBB")
_BYTE_TAG = 1  # marine-rs-sdk's `allocate` type tag of u8: strings, byte vectors and records


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

    def to_record(self) -> dict[str, str | int | bytes]:
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
    arguments: Args
    tetraplets: list[JsonValue]  # per argument: a list of tetraplet objects (peer_pk, service_id, ...)


@dataclass(frozen=True)
class CallResult:
    ret_code: int
    result: JsonValue  # serialized to JSON text for AquaVM


class _RawOutcome(TypedDict):
    """`InterpreterOutcome` as the generic Marine call returns the record (by field name)."""

    ret_code: int
    error_message: str
    data: bytes
    next_peer_pks: list[str]
    call_requests: bytes
    air_size_limit_exceeded: bool
    particle_size_limit_exceeded: bool
    call_result_size_limit_exceeded: bool


class _Guest(Protocol):
    """What the fixed-layout invoke needs of the guest instance `MarineModule.call_lowered` hands it."""

    def put(self, data: bytes, count: int, type_tag: int) -> int: ...

    def read(self, ptr: int, size: int) -> bytes: ...

    def result_ptr(self) -> int: ...


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
            arguments=_unpack_nested(req["arguments"], "arguments"),
            tetraplets=_unpack_nested(req["tetraplets"], "tetraplets"),
        )
    return out


def _clear_frames(error: BaseException) -> None:
    """Drop the locals of the finished frames in `error`'s tracebacks (and its causes'): wasmtime's trap and our
    frames form reference cycles that would keep the trapped instance's memory until a full GC."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


def _return_freed_memory() -> None:
    """Ask glibc to give freed heap memory back to the OS (large transient particle data would otherwise stay in
    the process's arenas). A no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return
    trim(0)


def _put(guest: _Guest, data: bytes, what: str) -> int:
    """`data` copied into the guest (allocate + write); 0 for no bytes, as the generic lowering does."""
    if not data:
        return 0
    ptr: int = guest.put(data, len(data), _BYTE_TAG)
    if ptr == 0:
        raise AbiError(f"{what} of AquaVM invoke: the guest could not allocate {len(data)} bytes (out of memory)")
    return ptr


def _lower_invoke(
    guest: _Guest, air: bytes, prev_data: bytes, data: bytes, params: RunParameters, call_results: bytes
) -> list[int]:
    """invoke's arguments written into the guest, in the generic lowering's order; the raw wasm arguments.
    Numbers out of their field's range raise AbiError before anything is written."""
    for name, value, bits in (
        ("timestamp", params.timestamp_ms, 64),
        ("ttl", params.ttl_ms, 32),
        ("key_format", params.key_format, 8),
        ("air_size_limit", params.air_size_limit, 64),
        ("particle_size_limit", params.particle_size_limit, 64),
        ("call_result_size_limit", params.call_result_size_limit, 64),
    ):
        if type(value) is not int or not 0 <= value < 1 << bits:
            raise AbiError(f"RunParameters.{name} of AquaVM invoke must be a u{bits}, got {value!r}", field=name)
    air_ptr = _put(guest, air, "air")
    prev_ptr = _put(guest, prev_data, "prev_data")
    data_ptr = _put(guest, data, "data")

    def vector(value: bytes, name: str) -> tuple[int, int]:  # (ptr, len) of a string or byte vector field
        return _put(guest, value, name), len(value)

    record = _RUN_PARAMETERS.pack(
        *vector(params.init_peer_id.encode(), "init_peer_id"),
        *vector(params.current_peer_id.encode(), "current_peer_id"),
        params.timestamp_ms,
        params.ttl_ms,
        params.key_format,
        *vector(params.secret_key_bytes, "secret_key_bytes"),
        *vector(params.particle_id.encode(), "particle_id"),
        params.air_size_limit,
        params.particle_size_limit,
        params.call_result_size_limit,
        1 if params.hard_limit_enabled else 0,
    )
    record_ptr = _put(guest, record, "params")
    results_ptr = _put(guest, call_results, "call_results")
    return [
        air_ptr,
        len(air),
        prev_ptr,
        len(prev_data),
        data_ptr,
        len(data),
        record_ptr,
        results_ptr,
        len(call_results),
    ]


def _lift_outcome(guest: _Guest, _raw: object) -> tuple[int, str, bytes, list[str], bytes, tuple[bool, bool, bool]]:
    """InterpreterOutcome read from the guest's result record."""
    fields = _OUTCOME.unpack(guest.read(guest.result_ptr(), _OUTCOME.size))
    ret_code, error_ptr, error_len, data_ptr, data_len, pks_ptr, pks_len, requests_ptr, requests_len = fields[:9]
    read = guest.read
    try:
        error_message = read(error_ptr, error_len).decode() if error_len else ""
        next_peer_pks: list[str] = []
        if pks_len:
            pairs = struct.unpack(f"<{2 * pks_len}I", read(pks_ptr, 8 * pks_len))
            next_peer_pks = [
                read(pairs[i], pairs[i + 1]).decode() if pairs[i + 1] else "" for i in range(0, len(pairs), 2)
            ]
    except UnicodeDecodeError as err:
        raise AbiError(f"AquaVM returned a string that is not UTF-8: {err}") from err
    data = read(data_ptr, data_len) if data_len else b""
    requests = read(requests_ptr, requests_len) if requests_len else b""
    return ret_code, error_message, data, next_peer_pks, requests, (bool(fields[9]), bool(fields[10]), bool(fields[11]))


def _unpack_nested(value: object, what: str) -> list[JsonValue]:
    """A msgpack-encoded array inside a call request (bytes, or bytes as a list of numbers), unpacked."""
    if isinstance(value, list) and all(isinstance(b, int) for b in value):  # a byte array as a list
        value = bytes(value)
    if isinstance(value, bytes | bytearray):
        value = msgpack.unpackb(bytes(value), raw=False, strict_map_key=False)
    if not isinstance(value, list):
        raise AvmError(f"the {what} of an AquaVM call request are not an array: {type(value).__name__}")
    return value


def _describes_invoke(module: MarineModule) -> bool:
    """Whether the module's `invoke` and its records are exactly what the fixed layouts above assume."""
    try:
        described = (
            module.signature("invoke").describe(),
            module.interface.record("RunParameters").describe(),
            module.interface.record("InterpreterOutcome").describe(),
        )
    except FluenceDaoError:
        return False
    return described == _INVOKE_DESCRIBED


class AquaVM:
    """One AquaVM instance (one per peer). The compiled avm.wasm is cached by the Marine host."""

    def __init__(
        self,
        wasm_path: Path | None = None,
        *,
        max_memory_bytes: int = AVM_MEMORY_BYTES,
        reset_memory_bytes: int = AVM_RESET_MEMORY_BYTES,
        guest_call_seconds: float = AVM_GUEST_CALL_SECONDS,
    ) -> None:
        from fluence_dao.marine import MarineModule, ModuleConfig  # lazy: wasmtime ~0.14 s; `peer info` needs none

        self.max_memory_bytes = max_memory_bytes
        self.reset_memory_bytes = reset_memory_bytes
        self.resets = 0  # how often the instance was replaced after growing past reset_memory_bytes

        path = wasm_path or paths.avm_wasm_path()
        config = ModuleConfig(
            name="avm",
            max_memory_bytes=max_memory_bytes,
            max_call_seconds=AVM_CALL_SECONDS,
            logger_enabled=logger.isEnabledFor(logging.DEBUG),
            # a trap (memory ceiling, time bound) can leave AquaVM's own heap half-updated, and it keeps no state
            # between invokes anyway: the next invoke gets a fresh instance
            fresh_instance_after_trap=True,
        )
        self._module = MarineModule.load(path, config)
        self._fixed_layout = _describes_invoke(self._module)
        self._guest_config = replace(config, max_call_seconds=guest_call_seconds)
        self._guest_module: MarineModule | None = None  # created on the first stranger's invoke
        self._path = path

    def invoke(
        self,
        air: str,
        prev_data: bytes,
        data: bytes,
        params: RunParameters,
        call_results: dict[int, CallResult] | None = None,
        *,
        guest: bool = False,
    ) -> InterpreterOutcome:
        results = encode_call_results(call_results or {})
        module = self._guest() if guest else self._module
        try:
            if self._fixed_layout:
                air_bytes = air.encode()
                lifted = module.call_lowered(
                    "invoke", lambda g: _lower_invoke(g, air_bytes, prev_data, data, params, results), _lift_outcome
                )
            else:
                raw: _RawOutcome = module.call("invoke", [air, prev_data, data, params.to_record(), results])
        except FluenceDaoError as err:
            _clear_frames(err)  # the failed call's frames hold the grown instance: let the reset free it now
            self._shrink_if_grown(module)
            raise AvmError(f"AquaVM invoke failed for particle {params.particle_id}: {err.message}") from err
        self._shrink_if_grown(module)
        if self._fixed_layout:
            ret_code, error_message, out_data, next_peer_pks, requests, exceeded = lifted
            return InterpreterOutcome(
                ret_code=ret_code,
                error_message=error_message,
                data=out_data,
                next_peer_pks=next_peer_pks,
                call_requests=decode_call_requests(requests),
                limits_exceeded=exceeded,
            )
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

    def memory_bytes(self) -> int:
        """The instances' linear memory now (it only grows, until an instance is replaced)."""
        return self._module.memory_bytes() + (0 if self._guest_module is None else self._guest_module.memory_bytes())

    def _guest(self) -> MarineModule:
        if self._guest_module is None:
            from fluence_dao.marine import MarineModule  # lazy: wasmtime ~0.14 s; `peer info` needs none

            self._guest_module = MarineModule.load(self._path, self._guest_config)
        return self._guest_module

    def _shrink_if_grown(self, module: MarineModule) -> None:
        size = module.memory_bytes()
        if size > self.reset_memory_bytes:
            logger.info(
                "AquaVM memory grew to %.1f MiB (over %.1f MiB): starting a fresh instance",
                size / 2**20,
                self.reset_memory_bytes / 2**20,
            )
            module.reset()
            self.resets += 1
            _return_freed_memory()

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
