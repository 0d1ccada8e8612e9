"""Modules, blueprints and services hosted by one peer (what nox's ModuleRepository + ParticleAppServices do).

- Modules are content-addressed like nox: the id is the CIDv1 (raw, sha2-256, base32 `bafkrei...`) of the wasm
  bytes; the wasm and its JSON config live in `<state>/modules/`.
- Blueprints are DAG-JSON `{"dependencies":[{"/":cid},...],"name":...}`; the id is the CIDv1 raw sha2-256 of
  that text (nox's test vector holds). The last dependency is the facade.
- Services are MarineService instances (the project's Marine host), created from a blueprint; ids are uuids;
  aliases map to ids. Services live as long as the peer object (not persisted across restarts, as 2021 nox).
- Permissions (configurable in PeerConfig): removing a service and adding an alias to it is allowed to its
  owner (creator), the host and the management peers; with `restricted=True`, adding modules, blueprints and
  creating services is allowed only to the host and management peers (nox today); default open (2021).
- Effector services: a service with a module that mounts a binary (curl_adapter, [curl_adapter, ipld], ...)
  may be called only by its creator, the host (the peer's own scripts and spells) and the management peers,
  whatever `restricted` says: it acts on the host's behalf (HTTP requests from the peer's address).
- Mounted binaries (`allowed_binaries`): name -> absolute path, or a host-implemented binary
  (`fluence_dao.marine.HostBinary`, e.g. peer/http_effector.py's HttpEffector mounted as `curl`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, cast

from multiformats import CID, multihash

from fluence_dao.errors import FluenceDaoError
from fluence_dao.peer.calls import BuiltinError, by_id_or_alias
from fluence_dao.util.json_types import Args, JsonObject, JsonValue

if TYPE_CHECKING:
    from fluence_dao.marine import CallParameters, HostBinary, ModuleConfig, ModuleInterface, MType

    MountedBinary = str | HostBinary

logger = logging.getLogger(__name__)


class CallStats(TypedDict):
    """Calls of one function (or `__total__`): counts and the last five durations and times."""

    success: int
    failed: int
    times: list[float]
    timestamps: list[int]


class Blueprint(TypedDict):
    """A stored blueprint record (`<blueprints>/<id>.json`)."""

    id: str
    name: str
    dependencies: list[str]


_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(i?)B?\s*$", re.IGNORECASE)
DEFAULT_MODULE_MEMORY = 256 * 2**20


def content_id(data: bytes) -> str:
    """nox's module/blueprint hash: CIDv1, raw codec, sha2-256, base32."""
    return str(CID("base32", 1, "raw", multihash.digest(data, "sha2-256")))


def parse_size(text: str) -> int:
    """'100 MiB', '64Mi', '1GB', '1048576' -> bytes."""
    match = _SIZE.match(text)
    if match is None:
        raise BuiltinError(f"Error: invalid memory size {text!r}: expected a number with an optional unit (MiB)")
    number, unit, binary = int(match.group(1)), match.group(2).upper(), match.group(3)
    base = 1024 if binary or not unit else 1000
    return int(number * base ** " KMGT".index(unit or " "))


