"""Configuration of a module and the call parameters a host passes with each call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import NotRequired, Protocol, TypedDict

from fluence_dao.errors import AbiError
from fluence_dao.util.marine_interface import MarineValue

DEFAULT_MAX_MEMORY_BYTES = 256 * 2**20
DEFAULT_MAX_CALL_SECONDS = 10.0


class BinaryResult(TypedDict):
    """What a mounted binary answers, as a process would (missing fields: empty)."""

    ret_code: int
    error: NotRequired[str]
    stdout: NotRequired[bytes]
    stderr: NotRequired[bytes]


class HostBinary(Protocol):
    """A mounted binary the host implements in Python (e.g. the peer's HTTP effector mounted as `curl`): called
    with the guest's arguments instead of running a process, it answers as a process would, with
    {"ret_code": int, "error": str, "stdout": bytes, "stderr": bytes}. An exception it raises is reported to
    the guest as ret_code 100001 (could not run)."""

    def __call__(self, args: list[str]) -> BinaryResult: ...


@dataclass
class ModuleConfig:
    """How one module runs.

    - `name`: the module's import namespace inside a service (another module's import `name.fn` calls it)
      and its logger name (`fluence_dao.marine.guest.<name>`).
    - `envs`: WASI environment variables. `WASM_LOG` is set from the guest logger's level unless given here.
    - `mapped_dirs`: guest path -> host path, the only directories the guest sees (WASI preopens).
    - `mounted_binaries`: import name -> what the import `host.<name>(Vec<String>) -> MountedBinaryResult`
      runs: the absolute path of a binary (run as a process with the arguments, no shell), or a HostBinary
      (called with them). Nothing else can be run.
    - `max_memory_bytes`: ceiling of the guest's linear memory; a grow beyond it fails inside the guest.
    - `max_call_seconds`: wall-clock bound of one call (including nested calls and mounted binaries).
    - `logger_enabled`: guest log lines and stdout/stderr go to the logger; False drops them.
    - `random_source`: replaces WASI `random_get` (tests feed known bytes); None uses the OS RNG.
    - `fresh_instance_after_trap`: False (default, as Marine does) keeps the instance and its state after a
      failed call if it still answers `release_objects`; True always starts a fresh instance.
    """

    name: str = "module"
    envs: Mapping[str, str] = field(default_factory=dict)
    mapped_dirs: Mapping[str, str] = field(default_factory=dict)
    mounted_binaries: Mapping[str, str | HostBinary] = field(default_factory=dict)
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES
    max_call_seconds: float = DEFAULT_MAX_CALL_SECONDS
    logger_enabled: bool = True
    random_source: Callable[[int], bytes] | None = None
    fresh_instance_after_trap: bool = False


@dataclass(frozen=True)
class SecurityTetraplet:
    """The origin of one argument value (marine-rs-sdk 0.14)."""

    peer_pk: str = ""
    service_id: str = ""
    function_name: str = ""
    lens: str = ""


@dataclass(frozen=True)
class ParticleParameters:
    """The particle that caused a call (marine-rs-sdk 0.14)."""

    id: str = ""
    init_peer_id: str = ""
    timestamp: int = 0  # ms
    ttl: int = 0  # ms
    script: str = ""
    signature: bytes = b""
    token: str = ""


@dataclass(frozen=True)
class CallParameters:
    """Call parameters in the marine-rs-sdk 0.14 (host API v3) layout; converted down for older SDKs."""

    particle: ParticleParameters = field(default_factory=ParticleParameters)
    service_id: str = ""
    service_creator_peer_id: str = ""
    host_id: str = ""
    worker_id: str = ""
    tetraplets: tuple[tuple[SecurityTetraplet, ...], ...] | list[list[SecurityTetraplet]] = ()

    def for_host_api(self, version: int) -> dict[str, MarineValue]:
        """The record value the `get_call_parameters` import of host API `version` (0..3) returns.

        v0 (`host`, sdk <= 0.10): init_peer_id, service_id, service_creator_peer_id, host_id, particle_id,
        tetraplets with `json_path`; v1 adds worker_id after host_id; v2 and v3 (sdk 0.13/0.14) hold the
        particle record, and name the tetraplet's last field `lambda` (v2) or `lens` (v3).
        """
        p = self.particle
        last = {0: "json_path", 1: "json_path", 2: "lambda"}.get(version, "lens")
        tetraplets = [
            [
                {"peer_pk": t.peer_pk, "service_id": t.service_id, "function_name": t.function_name, last: t.lens}
                for t in group
            ]
            for group in self.tetraplets
        ]
        if version <= 1:
            out: dict[str, MarineValue] = {
                "init_peer_id": p.init_peer_id,
                "service_id": self.service_id,
                "service_creator_peer_id": self.service_creator_peer_id,
                "host_id": self.host_id,
            }
            if version == 1:
                out["worker_id"] = self.worker_id
            out["particle_id"] = p.id
            out["tetraplets"] = tetraplets
            return out
        return {
            "particle": {
                "id": p.id,
                "init_peer_id": p.init_peer_id,
                "timestamp": p.timestamp,
                "ttl": p.ttl,
                "script": p.script,
                "signature": bytes(p.signature),
                "token": p.token,
            },
            "service_id": self.service_id,
            "service_creator_peer_id": self.service_creator_peer_id,
            "host_id": self.host_id,
            "worker_id": self.worker_id,
            "tetraplets": tetraplets,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> CallParameters:
        """From a JSON-style dict (the CLI's `--call-params`); unknown keys and wrong types are refused."""
        top = _object(raw, "call parameters", _fields_of(cls))
        particle = _object(top.get("particle", {}), "particle", _fields_of(ParticleParameters))
        groups = top.get("tetraplets", [])
        if not isinstance(groups, list) or not all(isinstance(group, list) for group in groups):
            raise AbiError(f"call parameter 'tetraplets' must be a list of lists, got {groups!r}")
        tetraplets = []
        for group in groups:
            items = [_object(t, "tetraplet", _fields_of(SecurityTetraplet)) for t in group]
            tetraplets.append(tuple(SecurityTetraplet(*(_str(t, n, "tetraplet") for n in _TETRAPLET)) for t in items))
        return cls(
            particle=ParticleParameters(
                id=_str(particle, "id", "particle"),
                init_peer_id=_str(particle, "init_peer_id", "particle"),
                timestamp=_int(particle, "timestamp", "particle"),
                ttl=_int(particle, "ttl", "particle"),
                script=_str(particle, "script", "particle"),
                signature=_signature(particle.get("signature", b"")),
                token=_str(particle, "token", "particle"),
            ),
            service_id=_str(top, "service_id", "call parameters"),
            service_creator_peer_id=_str(top, "service_creator_peer_id", "call parameters"),
            host_id=_str(top, "host_id", "call parameters"),
            worker_id=_str(top, "worker_id", "call parameters"),
            tetraplets=tuple(tetraplets),
        )


_TETRAPLET = ("peer_pk", "service_id", "function_name", "lens")


def _fields_of(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _object(raw: object, what: str, allowed: set[str]) -> Mapping[str, object]:
    if not isinstance(raw, Mapping):
        raise AbiError(f"{what} must be a JSON object, got {raw!r}")
    extra = set(raw) - allowed
    if extra:
        raise AbiError(f"unknown {what} field(s) {sorted(extra)}; allowed: {sorted(allowed)}")
    return raw


def _str(raw: Mapping[str, object], key: str, what: str) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise AbiError(f"{what} field {key!r} must be a string, got {value!r}")
    return value


def _int(raw: Mapping[str, object], key: str, what: str) -> int:
    value = raw.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool):
        raise AbiError(f"{what} field {key!r} must be an integer, got {value!r}")
    return value


def _signature(value: object) -> bytes:
    """particle.signature: bytes, hex (as the CLI prints bytes) or a list of byte values."""
    try:
        if isinstance(value, str):
            return bytes.fromhex(value.removeprefix("0x"))
        if isinstance(value, bytes | list):
            return bytes(value)
    except (ValueError, TypeError) as err:
        raise AbiError(f"particle.signature must be hex or a list of bytes: {err}") from err
    raise AbiError(f"particle.signature must be hex or a list of bytes, got {value!r}")
