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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from fluence_dao.subgraph import _asc as A
from fluence_dao.subgraph._manifest import EntitySchema, EntityType, FieldType
from fluence_dao.subgraph._numbers import BigDecimal
from fluence_dao.subgraph._store import Entity, Store
from fluence_dao.util.json_types import JsonObject

MAX_FIRST = 1000
MAX_DEPTH = 16  # nesting of selections in one query (graph-node: GRAPH_GRAPHQL_MAX_DEPTH)
MAX_ENTITIES = 100_000  # entities one query may return in all: nested collections multiply (first x first x ...)

if TYPE_CHECKING:
    from graphql import (
        GraphQLArgument,
        GraphQLEnumType,
        GraphQLField,
        GraphQLInputField,
        GraphQLInputObjectType,
        GraphQLObjectType,
        GraphQLOutputType,
        GraphQLResolveInfo,
        GraphQLScalarType,
        GraphQLSchema,
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


def _to_output(value: A.StoreValue | None) -> Any:
    if value is None:
        return None
    kind, v = value
    if kind in (A.SV_BIGINT, A.SV_INT8, A.SV_TIMESTAMP):
        return str(v)
    if kind == A.SV_BIGDECIMAL:
        return str(v)
    if kind == A.SV_BYTES:
        return "0x" + v.hex()
    if kind == A.SV_ARRAY:
        return [_to_output(x) for x in v]
    if kind == A.SV_NULL:
        return None
    return v


def _comparable(value: A.StoreValue | None) -> Any:
    if value is None:
        return None
    kind, v = value
    if kind == A.SV_ARRAY:
        return [_comparable(x) for x in v]
    return v


def _id_of(value: A.StoreValue) -> str:
    return "0x" + value[1].hex() if isinstance(value[1], bytes) else str(value[1])


def _parse_input(base: str, value: Any) -> Any:
    """A filter argument in the store's comparable form."""
    if value is None:
        return None
    if isinstance(value, list):
        return [_parse_input(base, v) for v in value]
    if base in ("BigInt", "Int8", "Timestamp"):
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
    cache: dict[tuple[str, int | None], list[Entity]]
    indexes: dict[tuple[str, str], dict[str, list[Entity]]] = field(default_factory=dict)
    returned: int = 0  # entities handed out so far, against MAX_ENTITIES

    def hand_out(self, count: int) -> None:
        self.returned += count
        if self.returned > MAX_ENTITIES:
            raise QueryError(
                f"the query returns more than {MAX_ENTITIES} entities in all: lower `first` on nested collections"
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


class SubgraphSchema:
    """Builds the graphql-core schema and executes queries against a Store."""

    def __init__(
        self,
        schema: EntitySchema,
        store: Store,
        meta: Callable[[], dict[str, Any]],
        block_hash: Callable[[int], str | None] | None = None,
    ) -> None:
        self.entities = schema
        self.store = store
        self._meta = meta
        self._block_hash = block_hash  # for `_meta(block:)` at blocks the store kept no hash for
        self.graphql_schema = self._build()

    # -- public -----------------------------------------------------------------------------------------------
    def execute(
        self, query: str, variables: dict[str, Any] | None = None, operation: str | None = None
    ) -> dict[str, Any]:
        from graphql import GraphQLError, graphql_sync, parse

        request = _Request(self.store, {})
        try:
            depth = _depth(parse(query, no_location=True))
        except GraphQLError as err:
            return {"errors": [err.formatted]}
        if depth > MAX_DEPTH:
            return {"errors": [{"message": f"the query nests selections more than {MAX_DEPTH} levels deep"}]}
        try:
            result = graphql_sync(
                self.graphql_schema, query, context_value=request, variable_values=variables, operation_name=operation
            )
        except GraphQLError as err:
            return {"errors": [err.formatted]}
        out: dict[str, Any] = {}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
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
        if arg.get("number") is not None:
            number = int(arg["number"])
            if indexed is None or number > indexed:
                raise QueryError(
                    f"Failed to decode `block.number` value: `subgraph {meta['deployment']} has only indexed up to "
                    f"block number {indexed} and data for block number {number} is therefore not yet available`"
                )
            return number
        if arg.get("number_gte") is not None:
            number = int(arg["number_gte"])
            if indexed is None or number > indexed:
                raise QueryError(
                    f"subgraph {meta['deployment']} has only indexed up to block number {indexed} "
                    f"and data for block number {number} is therefore not yet available"
                )
            return int(indexed)
        return int(indexed) if indexed is not None else None

    # -- filtering --------------------------------------------------------------------------------------------
    def _matches(
        self, etype: EntityType, data: Entity, where: dict[str, Any], block: int | None, req: _Request
    ) -> bool:
        for key, arg in where.items():
            if key == "and":
                if not all(self._matches(etype, data, w, block, req) for w in arg):
                    return False
                continue
            if key == "or":
                if not any(self._matches(etype, data, w, block, req) for w in arg):
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

    def _match_one(self, etype: EntityType, data: Entity, key: str, arg: Any, block: int | None, req: _Request) -> bool:
        ftype, op = self._field_and_op(etype, key)
        is_entity = self.entities.is_entity(ftype.base)
        if op == "_":  # nested entity filter
            target = self.entities.entity(ftype.base)
            related = self._related(etype, ftype, data, block, req)
            return any(self._matches(target, r, arg, block, req) for r in related)
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
        self, etype: EntityType, rows: list[Entity], args: dict[str, Any], block: int | None, req: _Request
    ) -> list[dict[str, Any]]:
        where = args.get("where") or {}
        if where:
            rows = [r for r in rows if self._matches(etype, r, where, block, req)]
        order_by = args.get("orderBy") or "id"
        descending = (args.get("orderDirection") or "asc") == "desc"
        keyfn = self._sort_key(etype, order_by, block, req)
        present = [r for r in rows if keyfn(r) is not None]
        missing = [r for r in rows if keyfn(r) is None]
        present.sort(key=lambda r: (keyfn(r), _id_of(r["id"])), reverse=descending)
        rows = (missing + present) if descending else (present + missing)
        first = args.get("first", 100)
        skip = args.get("skip", 0)
        if first is None or first < 0 or first > MAX_FIRST:
            raise QueryError(f"The `first` argument must be between 0 and {MAX_FIRST}, but is {first}")
        if skip is None or skip < 0:
            raise QueryError(f"The `skip` argument must be at least 0, but is {skip}")
        page = rows[skip : skip + first]
        req.hand_out(len(page))
        return [{"__entity": etype.name, "__block": block, "__data": r} for r in page]

    def _sort_key(self, etype: EntityType, order_by: str, block: int | None, req: _Request) -> Callable[[Entity], Any]:
        if "__" in order_by:
            rel, child = order_by.split("__", 1)
            ftype = etype.fields[rel]
            target = self.entities.entity(ftype.base)

            def nested(row: Entity) -> Any:
                related = self._related(etype, ftype, row, block, req)
                if not related:
                    return None
                return _sort_value(target.fields[child], related[0].get(child))

            return nested
        ftype = etype.fields[order_by]
        return lambda row: _sort_value(ftype, row.get(order_by))

    # -- schema -----------------------------------------------------------------------------------------------
    def _build(self) -> GraphQLSchema:
        import graphql as g

        def same(value: object) -> object:
            return value

        def literal(node: ValueNode, variables: dict[str, Any] | None = None) -> object:
            return g.value_from_ast_untyped(node, variables)

        def scalar(name: str) -> g.GraphQLScalarType:
            return g.GraphQLScalarType(name, serialize=same, parse_value=same, parse_literal=literal)

        scalars: dict[str, GraphQLScalarType] = {
            "ID": g.GraphQLID,
            "String": g.GraphQLString,
            "Int": g.GraphQLInt,
            "Boolean": g.GraphQLBoolean,
            **{n: scalar(n) for n in ("BigInt", "BigDecimal", "Bytes", "Int8", "Timestamp")},
        }
        enums = {
            n: g.GraphQLEnumType(n, {v: g.GraphQLEnumValue(v) for v in vals}) for n, vals in self.entities.enums.items()
        }
        order_direction = g.GraphQLEnumType("OrderDirection", {"asc": "asc", "desc": "desc"})
        error_policy = g.GraphQLEnumType("_SubgraphErrorPolicy_", {"allow": "allow", "deny": "deny"})
        block_height = g.GraphQLInputObjectType(
            "Block_height",
            {
                "hash": g.GraphQLInputField(scalars["Bytes"]),
                "number": g.GraphQLInputField(g.GraphQLInt),
                "number_gte": g.GraphQLInputField(g.GraphQLInt),
            },
        )
        block_changed = g.GraphQLInputObjectType(
            "BlockChangedFilter", {"number_gte": g.GraphQLInputField(g.GraphQLNonNull(g.GraphQLInt))}
        )
        objects: dict[str, g.GraphQLObjectType] = {}
        filters: dict[str, g.GraphQLInputObjectType] = {}
        order_enums: dict[str, g.GraphQLEnumType] = {}

        def leaf_type(base: str) -> GraphQLObjectType | GraphQLEnumType | GraphQLScalarType:
            return objects[base] if base in objects else enums.get(base) or scalars[base]

        def output_type(f: FieldType) -> GraphQLOutputType:
            t: GraphQLOutputType = leaf_type(f.base)
            if f.is_list:
                t = g.GraphQLList(g.GraphQLNonNull(t))
            return g.GraphQLNonNull(t) if f.non_null else t

        def collection_args(name: str, with_block: bool) -> dict[str, g.GraphQLArgument]:
            args = {
                "skip": g.GraphQLArgument(g.GraphQLInt, default_value=0),
                "first": g.GraphQLArgument(g.GraphQLInt, default_value=100),
                "orderBy": g.GraphQLArgument(order_enums[name]),
                "orderDirection": g.GraphQLArgument(order_direction),
                "where": g.GraphQLArgument(filters[name]),
            }
            if with_block:
                args["block"] = g.GraphQLArgument(block_height)
                args["subgraphError"] = g.GraphQLArgument(error_policy, default_value="deny")
            return args

        for name, etype in self.entities.entities.items():
            objects[name] = g.GraphQLObjectType(
                name,
                self._thunk(self._object_fields, etype, output_type, collection_args),
                description=etype.description,
            )
            filters[name] = g.GraphQLInputObjectType(
                f"{name}_filter", self._thunk(self._filter_fields, etype, leaf_type, filters, block_changed)
            )
            order_values: dict[str, Any] = {}
            for fname, f in etype.fields.items():
                order_values[fname] = g.GraphQLEnumValue(fname)
                if self.entities.is_entity(f.base) and not f.is_list and not f.is_derived:
                    for child, cf in self.entities.entity(f.base).fields.items():
                        if not cf.is_list and not self.entities.is_entity(cf.base):
                            order_values[f"{fname}__{child}"] = g.GraphQLEnumValue(f"{fname}__{child}")
            order_enums[name] = g.GraphQLEnumType(f"{name}_orderBy", order_values)

        query_fields: dict[str, g.GraphQLField] = {}
        for name, etype in self.entities.entities.items():
            query_fields[singular(name)] = g.GraphQLField(
                objects[name],
                args={
                    "id": g.GraphQLArgument(g.GraphQLNonNull(g.GraphQLID)),
                    "block": g.GraphQLArgument(block_height),
                    "subgraphError": g.GraphQLArgument(error_policy, default_value="deny"),
                },
                resolve=self._resolve_one(etype),
            )
            query_fields[plural(name)] = g.GraphQLField(
                g.GraphQLNonNull(g.GraphQLList(g.GraphQLNonNull(objects[name]))),
                args=collection_args(name, True),
                resolve=self._resolve_many(etype),
            )
        meta_block = g.GraphQLObjectType(
            "_Block_",
            {
                "hash": g.GraphQLField(scalars["Bytes"]),
                "number": g.GraphQLField(g.GraphQLNonNull(g.GraphQLInt)),
                "timestamp": g.GraphQLField(g.GraphQLInt),
                "parentHash": g.GraphQLField(scalars["Bytes"]),
            },
        )
        meta_type = g.GraphQLObjectType(
            "_Meta_",
            {
                "block": g.GraphQLField(g.GraphQLNonNull(meta_block)),
                "deployment": g.GraphQLField(g.GraphQLNonNull(g.GraphQLString)),
                "hasIndexingErrors": g.GraphQLField(g.GraphQLNonNull(g.GraphQLBoolean)),
            },
        )
        query_fields["_meta"] = g.GraphQLField(
            meta_type, args={"block": g.GraphQLArgument(block_height)}, resolve=self._resolve_meta
        )
        return g.GraphQLSchema(g.GraphQLObjectType("Query", query_fields))

    @staticmethod
    def _thunk(build: Callable[..., dict[str, Any]], *args: Any) -> Callable[[], dict[str, Any]]:
        """Fields built lazily, so entity types can refer to each other."""
        return lambda: build(*args)

    def _object_fields(
        self,
        etype: EntityType,
        output_type: Callable[[FieldType], GraphQLOutputType],
        collection_args: Callable[[str, bool], dict[str, GraphQLArgument]],
    ) -> dict[str, GraphQLField]:
        import graphql as g

        fields = {}
        for fname, f in etype.fields.items():
            if self.entities.is_entity(f.base) and f.is_list:
                fields[fname] = g.GraphQLField(
                    output_type(f), args=collection_args(f.base, False), resolve=self._resolve_list_relation(etype, f)
                )
            elif self.entities.is_entity(f.base):
                fields[fname] = g.GraphQLField(output_type(f), resolve=self._resolve_relation(etype, f))
            else:
                fields[fname] = g.GraphQLField(output_type(f), resolve=_scalar_resolver(fname))
        return fields

    def _filter_fields(
        self,
        etype: EntityType,
        leaf_type: Callable[[str], Any],  # a scalar or enum type for the fields filtered here
        filters: dict[str, GraphQLInputObjectType],
        block_changed: GraphQLInputObjectType,
    ) -> dict[str, GraphQLInputField]:
        import graphql as g

        out: dict[str, GraphQLInputField] = {}
        for fname, f in etype.fields.items():
            if self.entities.is_entity(f.base):
                out[f"{fname}_"] = g.GraphQLInputField(filters[f.base])
                if f.is_derived:
                    continue
                base = g.GraphQLString
            else:
                base = leaf_type(f.base)
            if f.is_list:
                lst = g.GraphQLList(g.GraphQLNonNull(base))
                for op in ("", "_not", "_contains", "_not_contains"):
                    out[fname + op] = g.GraphQLInputField(lst)
                if base is g.GraphQLString:
                    for op in ("_contains_nocase", "_not_contains_nocase"):
                        out[fname + op] = g.GraphQLInputField(lst)
                continue
            for op in ("", "_not", "_gt", "_lt", "_gte", "_lte"):
                out[fname + op] = g.GraphQLInputField(base)
            for op in ("_in", "_not_in"):
                out[fname + op] = g.GraphQLInputField(g.GraphQLList(g.GraphQLNonNull(base)))
            if f.base in ("String", "ID") or self.entities.is_entity(f.base):
                for stem in ("contains", "starts_with", "ends_with"):
                    for neg in ("", "not_"):
                        for nocase in ("", "_nocase"):
                            out[f"{fname}_{neg}{stem}{nocase}"] = g.GraphQLInputField(base)
            elif f.base == "Bytes":
                for op in ("_contains", "_not_contains"):
                    out[fname + op] = g.GraphQLInputField(base)
        out["_change_block"] = g.GraphQLInputField(block_changed)
        out["and"] = g.GraphQLInputField(g.GraphQLList(filters[etype.name]))
        out["or"] = g.GraphQLInputField(g.GraphQLList(filters[etype.name]))
        return out

    # -- resolvers --------------------------------------------------------------------------------------------
    def _resolve_one(self, etype: EntityType) -> Callable[..., Any]:
        def resolve(
            _root: object, info: GraphQLResolveInfo, id: str, block: _BlockHeight | None = None, **_: object
        ) -> _Node | None:
            number = self._block(block)
            if number is None:
                return None
            data = info.context.get(etype.name, id if etype.fields["id"].base != "Bytes" else id.lower(), number)
            return None if data is None else {"__entity": etype.name, "__block": number, "__data": data}

        return resolve

    def _resolve_many(self, etype: EntityType) -> Callable[..., Any]:
        def resolve(_root: object, info: GraphQLResolveInfo, **args: Any) -> Any:
            number = self._block(args.get("block"))
            if number is None:
                return []
            return self._collection(etype, info.context.all(etype.name, number), args, number, info.context)

        return resolve

    def _resolve_relation(self, etype: EntityType, f: FieldType) -> Callable[..., Any]:
        def resolve(parent: _Node, info: GraphQLResolveInfo) -> _Node | None:
            related = self._related(etype, f, parent["__data"], parent["__block"], info.context)
            if not related:
                return None
            return {"__entity": f.base, "__block": parent["__block"], "__data": related[0]}

        return resolve

    def _resolve_list_relation(self, etype: EntityType, f: FieldType) -> Callable[..., Any]:
        target = self.entities.entity(f.base)

        def resolve(parent: _Node, info: GraphQLResolveInfo, **args: Any) -> Any:
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


def _scalar_resolver(fname: str) -> Callable[..., Any]:
    def resolve(parent: _Node, _info: GraphQLResolveInfo) -> Any:
        return _to_output(parent["__data"].get(fname))

    return resolve


def _sort_value(ftype: FieldType, value: A.StoreValue | None) -> Any:
    if value is None or value[0] == A.SV_NULL:
        return None
    if value[0] == A.SV_ARRAY:
        return len(value[1])
    if isinstance(value[1], bytes):
        return value[1]
    return value[1]


def _compare(value: Any, op: str, want: Any, is_list: bool) -> bool:
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


def _fold(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


def _same(v: Any) -> Any:
    return v


def _depth(document: Any) -> int:
    """How deeply the selections of `document` nest, following fragment spreads (a cycle counts as too deep)."""
    from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode

    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def deepest(selection_set: Any, level: int, seen: frozenset[str]) -> int:
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
        (deepest(d.selection_set, 0, frozenset()) for d in document.definitions if hasattr(d, "selection_set")),
        default=0,
    )
