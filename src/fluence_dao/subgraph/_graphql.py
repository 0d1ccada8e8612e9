"""The Graph's GraphQL API for a subgraph, generated from the subgraph's own schema.graphql.

graphql-core (the reference GraphQL implementation for Python, a port of graphql-js, maintained under the
GraphQL Foundation's graphql-python org) parses, validates and executes queries; this module builds the
schema with The Graph's conventions and resolves it from the versioned store:

- `entity(id, block, subgraphError)` and `entities(first = 100, skip = 0, orderBy, orderDirection, where, block,
  subgraphError)` for every entity type (plural by the same simple rules as graph-node's inflector);
- `where` filters: `field`, `_not`, `_gt`, `_lt`, `_gte`, `_lte`, `_in`, `_not_in`, the `_contains`,
  `_starts_with`, `_ends_with` families (with `_nocase` and `_not_`), list `_contains`/`_not_contains`,
  nested entity filters `field_: {...}` (also on @derivedFrom fields), and `and`/`or`;
- `orderBy` on scalar fields and on fields of a single related entity (`proposal__endBlock`);
- @derivedFrom fields with the same collection arguments; `block: {number | hash | number_gte}`;
- `_meta(block) { block { number hash timestamp } deployment hasIndexingErrors }`.
Values are serialised as The Graph does: BigInt, BigDecimal, Int8 and Timestamp as strings, Bytes as 0x-hex.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypedDict

from fluence_dao.subgraph import _asc as A
from fluence_dao.subgraph._manifest import EntitySchema, EntityType, FieldType
from fluence_dao.subgraph._numbers import BigDecimal
from fluence_dao.subgraph._store import Entity, Store
from fluence_dao.util.json_types import JsonObject, JsonScalar, JsonValue, to_json

MAX_FIRST = 1000
MAX_DEPTH = 16  # nesting of selections in one query (graph-node: GRAPH_GRAPHQL_MAX_DEPTH)
MAX_ENTITIES = 100_000  # entities one query may return in all: nested collections multiply (first x first x ...)

if TYPE_CHECKING:
    from graphql import (
        DocumentNode,
        GraphQLArgument,
        GraphQLEnumType,
        GraphQLEnumValue,
        GraphQLField,
        GraphQLInputField,
        GraphQLInputObjectType,
        GraphQLInputType,
        GraphQLObjectType,
        GraphQLOutputType,
        GraphQLResolveInfo,
        GraphQLScalarType,
        GraphQLSchema,
        SelectionSetNode,
        ValueNode,
    )

log = logging.getLogger(__name__)

#: what a resolver hands to the resolvers of its fields: an entity as of a block
_Node = TypedDict("_Node", {"__entity": str, "__block": int, "__data": Entity})


class _BlockHeight(TypedDict, total=False):
    """The `block: Block_height` argument."""

    hash: str
    number: int
    number_gte: int


class MetaBlock(TypedDict):
    number: int
    hash: str


class SubgraphMeta(TypedDict):
    """What `_meta` and block resolution need to know about the indexer, read once per resolution."""

    deployment: str
    block: MetaBlock | None  # the indexed block (None before the first)
    has_errors: bool


class QueryError(Exception):
    """A query argument the store cannot answer (reported in the GraphQL `errors` list)."""


def plural(name: str) -> str:
    """graph-node's collection field name: lower camel case plural (a subset of the inflector crate's rules)."""
    lower = name[0].lower() + name[1:]
    low = lower.lower()
    if low.endswith(("s", "x", "z", "ch", "sh")):
        out = lower + "es"
    elif low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        out = lower[:-1] + "ies"
    elif low.endswith(("tum", "ium")):
        out = lower[:-2] + "a"
    else:
        out = lower + "s"
    return out if out != lower else lower + "_collection"


def singular(name: str) -> str:
    return name[0].lower() + name[1:]


def _to_output(value: A.StoreValue | None) -> JsonValue:
    if value is None:
        return None
    kind, v = value
    if kind in (A.SV_BIGINT, A.SV_INT8, A.SV_TIMESTAMP, A.SV_BIGDECIMAL):
        return str(v)
    if kind == A.SV_BYTES:
        return "0x" + bytes(v).hex()
    if kind == A.SV_ARRAY:
        return [_to_output(x) for x in v]
    if kind == A.SV_NULL:
        return None
    scalar: JsonScalar = v  # String, Int, Boolean
    return scalar


def _comparable(value: A.StoreValue | None) -> object:
    if value is None:
        return None
    kind, v = value
    if kind == A.SV_ARRAY:
        return [_comparable(x) for x in v]
    return v


def _id_of(value: A.StoreValue) -> str:
    return "0x" + value[1].hex() if isinstance(value[1], bytes) else str(value[1])


def _parse_input(base: str, value: object) -> object:
    """A filter argument in the store's comparable form."""
    if value is None:
        return None
    if isinstance(value, list):
        return [_parse_input(base, v) for v in value]
    if base in ("BigInt", "Int8", "Timestamp"):
        if not isinstance(value, int | float | str):
            raise QueryError(f"a {base} filter takes a number or a numeric string, not {value!r}")
        return int(value)
    if base == "BigDecimal":
        return BigDecimal.parse(str(value))
    if base == "Bytes":
        text = str(value)
        return bytes.fromhex(text[2:] if text.startswith("0x") else text)
    return value


