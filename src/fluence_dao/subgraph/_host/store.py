"""`store.*`: entities of the running block (BlockState) over the stored ones, checked against the schema."""

from __future__ import annotations

from dataclasses import dataclass

from fluence_dao.subgraph import _asc as A
from fluence_dao.subgraph._host._context import HostContext, HostFunction
from fluence_dao.subgraph._manifest import EntitySchema
from fluence_dao.subgraph._rpc import hex_bytes
from fluence_dao.subgraph._store import Entity

_SCALAR_KINDS = {
    "ID": frozenset({A.SV_STRING, A.SV_BYTES, A.SV_INT8}),
    "String": frozenset({A.SV_STRING}),
    "Int": frozenset({A.SV_INT}),
    "BigInt": frozenset({A.SV_BIGINT}),
    "BigDecimal": frozenset({A.SV_BIGDECIMAL}),
    "Boolean": frozenset({A.SV_BOOL}),
    "Bytes": frozenset({A.SV_BYTES}),
    "Int8": frozenset({A.SV_INT8, A.SV_INT}),
    "Timestamp": frozenset({A.SV_TIMESTAMP, A.SV_INT8}),
}


@dataclass(frozen=True)
class _FieldRule:
    name: str
    base: str
    derived: bool
    non_null: bool
    is_list: bool
    allowed: frozenset[int]


def _rules(schema: EntitySchema, entity: str) -> list[_FieldRule]:
    """What `store.set` checks for each field of an entity type (computed once per type)."""
    rules = []
    for name, ftype in schema.entity(entity).fields.items():
        if ftype.base in _SCALAR_KINDS:
            allowed = _SCALAR_KINDS[ftype.base]
        elif schema.is_entity(ftype.base):
            allowed = _SCALAR_KINDS.get(schema.entity(ftype.base).fields["id"].base, frozenset({A.SV_STRING}))
        else:  # enum
            allowed = frozenset({A.SV_STRING})
        rules.append(_FieldRule(name, ftype.base, ftype.is_derived, ftype.non_null, ftype.is_list, allowed))
    return rules


def entity_id(data: Entity) -> str:
    value = data["id"][1]
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def load(ctx: HostContext, entity: str, eid: str) -> Entity | None:
    """The entity as the running block sees it: this block's change, else the stored version."""
    changes = ctx.state.changes
    key = (entity, eid)
    if key in changes:
        return changes[key]
    return ctx.store.get(entity, eid)


def related(ctx: HostContext, entity: str, eid: str, field_name: str) -> list[Entity]:
    """Entities referenced by `entity.field` (derived fields: those pointing back), including this block's changes."""
    ftype = ctx.schema.entity(entity).fields[field_name]
    target = ftype.base
    if ftype.derived_from:
        back = ftype.derived_from
        found: dict[str, Entity] = {entity_id(data): data for data in ctx.store.referencing(target, back, eid)}
        for (etype, changed_id), data in ctx.state.changes.items():
            if etype != target:
                continue
            if data is None:
                found.pop(changed_id, None)
            else:
                found[changed_id] = data

        def points_back(data: Entity) -> bool:
            value = data.get(back)
            if value is None:
                return False
            if value[0] == A.SV_ARRAY:
                return any(str(v[1]) == eid for v in value[1])
            return str(value[1]) == eid

        return [d for d in found.values() if points_back(d)]
    parent = load(ctx, entity, eid)
    if parent is None or field_name not in parent:
        return []
    value = parent[field_name]
    ids = [v[1] for v in value[1]] if value[0] == A.SV_ARRAY else [value[1]]
    out = []
    for rid in ids:
        rid_text = "0x" + rid.hex() if isinstance(rid, bytes) else str(rid)
        data = load(ctx, target, rid_text)
        if data is not None:
            out.append(data)
    return out


