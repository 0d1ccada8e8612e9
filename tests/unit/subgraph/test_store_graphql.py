"""The versioned store and The Graph's query conventions, on an in-memory SQLite store (no sockets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fluence_dao.subgraph import (
    MAX_DEPTH,
    BigDecimal,
    BlockPtr,
    DynamicDataSource,
    Store,
    SubgraphMeta,
    SubgraphSchema,
    load_schema,
    plural,
)
from fluence_dao.subgraph import asc as A

SCHEMA = """
enum Kind { A B }
type Proposal @entity(immutable: false) {
  id: ID!
  title: String!
  weight: BigInt!
  ratio: BigDecimal
  tags: [String!]!
  kind: Kind!
  author: Account!
  votes: [Vote!]! @derivedFrom(field: "proposal")
}
type Account @entity(immutable: false) { id: ID! key: Bytes! proposals: [Proposal!]! @derivedFrom(field: "author") }
type Vote @entity(immutable: true) { id: ID! proposal: Proposal! weight: BigInt! }
"""


def s(v: str) -> A.StoreValue:
    return (A.SV_STRING, v)


def big(v: int) -> A.StoreValue:
    return (A.SV_BIGINT, v)


def proposal(
    pid: str, title: str, weight: int, author: str, tags: list[str], ratio: str | None = None
) -> dict[str, Any]:
    data = {
        "id": s(pid),
        "title": s(title),
        "weight": big(weight),
        "tags": (A.SV_ARRAY, [s(t) for t in tags]),
        "kind": s("A" if int(pid) % 2 else "B"),
        "author": s(author),
    }
    if ratio is not None:
        data["ratio"] = (A.SV_BIGDECIMAL, BigDecimal.parse(ratio))
    return data


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st = Store(":memory:")
    accounts = {
        ("Account", "0xaa"): {"id": s("0xaa"), "key": (A.SV_BYTES, b"\xaa\x01")},
        ("Account", "0xbb"): {"id": s("0xbb"), "key": (A.SV_BYTES, b"\xbb")},
    }
    st.commit_block(
        BlockPtr(10, "0x" + "10" * 32, 1000),
        {**accounts, ("Proposal", "1"): proposal("1", "Fee ünïcode", 2**70, "0xaa", ["x", "y"], "0.5")},
    )
    st.commit_block(
        BlockPtr(11, "0x" + "11" * 32, 1012),
        {
            ("Proposal", "2"): proposal("2", "Pin files", 5, "0xbb", ["y"]),
            ("Proposal", "1"): proposal("1", "Fee ünïcode", 2**70 + 1, "0xaa", ["x", "y"], "0.25"),
            ("Vote", "v1"): {"id": s("v1"), "proposal": s("1"), "weight": big(7)},
            ("Vote", "v2"): {"id": s("v2"), "proposal": s("2"), "weight": big(9)},
        },
    )
    st.commit_block(
        BlockPtr(12, "0x" + "12" * 32, 1024),
        {("Proposal", "3"): proposal("3", "Sunset", 100, "0xaa", []), ("Vote", "v2"): None},
    )
    return st


@pytest.fixture
def api(store: Store, tmp_path: Path) -> SubgraphSchema:
    return _schema(store, tmp_path)


def _schema(store: Store, tmp_path: Path, **options: int) -> SubgraphSchema:
    path = tmp_path / "schema.graphql"
    path.write_text(SCHEMA)

    def meta() -> SubgraphMeta:
        cursor = store.cursor()
        assert cursor is not None
        return {"deployment": "QmTest", "block": {"number": cursor.number, "hash": cursor.hash}, "has_errors": False}

    return SubgraphSchema(load_schema(path), store, meta, **options)


def data(api: SubgraphSchema, query: str) -> Any:
    reply = api.execute(query)
    assert "errors" not in reply, reply
    return reply["data"]


def test_versions_visible_per_block(store: Store) -> None:
    assert store.get("Proposal", "1", 10)["weight"] == big(2**70)
    assert store.get("Proposal", "1", 11)["weight"] == big(2**70 + 1)
    assert store.get("Proposal", "1")["weight"] == big(2**70 + 1)
    assert store.get("Vote", "v2", 11) is not None and store.get("Vote", "v2", 12) is None
    assert store.get("Proposal", "3", 11) is None
    assert store.cursor() == BlockPtr(12, "0x" + "12" * 32, 1024)


def test_revert_undoes_later_blocks(store: Store) -> None:
    store.commit_block(BlockPtr(13, "0x13", 1), {}, [DynamicDataSource("T", "0xcc", None, 13)])
    store.revert_to(BlockPtr(10, "0x" + "10" * 32, 1000))
    assert store.get("Proposal", "1")["weight"] == big(2**70)
    assert store.get("Proposal", "2") is None and store.get("Vote", "v1") is None
    assert store.data_sources() == []
    assert [b.number for b in store.recent_blocks()] == [10]
    assert store.cursor().number == 10


def test_decoded_entities_follow_writes(store: Store, tmp_path: Path) -> None:
    """The in-memory copies (latest versions, `all` lists) never show what the database no longer holds."""
    assert store.get("Proposal", "4") is None  # an absence is remembered too ...
    latest = store.all("Proposal")
    latest.clear()  # the caller's list: the next answer is whole
    assert sorted(p["id"][1] for p in store.all("Proposal")) == ["1", "2", "3"]
    assert len(store.all("Proposal", 11)) == 2
    store.commit_block(BlockPtr(13, "0x13", 1), {("Proposal", "4"): proposal("4", "New", 1, "0xbb", [])})
    assert store.get("Proposal", "4") is not None  # ... until a block writes it
    assert sorted(p["id"][1] for p in store.all("Proposal")) == ["1", "2", "3", "4"]
    store.revert_to(BlockPtr(11, "0x" + "11" * 32, 1012))
    assert store.get("Proposal", "4") is None and store.get("Proposal", "3") is None
    assert sorted(p["id"][1] for p in store.all("Proposal")) == ["1", "2"]
    reopened = Store(tmp_path / "x.sqlite")
    reopened.commit_block(BlockPtr(1, "0x01", 1), {("Proposal", "9"): proposal("9", "Disk", 1, "0xbb", [])})
    reopened.close()
    assert Store(tmp_path / "x.sqlite").get("Proposal", "9")["title"] == s("Disk")  # what was committed is on disk


def test_collections_filters_and_order(api: SubgraphSchema) -> None:
    d = data(
        api,
        """{ all: proposals { id }
             desc: proposals(orderBy: weight, orderDirection: desc) { id weight }
             paged: proposals(first: 1, skip: 1) { id }
             gt: proposals(where: {weight_gt: "99"}) { id }
             ins: proposals(where: {id_in: ["1", "3"], title_not: "Sunset"}) { id }
             text: proposals(where: {title_contains_nocase: "ÜNÏ"}) { id }
             starts: proposals(where: {title_starts_with: "Pin"}) { id }
             tags: proposals(where: {tags_contains: ["y"]}) { id }
             enum: proposals(where: {kind: A}) { id }
             nested: proposals(where: {author_: {key: "0xaa01"}}) { id }
             derived: proposals(where: {votes_: {weight_gt: "5"}}) { id }
             either: proposals(where: {or: [{weight_lt: "10"}, {title: "Sunset"}]}) { id }
             byAuthor: proposals(orderBy: author__id, orderDirection: desc) { id }
             ratio: proposals(where: {ratio_lt: "0.3"}) { id ratio } }""",
    )
    ids = lambda key: [p["id"] for p in d[key]]  # noqa: E731
    assert ids("all") == ["1", "2", "3"]
    assert d["desc"] == [
        {"id": "1", "weight": str(2**70 + 1)},
        {"id": "3", "weight": "100"},
        {"id": "2", "weight": "5"},
    ]
    assert ids("paged") == ["2"]
    assert ids("gt") == ["1", "3"]
    assert ids("ins") == ["1"]
    assert ids("text") == ["1"]
    assert ids("starts") == ["2"]
    assert ids("tags") == ["1", "2"]
    assert ids("enum") == ["1", "3"]
    assert ids("nested") == ["1", "3"]
    assert ids("derived") == ["1"]  # v1 (7) on proposal 1; v2 (9) on proposal 2 was removed at block 12
    assert ids("either") == ["2", "3"]
    assert ids("byAuthor")[0] == "2"
    assert d["ratio"] == [{"id": "1", "ratio": "0.25"}]


def test_block_argument_derived_fields_and_meta(api: SubgraphSchema) -> None:
    d = data(
        api,
        """{ old: proposal(id: "1", block: {number: 10}) { weight ratio author { id key proposals { id } } votes { id } }
             mid: proposal(id: "2", block: {number: 11}) { votes { id weight } }
             now: account(id: "0xaa") { proposals(orderBy: weight) { id } }
             missing: proposal(id: "9") { id }
             _meta { block { number hash } deployment hasIndexingErrors }
             past: _meta(block: {number: 10}) { block { number hash } } }""",
    )
    assert d["old"] == {
        "weight": str(2**70),
        "ratio": "0.5",
        "author": {"id": "0xaa", "key": "0xaa01", "proposals": [{"id": "1"}]},
        "votes": [],
    }
    assert d["mid"] == {"votes": [{"id": "v2", "weight": "9"}]}
    assert d["now"] == {"proposals": [{"id": "3"}, {"id": "1"}]}
    assert d["missing"] is None
    assert d["_meta"] == {
        "block": {"number": 12, "hash": "0x" + "12" * 32},
        "deployment": "QmTest",
        "hasIndexingErrors": False,
    }
    assert d["past"] == {"block": {"number": 10, "hash": "0x" + "10" * 32}}


def test_errors_have_the_graph_shape(api: SubgraphSchema) -> None:
    future = api.execute("{ proposals(block: {number: 50}) { id } }")
    assert "has only indexed up to block number 12 and data for block number 50" in future["errors"][0]["message"]
    assert future["errors"][0]["path"] == ["proposals"]
    unknown = api.execute("{ proposals { nope } }")
    assert unknown["errors"][0]["message"] == "Cannot query field 'nope' on type 'Proposal'."
    assert unknown["errors"][0]["locations"] == [{"line": 1, "column": 15}]
    too_many = api.execute("{ proposals(first: 5000) { id } }")
    assert "between 0 and 1000" in too_many["errors"][0]["message"]


@pytest.mark.parametrize(
    ("name", "expected"),
    # the plain rule (lower camel case + "s"), then the inflector's special endings: -es, consonant + y, -ium/-tum
    [(n, n[0].lower() + n[1:] + "s") for n in ("Proposal", "Referendum", "Delegate", "Day", "TokenHolder")]
    + [("Address", "addresses"), ("Entry", "entries"), ("Medium", "media"), ("Datum", "data")],
)
def test_plural(name: str, expected: str) -> None:
    assert plural(name) == expected


def test_referencing_scalar_and_list_fields(store: Store) -> None:
    assert sorted(e["id"][1] for e in store.referencing("Proposal", "author", "0xaa")) == ["1", "3"]
    assert [e["id"][1] for e in store.referencing("Proposal", "author", "0xaa", block=10)] == ["1"]
    assert [e["id"][1] for e in store.referencing("Vote", "proposal", "2", block=11)] == ["v2"]
    assert store.referencing("Vote", "proposal", "2") == []  # removed at block 12
    store.commit_block(
        BlockPtr(13, "0x13", 1),
        {("Account", "0xcc"): {"id": s("0xcc"), "key": (A.SV_BYTES, b""), "tags": (A.SV_ARRAY, [s("1"), s("2")])}},
    )
    assert [e["id"][1] for e in store.referencing("Account", "tags", "2")] == ["0xcc"]


def test_deep_queries_are_refused_before_they_run(api: SubgraphSchema) -> None:
    """Anyone on the machine may query the GraphQL endpoint: nesting is bounded (graph-node: GRAPH_GRAPHQL_MAX_DEPTH)."""
    nested = "author { proposals { " * 9 + "id" + " } }" * 9
    reply = api.execute("{ proposals { " + nested + " } }")
    assert reply["errors"][0]["message"] == f"the query nests selections more than {MAX_DEPTH} levels deep"
    cyclic = "query { proposals { ...F } } fragment F on Proposal { author { proposals { ...F } } }"
    assert "levels deep" in api.execute(cyclic)["errors"][0]["message"]
    assert "errors" not in api.execute("{ proposals { " + "author { proposals { " * 7 + "id" + " } }" * 7 + " } }")


def test_entities_one_query_returns_are_bounded(store: Store, tmp_path: Path) -> None:
    """Nested collections multiply (first x first x ...): the total a query hands out is capped."""
    api = _schema(store, tmp_path, max_entities=5)
    reply = api.execute("{ proposals { id votes { id } author { proposals { id } } } }")
    assert "more than 5 entities" in reply["errors"][0]["message"]
    assert data(api, "{ proposals(first: 2) { id } }") == {"proposals": [{"id": "1"}, {"id": "2"}]}