@dataclass
class _Request:
    store: Store
    max_entities: int
    cache: dict[tuple[str, int | None], list[Entity]] = field(default_factory=dict)
    indexes: dict[tuple[str, str], dict[str, list[Entity]]] = field(default_factory=dict)
    returned: int = 0  # entities handed out so far, against max_entities

    def hand_out(self, count: int) -> None:
        self.returned += count
        if self.returned > self.max_entities:
            raise QueryError(
                f"the query returns more than {self.max_entities} entities in all: lower `first` on nested collections"
            )

    def all(self, entity: str, block: int | None) -> list[Entity]:
        key = (entity, block)
        if key not in self.cache:
            self.cache[key] = self.store.all(entity, block)
        return self.cache[key]

    def get(self, entity: str, entity_id: str, block: int | None) -> Entity | None:
        return self.store.get(entity, entity_id, block)

    def referencing(self, entity: str, field: str, target_id: str, block: int | None) -> list[Entity]:
        """Entities whose `field` references `target_id`, from a per-request index (one pass per type)."""
        key = (entity, f"{field}@{block}")
        index = self.indexes.get(key)
        if index is None:
            index = self.indexes[key] = {}
            for other in self.all(entity, block):
                value = other.get(field)
                if value is None:
                    continue
                ids = [_id_of(v) for v in value[1]] if value[0] == A.SV_ARRAY else [_id_of(value)]
                for i in dict.fromkeys(ids):
                    index.setdefault(i, []).append(other)
        return index.get(target_id, [])


@dataclass
class _Types:
    """The schema's named types while it is built: the shared ones first, the entity types added by `_build`."""

    scalars: dict[str, GraphQLScalarType]
    enums: dict[str, GraphQLEnumType]
    order_direction: GraphQLEnumType
    error_policy: GraphQLEnumType
    block_height: GraphQLInputObjectType
    block_changed: GraphQLInputObjectType
    objects: dict[str, GraphQLObjectType] = field(default_factory=dict)
    filters: dict[str, GraphQLInputObjectType] = field(default_factory=dict)
    order_enums: dict[str, GraphQLEnumType] = field(default_factory=dict)

    def leaf_type(self, base: str) -> GraphQLObjectType | GraphQLEnumType | GraphQLScalarType:
        return self.objects[base] if base in self.objects else self.enums.get(base) or self.scalars[base]

    def output_type(self, f: FieldType) -> GraphQLOutputType:
        import graphql as g

        t: GraphQLOutputType = self.leaf_type(f.base)
        if f.is_list:
            t = g.GraphQLList(g.GraphQLNonNull(t))
        return g.GraphQLNonNull(t) if f.non_null else t

    def collection_args(self, name: str, with_block: bool) -> dict[str, GraphQLArgument]:
        import graphql as g

        args = {
            "skip": g.GraphQLArgument(g.GraphQLInt, default_value=0),
            "first": g.GraphQLArgument(g.GraphQLInt, default_value=100),
            "orderBy": g.GraphQLArgument(self.order_enums[name]),
            "orderDirection": g.GraphQLArgument(self.order_direction),
            "where": g.GraphQLArgument(self.filters[name]),
        }
        if with_block:
            args.update(self.block_args())
        return args

    def block_args(self) -> dict[str, GraphQLArgument]:
        """`block` and `subgraphError`: the arguments of every top-level query field."""
        import graphql as g

        return {
            "block": g.GraphQLArgument(self.block_height),
            "subgraphError": g.GraphQLArgument(self.error_policy, default_value="deny"),
        }