def validate(schema: EntitySchema, rules: dict[str, list[_FieldRule]], entity: str, eid: str, data: Entity) -> None:
    """Check a merged entity against its type (graph-node's messages); `rules` caches each type's checks."""
    fields = schema.entity(entity).fields
    if not fields.keys() >= data.keys():
        unknown = sorted(k for k in data if k not in fields)
        raise ValueError(
            f"Attempted to set undefined fields [{', '.join(unknown)}] for the entity type `{entity}`. "
            "Make sure those fields are defined in the schema."
        )
    checks = rules.get(entity)
    if checks is None:
        checks = rules[entity] = _rules(schema, entity)
    for rule in checks:
        name = rule.name
        value = data.get(name)
        if rule.derived:
            if value is not None and value[0] != A.SV_NULL:
                raise ValueError(f"entity {entity}[{eid}]: derived field `{name}` cannot be set")
            continue
        if value is None or value[0] == A.SV_NULL:
            if rule.non_null:
                raise ValueError(f"Entity {entity}[{eid}]: missing value for non-nullable field `{name}`")
            continue
        if rule.is_list:
            if value[0] != A.SV_ARRAY:
                raise ValueError(f"Entity {entity}[{eid}]: field `{name}` must be a list")
            items = value[1]
        else:
            items = [value]
        for item in items:
            if item[0] not in rule.allowed:
                raise ValueError(
                    f"Entity {entity}[{eid}]: the value of field `{name}` has kind {item[0]}, "
                    f"which does not match the schema type {rule.base}"
                )


def set_entity(ctx: HostContext, rules: dict[str, list[_FieldRule]], entity: str, eid: str, data: Entity) -> None:
    """store.set: merge `data` over the entity as this block sees it, validate, record the change."""
    if "id" in data and data["id"][1] != eid and data["id"][1] != hex_bytes(eid):
        raise ValueError(
            f"Value of {entity} attribute 'id' conflicts with ID passed to `store.set()`: {data['id'][1]!r} != {eid!r}"
        )
    etype = ctx.schema.entity(entity)
    existing = load(ctx, entity, eid)
    changes = ctx.state.changes
    if etype.immutable and existing is not None and (entity, eid) not in changes:
        raise ValueError(f"immutable entity {entity}[{eid}] already exists and cannot be updated")
    merged: Entity = dict(existing or {})
    for key, value in data.items():
        if value[0] == A.SV_NULL:
            merged.pop(key, None)
        else:
            merged[key] = value
    if "id" not in merged:
        id_kind = A.SV_BYTES if etype.fields["id"].base == "Bytes" else A.SV_STRING
        merged["id"] = (id_kind, hex_bytes(eid) if id_kind == A.SV_BYTES else eid)
    validate(ctx.schema, rules, entity, eid, merged)
    changes[(entity, eid)] = merged


def functions(ctx: HostContext) -> dict[str, HostFunction]:
    schema = ctx.schema
    rules: dict[str, list[_FieldRule]] = {}

    def store_get(entity: int, eid: int) -> int:
        h = ctx.h
        data = load(ctx, h.read_string(entity), h.read_string(eid))
        return 0 if data is None else h.new_entity(data)

    def store_get_in_block(entity: int, eid: int) -> int:
        h = ctx.h
        data = ctx.state.changes.get((h.read_string(entity), h.read_string(eid)))
        return 0 if data is None else h.new_entity(data)

    def store_set(entity: int, eid: int, data: int) -> None:
        h = ctx.h
        set_entity(ctx, rules, h.read_string(entity), h.read_string(eid), h.read_entity(data))

    def store_remove(entity: int, eid: int) -> None:
        h = ctx.h
        name = h.read_string(entity)
        schema.entity(name)
        ctx.state.changes[(name, h.read_string(eid))] = None

    def store_load_related(entity: int, eid: int, field_name: int) -> int:
        h = ctx.h
        name, rid, fname = h.read_string(entity), h.read_string(eid), h.read_string(field_name)
        ftype = schema.entity(name).fields.get(fname)
        if ftype is None or not schema.is_entity(ftype.base):
            raise ValueError(f"`{name}.{fname}` is not a relation field")
        found = related(ctx, name, rid, fname)
        return h.new_array_ptrs(A.IDX_ARRAY_TYPED_MAP_STRING_STORE_VALUE, [h.new_entity(e) for e in found])

    return {
        "store.get": store_get,
        "store.get_in_block": store_get_in_block,
        "store.set": store_set,
        "store.remove": store_remove,
        "store.loadRelated": store_load_related,
    }