def _table(value: JsonValue) -> dict[str, str]:
    """Aqua `Pairs` ([[k, v], ...]) or an object -> dict; Aqua options ([x] / []) unwrapped."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) == 1 and isinstance(value[0], list) and all(isinstance(p, list) for p in value[0]):
            value = value[0]
        out: dict[str, str] = {}
        for pair in value:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise BuiltinError(f"Error: expected [name, value] pairs, got {json.dumps(value)}")
            out[str(pair[0])] = str(pair[1])
        return out
    raise BuiltinError(f"Error: expected [name, value] pairs, got {json.dumps(value)}")


def _unopt(value: JsonValue) -> JsonValue:
    if isinstance(value, list) and len(value) <= 1 and not (value and isinstance(value[0], list)):
        return value[0] if value else None
    return value


@dataclass
class ServiceRecord:
    id: str
    blueprint_id: str
    owner_id: str
    service: LinkedService
    aliases: list[str] = field(default_factory=list)
    created_at_ms: int = 0
    stats: dict[str, CallStats] = field(default_factory=dict)
    effector_binaries: tuple[str, ...] = ()  # mounted binaries of its modules: only privileged callers

    def to_aqua(self, worker_id: str) -> JsonObject:
        return {
            "id": self.id,
            "blueprint_id": self.blueprint_id,
            "service_type": "service",
            "owner_id": self.owner_id,
            "aliases": list(self.aliases),
            "worker_id": worker_id,
        }


@dataclass
class PermissionPolicy:
    host_peer_id: str
    management_peer_ids: frozenset[str] = frozenset()
    restricted: bool = False

    def is_privileged(self, peer_id: str) -> bool:
        return peer_id == self.host_peer_id or peer_id in self.management_peer_ids

    def guard_protected(self, peer_id: str) -> None:
        if self.restricted and not self.is_privileged(peer_id):
            raise BuiltinError("This function is only available to the host or worker spells")

    def guard_effector(self, peer_id: str, record: ServiceRecord, function: str) -> None:
        """Only the creator, the host and the management peers may call a service that holds an effector."""
        if not record.effector_binaries or peer_id == record.owner_id or self.is_privileged(peer_id):
            return
        names = ", ".join([*record.aliases, f"function {function}"])
        raise BuiltinError(
            f"Error: Forbidden. User id '{peer_id}' cannot call service '{record.id}' ({names}): it holds the "
            f"effector {', '.join(record.effector_binaries)} and only its creator, the host or management peers "
            "may call it"
        )

    def guard_owner(self, peer_id: str, owner_id: str, function: str, what: str) -> None:
        if peer_id != owner_id and not self.is_privileged(peer_id):
            raise BuiltinError(
                f"Error: Forbidden. User id '{peer_id}' cannot call function '{function}': "
                f"only {what} creator, host or management peer can do that"
            )


class ServiceHost:
    """Module repository, blueprints and running services of one peer. Thread-safe for simple use."""

    def __init__(
        self,
        state_dir: Path,
        policy: PermissionPolicy,
        *,
        allowed_binaries: Mapping[str, MountedBinary] | None = None,
        vault_root: Path | None = None,
        module_memory_bytes: int = DEFAULT_MODULE_MEMORY,
        max_call_seconds: float = 30.0,
        random_source: Callable[[int], bytes] | None = None,
    ) -> None:
        self.modules_dir = state_dir / "modules"
        self.blueprints_dir = state_dir / "blueprints"
        self.modules_dir.mkdir(parents=True, exist_ok=True)
        self.blueprints_dir.mkdir(parents=True, exist_ok=True)
        self.policy = policy
        self.binaries: dict[str, MountedBinary] = dict(allowed_binaries or {})
        # what `peer.identify` lists: paths, and a description for a host-implemented binary
        self.allowed_binaries: dict[str, str] = {
            name: b if isinstance(b, str) else f"{name} (host: {b!r})" for name, b in self.binaries.items()
        }
        self.vault_root = vault_root
        self.module_memory_bytes = module_memory_bytes
        self.max_call_seconds = max_call_seconds
        self.random_source = random_source
        self.services: dict[str, ServiceRecord] = {}
        self.aliases: dict[str, str] = {}
        self._lock = threading.RLock()

    # ---- modules ----------------------------------------------------------------------------------------------

    def add_module(self, wasm: bytes, config: JsonObject) -> str:
        if not wasm.startswith(b"\0asm"):
            raise BuiltinError("Error: module bytes are not a WebAssembly binary (no \\0asm header)")
        name = config.get("name")
        if not isinstance(name, str) or not name:
            raise BuiltinError(f"Error: module config has no name: {json.dumps(config)}")
        normalized = normalize_module_config(config)
        self._check_binaries(name, normalized)
        cid = content_id(wasm)
        (self.modules_dir / f"{cid}.wasm").write_bytes(wasm)
        (self.modules_dir / f"{cid}_config.json").write_text(json.dumps(normalized, sort_keys=True))
        logger.info("added module %s (%s, %d bytes)", name, cid, len(wasm))
        return cid

    def _check_binaries(self, name: str, config: JsonObject) -> None:
        """A module may mount only configured binaries; its path must name the same file (for a host-implemented
        binary: any path whose file name is the binary's name, e.g. `curl` or `/usr/bin/curl`)."""
        for binary, path in _table(config.get("mounted_binaries")).items():
            allowed = self.binaries.get(binary)
            expected = binary if allowed is None or not isinstance(allowed, str) else allowed
            if allowed is None or (path and Path(path).name != Path(expected).name and path != expected):
                raise BuiltinError(
                    f"Error: Config error: module {name} requested a binary `{binary}` ({path}) which isn't in the "
                    f"configured list of binaries ({', '.join(sorted(self.allowed_binaries)) or 'none'})"
                )

    def module_config(self, cid: str) -> JsonObject:
        not_found = f"Error: Module wasn't found on path {str(self.modules_dir / cid)!r}: not found"
        config: JsonObject = json.loads(_stored(self.modules_dir, cid, "_config.json", not_found).read_text())
        return config

    def module_bytes(self, cid: str) -> bytes:
        not_found = f"Error: Module wasn't found on path {str(self.modules_dir / f'{cid}.wasm')!r}: not found"
        return _stored(self.modules_dir, cid, ".wasm", not_found).read_bytes()

    def list_modules(self) -> list[JsonObject]:
        out = []
        for path in sorted(self.modules_dir.glob("*_config.json")):
            cid = path.name.removesuffix("_config.json")
            config = json.loads(path.read_text())
            out.append({"name": config["name"], "hash": cid, "config": config})
        return out

    def module_interface(self, cid: str) -> JsonObject:
        from fluence_dao.marine import MarineModule, ModuleConfig  # lazy: wasmtime ~0.14 s; `peer info` needs none

        wasm = self.module_bytes(cid)
        try:
            module = MarineModule.load(wasm, ModuleConfig(name=str(self.module_config(cid)["name"])))
        except FluenceDaoError as err:
            raise BuiltinError(f"Error: Cannot read modules interface {cid}: {err.message}") from err
        return interface_to_aqua(module.interface)

    # ---- blueprints -------------------------------------------------------------------------------------------

    @staticmethod
    def make_blueprint(name: str, dependencies: list[str]) -> str:
        for dep in dependencies:
            _parse_cid(dep)
        return encode_blueprint(name, dependencies)

    def add_blueprint(self, blueprint: JsonValue) -> str:
        name, deps = decode_blueprint(blueprint)
        if not deps:
            raise BuiltinError(f"Error: Blueprint '{name}' has empty list of dependencies")
        for dep in deps:
            if not (self.modules_dir / f"{dep}.wasm").is_file():
                raise BuiltinError(f"Error: Module with hash {dep} wasn't found (blueprint '{name}')")
        encoded = encode_blueprint(name, deps)
        blueprint_id = content_id(encoded.encode())
        record: Blueprint = {"id": blueprint_id, "name": name, "dependencies": deps}
        (self.blueprints_dir / f"{blueprint_id}.json").write_text(json.dumps(record, sort_keys=True))
        return blueprint_id

    def list_blueprints(self) -> list[Blueprint]:
        return [json.loads(p.read_text()) for p in sorted(self.blueprints_dir.glob("*.json"))]

    def get_blueprint(self, blueprint_id: str) -> Blueprint:
        path = _stored(self.blueprints_dir, blueprint_id, ".json", f"Error: Blueprint '{blueprint_id}' wasn't found")
        record: Blueprint = json.loads(path.read_text())
        return record

    # ---- services ---------------------------------------------------------------------------------------------

    def create_service(self, blueprint_id: str, owner_id: str) -> str:
        blueprint = self.get_blueprint(blueprint_id)
        modules = []
        effectors: set[str] = set()
        for cid in blueprint["dependencies"]:
            config = self._marine_config(self.module_config(cid))
            effectors.update(config.mounted_binaries)
            modules.append((config, self.module_bytes(cid)))
        try:
            service = LinkedService(modules)
        except FluenceDaoError as err:
            raise BuiltinError(f"Error: cannot create service from blueprint {blueprint_id}: {err.message}") from err
        service_id = str(uuid.uuid4())
        with self._lock:
            self.services[service_id] = ServiceRecord(
                id=service_id,
                blueprint_id=blueprint_id,
                owner_id=owner_id,
                service=service,
                created_at_ms=int(time.time() * 1000),
                effector_binaries=tuple(sorted(effectors)),
            )
        logger.info("created service %s from blueprint %s for %s", service_id, blueprint_id, owner_id)
        return service_id

    def _marine_config(self, config: JsonObject) -> ModuleConfig:
        """A stored (nox-shaped) module config as the Marine host's ModuleConfig."""
        from fluence_dao.marine import ModuleConfig  # lazy: wasmtime ~0.14 s; `peer info` needs none

        wasi = config.get("wasi")
        wasi_fields = wasi if isinstance(wasi, dict) else {}
        mapped = _table(wasi_fields.get("mapped_dirs"))
        if self.vault_root is not None:
            mapped.setdefault("/tmp/vault", str(self.vault_root))
        binaries = {
            name: self.binaries[name] for name in _table(config.get("mounted_binaries")) if name in self.binaries
        }
        memory = config.get("max_heap_size")
        return ModuleConfig(
            name=str(config["name"]),
            envs=_table(wasi_fields.get("envs")),
            mapped_dirs=mapped,
            mounted_binaries=binaries,
            max_memory_bytes=parse_size(memory) if isinstance(memory, str) else self.module_memory_bytes,
            max_call_seconds=self.max_call_seconds,
            logger_enabled=bool(config.get("logger_enabled", True)),
            random_source=self.random_source,
        )

    def resolve(self, id_or_alias: str) -> ServiceRecord | None:
        with self._lock:
            return by_id_or_alias(self.services, self.aliases, id_or_alias)

    def require(self, id_or_alias: str) -> ServiceRecord:
        record = self.resolve(id_or_alias)
        if record is None:
            raise BuiltinError(f"Error: Service with id '{id_or_alias}' not found on Host")
        return record

    def remove_service(self, id_or_alias: str, caller: str) -> None:
        record = self.require(id_or_alias)
        self.policy.guard_owner(caller, record.owner_id, "remove_service", "service")
        with self._lock:
            self.services.pop(record.id, None)
            for alias in record.aliases:
                if self.aliases.get(alias) == record.id:
                    del self.aliases[alias]
        logger.info("removed service %s", record.id)

    def add_alias(self, alias: str, service_id: str, caller: str) -> None:
        if alias in self.services:
            raise BuiltinError(f"Error: Cannot add alias '{alias}' because there is a service with that id")
        if alias in RESERVED_ALIASES:
            raise BuiltinError(f"Error: Cannot add alias '{alias}' because it is reserved")
        record = self.require(service_id)
        self.policy.guard_owner(caller, record.owner_id, "add_alias", "service")
        with self._lock:
            previous = self.aliases.get(alias)
            if previous is not None and previous in self.services:
                self.services[previous].aliases.remove(alias)
            self.aliases[alias] = record.id
            record.aliases.append(alias)

    def call(self, record: ServiceRecord, function_name: str, args: Args, call_parameters: CallParameters) -> object:
        """Call a service function; an effector service first checks the caller (the particle's init peer). The
        result is the Marine host's value (bytes for `[]u8`), made JSON by the peer."""
        if record.effector_binaries:
            particle = getattr(call_parameters, "particle", None)
            self.policy.guard_effector(str(getattr(particle, "init_peer_id", "")), record, function_name)
        started = time.perf_counter()
        ok = False
        try:
            result = record.service.call(function_name, args, call_parameters=call_parameters)
            ok = True
            return result
        finally:
            _observe(record.stats, function_name, ok, time.perf_counter() - started)

    def interface(self, id_or_alias: str) -> JsonObject:
        record = self.require(id_or_alias)
        return interface_to_aqua(record.service.interface)


RESERVED_ALIASES = frozenset(
    {"op", "peer", "srv", "dist", "script", "kad", "json", "math", "cmp", "array", "debug", "stat", "sig", "vault"}
)


def _observe(stats: dict[str, CallStats], function_name: str, ok: bool, seconds: float) -> None:
    for key in ("__total__", function_name):
        entry = stats.setdefault(key, {"success": 0, "failed": 0, "times": [], "timestamps": []})
        entry["success" if ok else "failed"] += 1
        entry["times"] = (entry["times"] + [seconds])[-5:]
        entry["timestamps"] = (entry["timestamps"] + [int(time.time())])[-5:]


def stats_to_aqua(entry: CallStats) -> JsonObject:
    times = entry["times"]
    return {
        "success_req_count": entry["success"],
        "failed_req_count": entry["failed"],
        "call_time_sec": {"avg": sum(times) / len(times) if times else 0.0, "series": times, "total": sum(times)},
        "memory_deltas_bytes": {"avg": 0.0, "series": [], "total": 0.0},
        "timestamps": entry["timestamps"],
    }


_STORED_ID = re.compile(r"^[a-z2-7]{16,128}$")


def _is_stored_id(text: str) -> bool:
    """Whether `text` can be a module or blueprint id as stored on disk (CIDv1 base32). Other text, e.g.
    `../../peer/daemon`, would name a file outside the repository: it is "not found" before any file is read."""
    return bool(_STORED_ID.match(text))


def _stored(directory: Path, stored_id: str, suffix: str, not_found: str) -> Path:
    """The file `<directory>/<stored_id><suffix>`; BuiltinError(`not_found`) when it is missing or the id cannot
    be a stored one."""
    path = directory / f"{stored_id}{suffix}"
    if not _is_stored_id(stored_id) or not path.is_file():
        raise BuiltinError(not_found)
    return path


def _parse_cid(text: str) -> str:
    candidate = text.removeprefix("hash:")
    try:
        return str(CID.decode(candidate))
    except (ValueError, KeyError) as err:
        raise BuiltinError(f"Error: Expected module reference of format hash:xx or a CID, got {text!r}") from err


def encode_blueprint(name: str, dependencies: list[str]) -> str:
    """DAG-JSON of {name, dependencies: [links]} with keys sorted, as nox's AddBlueprint::encode."""
    deps = ",".join(json.dumps({"/": dep}, separators=(",", ":")) for dep in dependencies)
    return '{"dependencies":[' + deps + '],"name":' + json.dumps(name, ensure_ascii=False) + "}"


def decode_blueprint(blueprint: JsonValue) -> tuple[str, list[str]]:
    """A DAG-JSON blueprint string (nox) or a 2021 `{name, dependencies: ["hash:..."]}` record."""
    if isinstance(blueprint, str):
        try:
            value = json.loads(blueprint)
        except json.JSONDecodeError as err:
            raise BuiltinError(f"Error deserializing blueprint from IPLD: {err}") from err
    else:
        value = blueprint
    if not isinstance(value, dict):
        raise BuiltinError("Error deserializing blueprint from IPLD: not a map")
    name = value.get("name")
    deps = value.get("dependencies")
    if not isinstance(name, str):
        raise BuiltinError("Error deserializing blueprint from IPLD: name field is missing")
    if not isinstance(deps, list):
        raise BuiltinError("Error deserializing blueprint from IPLD: dependencies field is missing")
    out = []
    for dep in deps:
        link = dep.get("/") if isinstance(dep, dict) else dep
        if not isinstance(link, str):
            raise BuiltinError("Error deserializing blueprint from IPLD: dependency is not a link")
        out.append(_parse_cid(link))
    return name, out


def normalize_module_config(config: JsonObject) -> JsonObject:
    """Every accepted module config (nox's make_module_config output, Aqua's ModuleConfig, 2021's) -> nox's shape."""
    wasi = _unopt(config.get("wasi")) or {}
    if not isinstance(wasi, dict):
        raise BuiltinError(f"Error: module config field 'wasi' must be an object, got {json.dumps(wasi)}")
    envs = _table(unopt_pairs(wasi.get("envs", config.get("envs"))))
    mapped = _table(unopt_pairs(wasi.get("mapped_dirs", config.get("mapped_dirs"))))
    binaries = _table(unopt_pairs(wasi.get("mounted_binaries", config.get("mounted_binaries"))))
    heap = _unopt(config.get("max_heap_size"))
    if isinstance(heap, str):
        parse_size(heap)
    return {
        "name": config["name"],
        "load_from": None,
        "file_name": None,
        "logger_enabled": _unopt(config.get("logger_enabled")),
        "logging_mask": _unopt(config.get("logging_mask")),
        "max_heap_size": heap,
        "wasi": {"envs": envs or None, "mapped_dirs": mapped or None},
        "mounted_binaries": binaries or None,
    }


def unopt_pairs(value: JsonValue) -> JsonValue:
    """An Aqua `?Pairs` ([] or [[[k, v], ...]]) as its pairs; any other value as it is."""
    if (
        isinstance(value, list)
        and len(value) == 1
        and isinstance(value[0], list)
        and value[0]
        and isinstance(value[0][0], list)
    ):
        return value[0]
    return value


_AQUA_SCALARS = {
    "Boolean": "bool", "I8": "i8", "I16": "i16", "I32": "i32", "I64": "i64", "U8": "u8", "U16": "u16",
    "U32": "u32", "U64": "u64", "F32": "f32", "F64": "f64", "Utf8String": "string", "Utf8Str": "string",
}  # fmt: skip


def aqua_type(ty: MType) -> str:
    """A Marine type (fluence_dao.marine.MType) as nox prints interface types: string, u64, []u8, RecordName."""
    if ty.kind == "Vector":
        return "[]" + aqua_type(cast("MType", ty.element))  # a Vector always has its element type
    if ty.kind == "Record":
        return str(ty.record)
    return str(_AQUA_SCALARS.get(ty.kind, ty.kind.lower()))


def interface_to_aqua(interface: ModuleInterface) -> JsonObject:
    """The Marine host's ModuleInterface -> nox's `Interface` {function_signatures, record_types}."""
    functions: list[JsonObject] = [
        {
            "name": sig.name,
            "arguments": [[a.name, aqua_type(a.ty)] for a in sig.arguments],
            "output_types": [] if sig.output is None else [aqua_type(sig.output)],
        }
        for _, sig in sorted(interface.functions.items())
    ]
    records: list[JsonObject] = [
        {"name": rec.name, "id": index, "fields": [[f.name, aqua_type(f.ty)] for f in rec.fields]}
        for index, (_, rec) in enumerate(sorted(interface.records.items()))
    ]
    return {"function_signatures": functions, "record_types": records}


class LinkedService:
    """A hosted service: the Marine host's MarineService (modules linked by import namespace, facade last)."""

    def __init__(self, modules: list[tuple[ModuleConfig, bytes]]) -> None:
        from fluence_dao.marine import MarineService  # lazy: wasmtime ~0.14 s; `peer info` needs none

        self._service = MarineService(modules)

    @property
    def interface(self) -> ModuleInterface:
        return self._service.interface

    def call(self, function_name: str, args: Args, *, call_parameters: CallParameters) -> object:
        return self._service.call(function_name, args, call_parameters=call_parameters)

    def memory_stats(self) -> list[JsonObject]:
        stats: list[JsonObject] = [
            {
                "name": name,
                "memory_size_bytes": module.memory_bytes(),
                "max_memory_size_bytes": module.config.max_memory_bytes,
            }
            for name, module in self._service.modules.items()
        ]
        return stats