def _same(value: object) -> object:
    return value


def _literal(node: ValueNode, variables: dict[str, object] | None = None) -> object:
    from graphql import value_from_ast_untyped

    return value_from_ast_untyped(node, variables)


def _shared_types(entities: EntitySchema) -> _Types:
    """Scalars, the schema's enums and the input types every entity's arguments share."""
    import graphql as g

    custom = ("BigInt", "BigDecimal", "Bytes", "Int8", "Timestamp")
    scalars: dict[str, GraphQLScalarType] = {
        "ID": g.GraphQLID,
        "String": g.GraphQLString,
        "Int": g.GraphQLInt,
        "Boolean": g.GraphQLBoolean,
        **{n: g.GraphQLScalarType(n, serialize=_same, parse_value=_same, parse_literal=_literal) for n in custom},
    }
    block_height = g.GraphQLInputObjectType(
        "Block_height",
        {
            "hash": g.GraphQLInputField(scalars["Bytes"]),
            "number": g.GraphQLInputField(g.GraphQLInt),
            "number_gte": g.GraphQLInputField(g.GraphQLInt),
        },
    )
    return _Types(
        scalars=scalars,
        enums={n: g.GraphQLEnumType(n, {v: g.GraphQLEnumValue(v) for v in vals}) for n, vals in entities.enums.items()},
        order_direction=g.GraphQLEnumType("OrderDirection", {"asc": "asc", "desc": "desc"}),
        error_policy=g.GraphQLEnumType("_SubgraphErrorPolicy_", {"allow": "allow", "deny": "deny"}),
        block_height=block_height,
        block_changed=g.GraphQLInputObjectType(
            "BlockChangedFilter", {"number_gte": g.GraphQLInputField(g.GraphQLNonNull(g.GraphQLInt))}
        ),
    )


def _meta_type(types: _Types) -> GraphQLObjectType:
    """`_Meta_ { block { number hash timestamp parentHash } deployment hasIndexingErrors }`."""
    import graphql as g

    meta_block = g.GraphQLObjectType(
        "_Block_",
        {
            "hash": g.GraphQLField(types.scalars["Bytes"]),
            "number": g.GraphQLField(g.GraphQLNonNull(g.GraphQLInt)),
            "timestamp": g.GraphQLField(g.GraphQLInt),
            "parentHash": g.GraphQLField(types.scalars["Bytes"]),
        },
    )
    return g.GraphQLObjectType(
        "_Meta_",
        {
            "block": g.GraphQLField(g.GraphQLNonNull(meta_block)),
            "deployment": g.GraphQLField(g.GraphQLNonNull(g.GraphQLString)),
            "hasIndexingErrors": g.GraphQLField(g.GraphQLNonNull(g.GraphQLBoolean)),
        },
    )


