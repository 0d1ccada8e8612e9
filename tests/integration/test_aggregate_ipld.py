"""wasm/ipld (with curl_adapter and the system curl) against fluence_dao.ipfs: its DAG-CBOR equals the Python
codec byte for byte, and tree updates through KuboServer's dag/put and dag/get copy only changed paths."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluence_dao.build import build_module
from fluence_dao.ipfs import DAG_CBOR, Cid, KuboServer, LocalIpfs, decode_dag_cbor, encode_dag_cbor
from fluence_dao.marine import MarineService, ModuleConfig

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ipld(tmp_path_factory: pytest.TempPathFactory) -> MarineService:
    curl = shutil.which("curl")
    if curl is None:
        import os

        if os.environ.get("CI"):
            pytest.fail("curl is required in CI")
        pytest.skip("curl not installed")
    out = tmp_path_factory.mktemp("wasm")
    curl_wasm = build_module("curl_adapter", out).read_bytes()
    ipld_wasm = build_module("ipld", out).read_bytes()
    return MarineService(
        [
            (ModuleConfig(name="curl_adapter", mounted_binaries={"curl": curl}), curl_wasm),
            (ModuleConfig(name="ipld"), ipld_wasm),
        ]
    )


@pytest.fixture()
def kubo(tmp_path: Path) -> Iterator[tuple[LocalIpfs, str]]:
    node = LocalIpfs(tmp_path / "repo")
    # the module's dag/put through the mounted curl carries no token (no host injects one here); the token is
    # tested in tests/security/test_ipfs_auth.py
    server = KuboServer(node, allow_unauthenticated_writes=True).start()
    try:
        yield node, server.url
    finally:
        server.stop()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=14,
)


def _has_slash_map(value: Any) -> bool:
    if isinstance(value, dict):
        return list(value) == ["/"] or any(_has_slash_map(v) for v in value.values())
    return isinstance(value, list) and any(_has_slash_map(v) for v in value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_dag_cbor_matches_python_codec(ipld: MarineService, value: Any) -> None:
    if _has_slash_map(value):
        return  # a one-key "/" map is a link or bytes in DAG-JSON, not a map
    got = ipld.call("dag_cbor", [json.dumps(value)])
    assert got["success"], got["error"]
    assert got["value"] == encode_dag_cbor(value).hex()
    cid = ipld.call("cid_of", [json.dumps(value)])["value"]
    assert cid == str(Cid.for_data(encode_dag_cbor(value), DAG_CBOR))


def test_links_and_bytes_match_python_codec(ipld: MarineService) -> None:
    target = Cid.parse(ipld.call("cid_of", ['{"a":1}'])["value"])
    text = json.dumps({"x": {"/": str(target)}, "b": {"/": {"bytes": "AAEC/w"}}, "n": [-1, 24, 256, 65536]})
    got = ipld.call("dag_cbor", [text])
    assert got["success"], got["error"]
    expected = encode_dag_cbor({"x": target, "b": b"\x00\x01\x02\xff", "n": [-1, 24, 256, 65536]})
    assert got["value"] == expected.hex()
    assert decode_dag_cbor(bytes.fromhex(got["value"]))["x"] == target


@pytest.mark.parametrize(
    ("text", "needle"),
    [("1.5", "float"), ('{"a":1e3}', "integer"), (str(2**64), "64 bits"), ('{"/": 3}', "link"), ("{", "JSON")],
)
def test_bad_values_are_refused(ipld: MarineService, text: str, needle: str) -> None:
    got = ipld.call("dag_cbor", [text])
    assert not got["success"]
    assert needle in got["error"]


def _items(n: int, start: int = 0, tag: str = "v1") -> list[dict[str, str]]:
    return [
        {"id": str(i), "content": json.dumps({"id": str(i), "state": tag, "votes": i * 3})} for i in range(start, n)
    ]


def test_update_writes_only_changed_paths(ipld: MarineService, kubo: tuple[LocalIpfs, str]) -> None:
    node, url = kubo
    first = ipld.call("update", [url, "", "gov", "p1", _items(5)])
    assert first["success"], first["error"]
    assert sorted(first["changed"]) == [str(i) for i in range(5)]
    assert len(first["written"]) == 5 + 3
    root1 = first["root"]
    assert {str(c) for c in node.pin_ls(type="recursive")} == {root1}
    tree = node.dag_get(root1)
    proto = node.dag_get(f"{root1}/templates/gov/protocols/p1")
    assert set(tree) == {"templates"} and set(proto["items"]) == {str(i) for i in range(5)}
    for i in range(5):
        assert node.dag_get(f"{root1}/templates/gov/protocols/p1/items/{i}") == {
            "id": str(i),
            "state": "v1",
            "votes": i * 3,
        }
    # each CID the module reported is the Python codec's CID of the stored block
    for cid in first["written"]:
        assert str(Cid.parse(cid)) == cid and node.block_get(cid) == encode_dag_cbor(node.dag_get(cid))

    # the same items again: nothing written, same root
    again = ipld.call("update", [url, root1, "gov", "p1", _items(5)])
    assert again["success"] and again["root"] == root1 and again["written"] == [] and again["changed"] == []

    # two new items and one changed: 3 items + protocol + template + root blocks
    changed = [*_items(7, 5), {"id": "2", "content": json.dumps({"id": "2", "state": "v2", "votes": 6})}]
    second = ipld.call("update", [url, root1, "gov", "p1", changed])
    assert second["success"], second["error"]
    assert sorted(second["changed"]) == ["2", "5", "6"] and len(second["written"]) == 6
    root2 = second["root"]
    assert root2 != root1
    assert set(node.dag_get(f"{root2}/templates/gov/protocols/p1")["items"]) == {str(i) for i in range(7)}
    assert set(node.dag_get(f"{root1}/templates/gov/protocols/p1")["items"]) == {str(i) for i in range(5)}
    old_items = node.dag_get(f"{root1}/templates/gov/protocols/p1")["items"]
    new_items = node.dag_get(f"{root2}/templates/gov/protocols/p1")["items"]
    assert [k for k in old_items if old_items[k] != new_items[k]] == ["2"]

    # a second protocol leaves p1's subtree CID unchanged
    third = ipld.call("update", [url, root2, "gov", "p2", _items(1)])
    assert third["success"], third["error"]
    p1_before = node.dag_get(f"{root2}/templates/gov")["protocols"]["p1"]
    assert node.dag_get(f"{third['root']}/templates/gov")["protocols"]["p1"] == p1_before

    # roots are pinned: garbage collection keeps every version of the tree
    node.repo_gc()
    for root, count in ((root1, 5), (root2, 7)):
        items = node.dag_get(f"{root}/templates/gov/protocols/p1")["items"]
        assert len(items) == count and all(node.block_get(cid) for cid in items.values())

    got = ipld.call("get", [url, third["root"], "templates/gov/protocols/p1/items/2"])
    assert got["success"], got["error"]
    assert json.loads(got["value"]) == {"id": "2", "state": "v2", "votes": 6}


def test_update_failures_name_the_step(ipld: MarineService, kubo: tuple[LocalIpfs, str]) -> None:
    _, url = kubo
    bad = ipld.call("update", [url, "", "gov", "p1", [{"id": "1", "content": '{"x": 1.5}'}]])
    assert not bad["success"] and "item 1" in bad["error"] and "float" in bad["error"]
    missing = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
    gone = ipld.call("update", [url, missing, "gov", "p1", _items(1)])
    assert not gone["success"] and f"dag/get {missing}" in gone["error"]
    down = ipld.call("update", ["http://127.0.0.1:9", "", "gov", "p1", _items(1)])
    assert not down["success"] and "IPFS dag/put" in down["error"] and "curl exited" in down["error"]


def test_nodes_above_one_curl_argument_travel_in_pieces(ipld: MarineService, kubo: tuple[LocalIpfs, str]) -> None:
    """A 300 KB item (more than Linux's 128 KiB per exec argument), with multi-byte characters and "@" at
    every position, is stored byte-exact; beyond the total limit the error says so."""
    node, url = kubo
    text = "".join("a@é€𝄞"[i % 5] for i in range(150_000))
    got = ipld.call("update", [url, "", "gov", "p1", [{"id": "1", "content": json.dumps({"text": text})}]])
    assert got["success"], got["error"]
    assert node.dag_get(f"{got['root']}/templates/gov/protocols/p1/items/1") == {"text": text}
    huge = [{"id": "2", "content": json.dumps({"text": "x" * 1_700_000})}]
    refused = ipld.call("update", [url, "", "gov", "p1", huge])
    assert not refused["success"] and "limit of curl's arguments" in refused["error"]
