"""The manifest `graph build` writes (build/subgraph.yaml) and the entity schema (build/schema.graphql)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from eth_hash.auto import keccak

from fluence_dao.errors import SubgraphError
from fluence_dao.subgraph._abi_types import AbiEntry, EventSignature, parse_manifest_event
from fluence_dao.util.json_types import JsonObject, JsonValue

# -- build/subgraph.yaml as graph-cli writes it (the keys this runner reads) ------------------------------------


class _NamedFile(TypedDict):
    name: str
    file: str


class _EventHandlerYaml(TypedDict, total=False):
    event: str
    handler: str
    receipt: bool


class _BlockFilterYaml(TypedDict, total=False):
    kind: str
    every: int


class _BlockHandlerYaml(TypedDict, total=False):
    handler: str
    filter: _BlockFilterYaml | None


class _MappingYaml(TypedDict, total=False):
    file: str
    apiVersion: str
    abis: list[_NamedFile]
    eventHandlers: list[_EventHandlerYaml]
    blockHandlers: list[_BlockHandlerYaml] | None
    callHandlers: list[JsonObject] | None


class _SourceYaml(TypedDict, total=False):
    address: str
    abi: str
    startBlock: int


class _ContextValueYaml(TypedDict):
    type: str
    data: JsonValue


class DataSourceYaml(TypedDict, total=False):
    """A data source or template entry."""

    kind: str
    name: str
    network: str
    source: _SourceYaml
    mapping: _MappingYaml
    context: dict[str, _ContextValueYaml] | None


class _SchemaYaml(TypedDict):
    file: str


class ManifestYaml(TypedDict, total=False):
    schema: _SchemaYaml
    dataSources: list[DataSourceYaml]
    templates: list[DataSourceYaml] | None


SCALARS = {"ID", "String", "Int", "BigInt", "BigDecimal", "Boolean", "Bytes", "Int8", "Timestamp"}


@dataclass(frozen=True)
class EventHandler:
    event: EventSignature
    handler: str
    topic0: bytes
    receipt: bool


@dataclass(frozen=True)
class BlockHandler:
    """A block handler: `kind` is "every" (no filter), "polling" (every `every` blocks) or "once"."""

    handler: str
    kind: str
    every: int = 1

    def applies(self, block: int, start_block: int) -> bool:
        if self.kind == "once":
            return block == start_block
        if self.kind == "polling":
            return (block - start_block) % self.every == 0
        return True


@dataclass
class Mapping:
    """A data source or a template: its mapping wasm, ABIs and event handlers."""

    kind: str
    name: str
    network: str
    abi_name: str
    api_version: tuple[int, ...]
    wasm_path: Path
    abis: dict[str, list[AbiEntry]]
    handlers: list[EventHandler]
    address: str | None = None
    start_block: int = 0
    context: dict[str, tuple[str, JsonValue]] | None = None  # name -> (type, data), as the manifest has it
    is_template: bool = False
    block_handlers: list[BlockHandler] = field(default_factory=list)

    def handler_for(self, topic0: bytes) -> list[EventHandler]:
        return [h for h in self.handlers if h.topic0 == topic0]


@dataclass
class Manifest:
    directory: Path
    data_sources: list[Mapping]
    templates: dict[str, Mapping]
    schema_path: Path
    raw: ManifestYaml = field(repr=False, default_factory=lambda: ManifestYaml())

    @property
    def network(self) -> str:
        return self.data_sources[0].network if self.data_sources else "anvil"


def _parse_version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in str(text).split("."))


def _mapping(entry: DataSourceYaml, directory: Path, is_template: bool) -> Mapping:
    name = entry.get("name", "?")
    if entry.get("kind") != "ethereum" and entry.get("kind") != "ethereum/contract":
        raise SubgraphError(f"data source {name!r}: unsupported kind {entry.get('kind')!r} (only ethereum)", name=name)
    mapping = entry["mapping"]
    if mapping.get("callHandlers"):
        raise SubgraphError(f"data source {name!r}: callHandlers are not supported by this runner", name=name)
    block_handlers = []
    for entry_ in mapping.get("blockHandlers") or []:
        flt = entry_.get("filter") or {}
        kind = flt.get("kind")
        if kind is None:
            block_handlers.append(BlockHandler(entry_["handler"], "every"))
        elif kind == "once":
            block_handlers.append(BlockHandler(entry_["handler"], "once"))
        elif kind == "polling":
            block_handlers.append(BlockHandler(entry_["handler"], "polling", int(flt.get("every", 1))))
        else:
            raise SubgraphError(
                f"data source {name!r}: block handler filter kind {kind!r} is not supported (supported: none, once, polling)",
                name=name,
            )
    abis: dict[str, list[AbiEntry]] = {}
    for abi in mapping.get("abis", []):
        abi_path = directory / abi["file"]
        try:
            loaded = json.loads(abi_path.read_text())
        except (OSError, ValueError) as err:
            raise SubgraphError(f"data source {name!r}: cannot read ABI {abi_path}: {err}", path=str(abi_path)) from err
        abis[abi["name"]] = loaded["abi"] if isinstance(loaded, dict) else loaded
    source = entry.get("source", {})
    abi_name = source.get("abi", "")
    handlers = []
    for handler in mapping.get("eventHandlers", []):
        sig = parse_manifest_event(handler["event"], abis.get(abi_name, []))
        handlers.append(
            EventHandler(sig, handler["handler"], keccak(sig.canonical.encode()), bool(handler.get("receipt")))
        )
    context = None
    raw_context = entry.get("context")
    if raw_context:
        context = {k: (v["type"], v["data"]) for k, v in raw_context.items()}
    return Mapping(
        kind="ethereum",
        name=name,
        network=entry.get("network", "anvil"),
        abi_name=abi_name,
        api_version=_parse_version(mapping.get("apiVersion", "0.0.9")),
        wasm_path=directory / mapping["file"],
        abis=abis,
        handlers=handlers,
        address=source.get("address", "").lower() or None,
        start_block=int(source.get("startBlock", 0)),
        context=context,
        is_template=is_template,
        block_handlers=block_handlers,
    )


def load_manifest(build_dir: Path | str) -> Manifest:
    """Read `build/subgraph.yaml` (the output of `graph build`, with paths relative to it)."""
    import yaml

    directory = Path(build_dir)
    path = directory / "subgraph.yaml"
    try:
        raw: ManifestYaml = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise SubgraphError(
            f"cannot read manifest {path}: {err} (run `fluence-dao subgraph build`)", path=str(path)
        ) from err
    data_sources = [_mapping(ds, directory, False) for ds in raw.get("dataSources", [])]
    templates = {t["name"]: _mapping(t, directory, True) for t in raw.get("templates", []) or []}
    for mapping in data_sources:
        if mapping.api_version < (0, 0, 7):
            raise SubgraphError(
                f"data source {mapping.name!r}: apiVersion {'.'.join(map(str, mapping.api_version))} is too old "
                "(this runner supports 0.0.7 and later)",
                name=mapping.name,
            )
    return Manifest(directory, data_sources, templates, directory / raw["schema"]["file"], raw)


# -- schema -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldType:
    name: str
    base: str  # scalar name, enum name or entity name
    is_list: bool
    non_null: bool
    derived_from: str | None = None

    @property
    def is_derived(self) -> bool:
        return self.derived_from is not None


@dataclass
class EntityType:
    name: str
    fields: dict[str, FieldType]
    immutable: bool = False
    description: str | None = None


@dataclass
class EntitySchema:
    entities: dict[str, EntityType]
    enums: dict[str, list[str]]
    source: str

    def is_entity(self, name: str) -> bool:
        return name in self.entities

    def entity(self, name: str) -> EntityType:
        try:
            return self.entities[name]
        except KeyError:
            raise SubgraphError(f"entity type {name!r} is not in the schema", entity=name) from None


def load_schema(path: Path | str) -> EntitySchema:
    from graphql import parse
    from graphql.language import ast

    source = Path(path).read_text()
    document = parse(source)
    entities: dict[str, EntityType] = {}
    enums: dict[str, list[str]] = {}
    for definition in document.definitions:
        if isinstance(definition, ast.EnumTypeDefinitionNode):
            enums[definition.name.value] = [v.name.value for v in definition.values or []]
        if not isinstance(definition, ast.ObjectTypeDefinitionNode):
            continue
        directives = {d.name.value: d for d in definition.directives or []}
        if "entity" not in directives:
            continue
        immutable = any(
            a.name.value == "immutable" and getattr(a.value, "value", False) is True
            for a in directives["entity"].arguments or []
        )
        fields: dict[str, FieldType] = {}
        for f in definition.fields or []:
            t = f.type
            non_null = isinstance(t, ast.NonNullTypeNode)
            if non_null:
                t = t.type  # type: ignore[attr-defined]
            is_list = isinstance(t, ast.ListTypeNode)
            while not isinstance(t, ast.NamedTypeNode):
                t = t.type  # type: ignore[attr-defined]
            derived: str | None = None
            for d in f.directives or []:
                if d.name.value == "derivedFrom":
                    for a in d.arguments or []:
                        if a.name.value == "field" and isinstance(a.value, ast.StringValueNode):
                            derived = a.value.value
            fields[f.name.value] = FieldType(f.name.value, t.name.value, is_list, non_null, derived)
        description = definition.description.value if definition.description else None
        entities[definition.name.value] = EntityType(definition.name.value, fields, immutable, description)
    return EntitySchema(entities, enums, source)