def _where(value: object) -> Mapping[str, object]:
    """A `where` argument (graphql-core validated it: an input object or nothing)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise QueryError(f"a filter must be an object, not {value!r}")
    return value


def _where_list(value: object) -> list[Mapping[str, object]]:
    """The operands of `and` / `or`: a list of filters."""
    if not isinstance(value, list):
        raise QueryError(f"`and` / `or` take a list of filters, not {value!r}")
    return [_where(w) for w in value]


class SubgraphSchema:
    """Builds the graphql-core schema and executes queries against a Store."""

    def __init__(
        self,
        schema: EntitySchema,
        store: Store,
        meta: Callable[[], SubgraphMeta],
        block_hash: Callable[[int], str | None] | None = None,
        max_entities: int = MAX_ENTITIES,
    ) -> None:
        self.entities = schema
        self.max_entities = max_entities  # what one query may return in all
        self.store = store
        self._meta = meta
        self._block_hash = block_hash  # for `_meta(block:)` at blocks the store kept no hash for
        self.graphql_schema = self._build()

    # -- public -----------------------------------------------------------------------------------------------
    def execute(self, query: str, variables: JsonObject | None = None, operation: str | None = None) -> JsonObject:
        from graphql import GraphQLError, graphql_sync, parse

        request = _Request(self.store, self.max_entities)
        try:
            depth = _depth(parse(query, no_location=True))
        except GraphQLError as err:
            return {"errors": [to_json(err.formatted)]}
        if depth > MAX_DEPTH:
            return {"errors": [{"message": f"the query nests selections more than {MAX_DEPTH} levels deep"}]}
        try:
            result = graphql_sync(
                self.graphql_schema, query, context_value=request, variable_values=variables, operation_name=operation
            )
        except GraphQLError as err:
            return {"errors": [to_json(err.formatted)]}
        out: JsonObject = {}
        if result.errors:
            out["errors"] = [to_json(e.formatted) for e in result.errors]
        if result.data is not None or not result.errors:
            out["data"] = result.data
        return out

    # -- block resolution -------------------------------------------------------------------------------------
    def _block(self, arg: _BlockHeight | None) -> int | None:
        meta = self._meta()
        indexed = meta["block"]["number"] if meta["block"] else None
        if not arg:
            return indexed
        if arg.get("hash") is not None:
            wanted = str(arg["hash"]).lower()
            for ptr in self.store.recent_blocks():
                if ptr.hash.lower() == wanted:
                    return ptr.number
            raise QueryError(f"no block with hash `{wanted}` is known to this subgraph")
        # `number` answers at that block, `number_gte` at the indexed block once it is that far
        for key, asked in (("number", arg.get("number")), ("number_gte", arg.get("number_gte"))):
            if asked is None:
                continue
            number = int(asked)
            if indexed is None or number > indexed:
                reason = (
                    f"subgraph {meta['deployment']} has only indexed up to block number {indexed} "
                    f"and data for block number {number} is therefore not yet available"
                )
                raise QueryError(f"Failed to decode `block.number` value: `{reason}`" if key == "number" else reason)
            return number if key == "number" else indexed
        return indexed

    # -- filtering --------------------------------------------------------------------------------------------
    def _matches(
        self, etype: EntityType, data: Entity, where: Mapping[str, object], block: int | None, req: _Request
    ) -> bool:
        for key, arg in where.items():
            if key == "and":
                if not all(self._matches(etype, data, w, block, req) for w in _where_list(arg)):
                    return False
                continue
            if key == "or":
                if not any(self._matches(etype, data, w, block, req) for w in _where_list(arg)):
                    return False
                continue
            if key == "_change_block":
                continue
            if not self._match_one(etype, data, key, arg, block, req):
                return False
        return True

    def _field_and_op(self, etype: EntityType, key: str) -> tuple[FieldType, str]:
        if key in etype.fields:
            return etype.fields[key], ""
        for name in sorted(etype.fields, key=len, reverse=True):
            if key.startswith(name + "_"):
                return etype.fields[name], key[len(name) :]
        raise QueryError(f"unknown filter `{key}` on `{etype.name}`")

    def _match_one(
        self, etype: EntityType, data: Entity, key: str, arg: object, block: int | None, req: _Request
    ) -> bool:
        ftype, op = self._field_and_op(etype, key)
        is_entity = self.entities.is_entity(ftype.base)
        if op == "_":  # nested entity filter
            target = self.entities.entity(ftype.base)
            related = self._related(etype, ftype, data, block, req)
            return any(self._matches(target, r, _where(arg), block, req) for r in related)
        if ftype.is_derived:
            raise QueryError(f"filter `{key}`: derived field `{ftype.name}` only supports `{ftype.name}_`")
        raw = data.get(ftype.name)
        value = _comparable(raw)
        if is_entity:
            value = [_id_of(v) for v in raw[1]] if raw and raw[0] == A.SV_ARRAY else (_id_of(raw) if raw else None)
            base = "ID"
        else:
            base = ftype.base
        want = _parse_input(base, arg)
        return _compare(value, op, want, ftype.is_list)

    def _related(
        self, etype: EntityType, ftype: FieldType, data: Entity, block: int | None, req: _Request
    ) -> list[Entity]:
        if ftype.derived_from:
            return list(req.referencing(ftype.base, ftype.derived_from, _id_of(data["id"]), block))
        raw = data.get(ftype.name)
        if raw is None:
            return []
        ids = [_id_of(v) for v in raw[1]] if raw[0] == A.SV_ARRAY else [_id_of(raw)]
        found = [req.get(ftype.base, i, block) for i in ids]
        return [f for f in found if f is not None]

    # -- collections ------------------------------------------------------------------------------------------
    def _collection(
        self, etype: EntityType, rows: list[Entity], args: Mapping[str, object], block: int, req: _Request
    ) -> list[_Node]:
        where = _where(args.get("where"))
        if where:
            rows = [r for r in rows if self._matches(etype, r, where, block, req)]
        order_by = args.get("orderBy") or "id"
        descending = (args.get("orderDirection") or "asc") == "desc"
        keyfn = self._sort_key(etype, str(order_by), block, req)
        present = [r for r in rows if keyfn(r) is not None]
        missing = [r for r in rows if keyfn(r) is None]
        present.sort(key=lambda r: (keyfn(r), _id_of(r["id"])), reverse=descending)
        rows = (missing + present) if descending else (present + missing)
        first = args.get("first", 100)
        skip = args.get("skip", 0)
        if not isinstance(first, int) or first < 0 or first > MAX_FIRST:
            raise QueryError(f"The `first` argument must be between 0 and {MAX_FIRST}, but is {first}")
        if not isinstance(skip, int) or skip < 0:
            raise QueryError(f"The `skip` argument must be at least 0, but is {skip}")
        page = rows[skip : skip + first]
        req.hand_out(len(page))
        return [{"__entity": etype.name, "__block": block, "__data": r} for r in page]

    def _sort_key(
        self, etype: EntityType, order_by: str, block: int | None, req: _Request
    ) -> Callable[[Entity], _SortValue]:
        if "__" in order_by:
            rel, child = order_by.split("__", 1)
            ftype = etype.fields[rel]

            def nested(row: Entity) -> _SortValue:
                related = self._related(etype, ftype, row, block, req)
                if not related:
                    return None
                return _sort_value(related[0].get(child))

            return nested
        return lambda row: _sort_value(row.get(order_by))

    # -- schema -----------------------------------------------------------------------------------------------
    def _build(self) -> GraphQLSchema:
        import graphql as g

        types = _shared_types(self.entities)
        for name, etype in self.entities.entities.items():
            # fields are thunks (built on first use), so entity types can refer to each other
            types.objects[name] = g.GraphQLObjectType(
                name, partial(self._object_fields, etype, types), description=etype.description
            )
            types.filters[name] = g.GraphQLInputObjectType(f"{name}_filter", partial(self._filter_fields, etype, types))
            types.order_enums[name] = g.GraphQLEnumType(f"{name}_orderBy", self._order_values(etype))
        query_fields = self._query_fields(types)
        query_fields["_meta"] = g.GraphQLField(
            _meta_type(types), args={"block": g.GraphQLArgument(types.block_height)}, resolve=self._resolve_meta
        )
        return g.GraphQLSchema(g.GraphQLObjectType("Query", query_fields))

    def _order_values(self, etype: EntityType) -> dict[str, GraphQLEnumValue]:
        """`orderBy` values: every field, and the scalar fields of a single related entity (`proposal__endBlock`)."""
        from graphql import GraphQLEnumValue

        names = []
        for fname, f in etype.fields.items():
            names.append(fname)
            if self.entities.is_entity(f.base) and not f.is_list and not f.is_derived:
                for child, cf in self.entities.entity(f.base).fields.items():
                    if not cf.is_list and not self.entities.is_entity(cf.base):
                        names.append(f"{fname}__{child}")
        return {n: GraphQLEnumValue(n) for n in names}

    def _query_fields(self, types: _Types) -> dict[str, GraphQLField]:
        """`entity(id)` and `entities(...)` for every entity type."""
        import graphql as g

        query_fields: dict[str, GraphQLField] = {}
        for name, etype in self.entities.entities.items():
            query_fields[singular(name)] = g.GraphQLField(
                types.objects[name],
                args={"id": g.GraphQLArgument(g.GraphQLNonNull(g.GraphQLID)), **types.block_args()},
                resolve=self._resolve_one(etype),
            )
            query_fields[plural(name)] = g.GraphQLField(
                g.GraphQLNonNull(g.GraphQLList(g.GraphQLNonNull(types.objects[name]))),
                args=types.collection_args(name, True),
                resolve=self._resolve_many(etype),
            )
        return query_fields

    def _object_fields(self, etype: EntityType, types: _Types) -> dict[str, GraphQLField]:
        import graphql as g

        fields = {}
        for fname, f in etype.fields.items():
            if self.entities.is_entity(f.base) and f.is_list:
                fields[fname] = g.GraphQLField(
                    types.output_type(f),
                    args=types.collection_args(f.base, False),
                    resolve=self._resolve_list_relation(etype, f),
                )
            elif self.entities.is_entity(f.base):
                fields[fname] = g.GraphQLField(types.output_type(f), resolve=self._resolve_relation(etype, f))
            else:
                fields[fname] = g.GraphQLField(types.output_type(f), resolve=_scalar_resolver(fname))
        return fields

    def _filter_fields(self, etype: EntityType, types: _Types) -> dict[str, GraphQLInputField]:
        import graphql as g

        out: dict[str, GraphQLInputField] = {}
        for fname, f in etype.fields.items():
            base: GraphQLInputType
            if self.entities.is_entity(f.base):
                out[f"{fname}_"] = g.GraphQLInputField(types.filters[f.base])
                if f.is_derived:
                    continue
                base = g.GraphQLString
            else:
                leaf = types.leaf_type(f.base)
                assert not isinstance(leaf, g.GraphQLObjectType)  # f.base is no entity here
                base = leaf
            text = f.base in ("String", "ID") or self.entities.is_entity(f.base)
            out.update(_field_filters(fname, f, base, text))
        out["_change_block"] = g.GraphQLInputField(types.block_changed)
        out["and"] = g.GraphQLInputField(g.GraphQLList(types.filters[etype.name]))
        out["or"] = g.GraphQLInputField(g.GraphQLList(types.filters[etype.name]))
        return out

    # -- resolvers --------------------------------------------------------------------------------------------
    def _resolve_one(self, etype: EntityType) -> Callable[..., _Node | None]:
        def resolve(
            _root: object, info: GraphQLResolveInfo, id: str, block: _BlockHeight | None = None, **_: object
        ) -> _Node | None:
            number = self._block(block)
            if number is None:
                return None
            data = info.context.get(etype.name, id if etype.fields["id"].base != "Bytes" else id.lower(), number)
            return None if data is None else {"__entity": etype.name, "__block": number, "__data": data}

        return resolve

    def _resolve_many(self, etype: EntityType) -> Callable[..., list[_Node]]:
        def resolve(
            _root: object, info: GraphQLResolveInfo, block: _BlockHeight | None = None, **args: object
        ) -> list[_Node]:
            number = self._block(block)
            if number is None:
                return []
            return self._collection(etype, info.context.all(etype.name, number), args, number, info.context)

        return resolve

    def _resolve_relation(self, etype: EntityType, f: FieldType) -> Callable[..., _Node | None]:
        def resolve(parent: _Node, info: GraphQLResolveInfo) -> _Node | None:
            related = self._related(etype, f, parent["__data"], parent["__block"], info.context)
            if not related:
                return None
            return {"__entity": f.base, "__block": parent["__block"], "__data": related[0]}

        return resolve

    def _resolve_list_relation(self, etype: EntityType, f: FieldType) -> Callable[..., list[_Node]]:
        target = self.entities.entity(f.base)

        def resolve(parent: _Node, info: GraphQLResolveInfo, **args: object) -> list[_Node]:
            block = parent["__block"]
            related = self._related(etype, f, parent["__data"], block, info.context)
            return self._collection(target, related, args, block, info.context)

        return resolve

    def _resolve_meta(self, _root: object, _info: GraphQLResolveInfo, block: _BlockHeight | None = None) -> JsonObject:
        meta = self._meta()
        number = self._block(block)
        ptr = None
        if number is not None:
            for p in self.store.recent_blocks():
                if p.number == number:
                    ptr = p
                    break
        block_hash = ptr.hash if ptr else None
        if block_hash is None and number is not None and self._block_hash is not None:
            try:
                block_hash = self._block_hash(number)
            except Exception:  # the chain is unreachable: the hash is optional in _Block_
                log.warning("no hash for block %d", number)
        return {
            "block": {
                "number": number if number is not None else 0,
                "hash": block_hash,
                "timestamp": ptr.timestamp if ptr else None,
                "parentHash": None,
            },
            "deployment": meta["deployment"],
            "hasIndexingErrors": meta["has_errors"],
        }


def _field_filters(fname: str, f: FieldType, base: GraphQLInputType, text: bool) -> dict[str, GraphQLInputField]:
    """The `where` operators of one field that filters by value (`base` is the type of a value; `text`: strings,
    IDs and entity references also take `_contains`, `_starts_with`, `_ends_with` and their variants)."""
    from graphql import GraphQLInputField, GraphQLList, GraphQLNonNull, GraphQLString

    if f.is_list:
        ops = ["", "_not", "_contains", "_not_contains"]
        if base is GraphQLString:
            ops += ["_contains_nocase", "_not_contains_nocase"]
        return {fname + op: GraphQLInputField(GraphQLList(GraphQLNonNull(base))) for op in ops}
    out = {fname + op: GraphQLInputField(base) for op in ("", "_not", "_gt", "_lt", "_gte", "_lte")}
    out.update({fname + op: GraphQLInputField(GraphQLList(GraphQLNonNull(base))) for op in ("_in", "_not_in")})
    if text:
        text_ops = [f"_{neg}{stem}{nocase}" for stem in _TEXT_OPS for neg in ("", "not_") for nocase in ("", "_nocase")]
        out.update({fname + op: GraphQLInputField(base) for op in text_ops})
    elif f.base == "Bytes":
        out.update({fname + op: GraphQLInputField(base) for op in ("_contains", "_not_contains")})
    return out


_TEXT_OPS = ("contains", "starts_with", "ends_with")

#: what rows sort by: a scalar payload of the store, or a list's length
_SortValue = int | str | bytes | bool | BigDecimal | None


def _scalar_resolver(fname: str) -> Callable[..., JsonValue]:
    def resolve(parent: _Node, _info: GraphQLResolveInfo) -> JsonValue:
        return _to_output(parent["__data"].get(fname))

    return resolve


def _sort_value(value: A.StoreValue | None) -> _SortValue:
    if value is None or value[0] == A.SV_NULL:
        return None
    if value[0] == A.SV_ARRAY:
        return len(value[1])
    sortable: _SortValue = value[1]
    return sortable


def _compare(value: Any, op: str, want: Any, is_list: bool) -> bool:  # store payloads of one type: compared as-is
    if is_list:
        have = value or []
        if op == "":
            return bool(have == want)
        if op == "_not":
            return bool(have != want)
        if op in ("_contains", "_contains_nocase"):
            fold = _fold if op.endswith("nocase") else _same
            return all(any(fold(h) == fold(w) for h in have) for w in want)
        if op in ("_not_contains", "_not_contains_nocase"):
            fold = _fold if op.endswith("nocase") else _same
            return not any(any(fold(h) == fold(w) for h in have) for w in want)
        raise QueryError(f"unsupported list filter `{op}`")
    if op == "":
        return bool(value == want)
    if op == "_not":
        return bool(value != want)
    if op == "_in":
        return value in want
    if op == "_not_in":
        return value not in want
    if value is None:
        return op.startswith("_not_")
    if op in ("_gt", "_lt", "_gte", "_lte"):
        if want is None:
            return False
        return bool({"_gt": value > want, "_lt": value < want, "_gte": value >= want, "_lte": value <= want}[op])
    negate = op.startswith("_not_")
    stem = op[5:] if negate else op[1:]
    nocase = stem.endswith("_nocase")
    if nocase:
        stem = stem[: -len("_nocase")]
    a, b = (value, want)
    if nocase and isinstance(a, str):
        a, b = a.lower(), str(b).lower()
    if stem == "contains":
        result = b in a
    elif stem == "starts_with":
        result = a.startswith(b)
    elif stem == "ends_with":
        result = a.endswith(b)
    else:
        raise QueryError(f"unsupported filter `{op}`")
    return not result if negate else result


def _fold(v: object) -> object:
    return v.lower() if isinstance(v, str) else v


def _depth(document: DocumentNode) -> int:
    """How deeply the selections of `document` nest, following fragment spreads (a cycle counts as too deep)."""
    from graphql import (
        ExecutableDefinitionNode,
        FieldNode,
        FragmentDefinitionNode,
        FragmentSpreadNode,
        InlineFragmentNode,
    )

    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def deepest(selection_set: SelectionSetNode | None, level: int, seen: frozenset[str]) -> int:
        if selection_set is None or level > MAX_DEPTH:
            return level
        best = level
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                best = max(best, deepest(node.selection_set, level + 1, seen))
            elif isinstance(node, InlineFragmentNode):
                best = max(best, deepest(node.selection_set, level, seen))
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name in seen:
                    return MAX_DEPTH + 1
                fragment = fragments.get(name)
                if fragment is not None:
                    best = max(best, deepest(fragment.selection_set, level, seen | {name}))
        return best

    return max(
        (
            deepest(d.selection_set, 0, frozenset())
            for d in document.definitions
            if isinstance(d, ExecutableDefinitionNode)
        ),
        default=0,
    )
