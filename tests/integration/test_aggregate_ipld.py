"""wasm/ipld (with curl_adapter) against fluence_dao.ipfs: its DAG-CBOR equals the Python codec byte for byte,
and tree updates through KuboServer's dag/put and dag/get copy only changed paths — with the peer's HTTP
effector as curl (the server's API token injected by the host) and with the system curl (as on nox)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluence_dao.build import build_module
from fluence_dao.ipfs import DAG_CBOR, Cid, KuboServer, LocalIpfs, decode_dag_cbor, encode_dag_cbor
from fluence_dao.marine import MarineService, ModuleConfig
from fluence_dao.peer.http_effector import HttpEffector

pytestmark = pytest.mark.integration

TOKEN = "ipld-test-token-0123456789abcdef"
#: The effector's allowlist (origin -> injected headers), read on every request: `tree` sets it per test.
ALLOWED: dict[str, dict[str, str]] = {}


def _service(out: Path, curl: Any) -> MarineService:
    return MarineService(
        [
            (
                ModuleConfig(name="curl_adapter", mounted_binaries={"curl": curl}),
                build_module("curl_adapter", out).path,
            ),
            (ModuleConfig(name="ipld"), build_module("ipld", out).path),
        ]
    )


@pytest.fixture(scope="module")
def ipld(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MarineService]:
    effector = HttpEffector(lambda: ALLOWED)
    yield _service(tmp_path_factory.mktemp("wasm"), effector)
    effector.close()


@pytest.fixture(scope="module")
def ipld_with_curl(tmp_path_factory: pytest.TempPathFactory, require: Any) -> MarineService:
    curl = shutil.which("curl")
    require(curl, "curl is not installed")
    return _service(tmp_path_factory.mktemp("wasm"), curl)


@dataclass
class Tree:
    service: MarineService
    node: LocalIpfs
    url: str


@pytest.fixture(params=["effector", "curl"])
def tree(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tree]:
    """ipld on a KuboServer: through the effector (the server wants a token; the host adds it for this origin
    only) or through the system curl (as on nox: the server allows unauthenticated writes, curl has no token)."""
    node = LocalIpfs(tmp_path / "repo")
    if request.param == "effector":
        service = request.getfixturevalue("ipld")
        server = KuboServer(node, auth_token=TOKEN).start()
        ALLOWED.clear()
        ALLOWED.update({server.url: {"Authorization": f"Bearer {TOKEN}"}, "http://127.0.0.1:9": {}})
    else:
        service = request.getfixturevalue("ipld_with_curl")
        server = KuboServer(node, allow_unauthenticated_writes=True).start()
    try:
        yield Tree(service, node, server.url)
    finally:
        server.stop()
        ALLOWED.clear()


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


def test_update_writes_only_changed_paths(tree: Tree) -> None:
    ipld, node, url = tree.service, tree.node, tree.url
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


def test_update_failures_name_the_step(tree: Tree) -> None:
    ipld, url = tree.service, tree.url
    bad = ipld.call("update", [url, "", "gov", "p1", [{"id": "1", "content": '{"x": 1.5}'}]])
    assert not bad["success"] and "item 1" in bad["error"] and "float" in bad["error"]
    missing = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
    gone = ipld.call("update", [url, missing, "gov", "p1", _items(1)])
    assert not gone["success"] and f"dag/get {missing}" in gone["error"]
    down = ipld.call("update", ["http://127.0.0.1:9", "", "gov", "p1", _items(1)])
    assert not down["success"] and "IPFS dag/put" in down["error"] and "curl exited with 7" in down["error"]


def test_the_host_decides_origins_and_credentials(ipld: MarineService, tmp_path: Path) -> None:
    """Through the effector: an API outside the allowlist is never dialled; without the host's token the
    server refuses the write (ipld itself cannot send one)."""
    node = LocalIpfs(tmp_path / "repo")
    with KuboServer(node, auth_token=TOKEN) as server:
        ALLOWED.clear()
        outside = ipld.call("update", [server.url, "", "gov", "p1", _items(1)])
        assert not outside["success"] and "not in this peer's HTTP allowlist" in outside["error"]
        ALLOWED[server.url] = {}
        no_token = ipld.call("update", [server.url, "", "gov", "p1", _items(1)])
        assert not no_token["success"] and "curl exited with 22" in no_token["error"]
        ALLOWED[server.url] = {"Authorization": f"Bearer {TOKEN}"}
        written = ipld.call("update", [server.url, "", "gov", "p1", _items(1)])
        assert written["success"], written["error"]
        assert node.dag_get(f"{written['root']}/templates/gov/protocols/p1/items/0")["id"] == "0"
    ALLOWED.clear()


def test_nodes_above_one_curl_argument_travel_in_pieces(tree: Tree) -> None:
    """A 300 KB item (more than Linux's 128 KiB per exec argument), with multi-byte characters and "@" at
    every position, is stored byte-exact; beyond the total limit the error says so."""
    ipld, node, url = tree.service, tree.node, tree.url
    text = "".join("a@é€𝄞"[i % 5] for i in range(150_000))
    got = ipld.call("update", [url, "", "gov", "p1", [{"id": "1", "content": json.dumps({"text": text})}]])
    assert got["success"], got["error"]
    assert node.dag_get(f"{got['root']}/templates/gov/protocols/p1/items/1") == {"text": text}
    huge = [{"id": "2", "content": json.dumps({"text": "x" * 1_700_000})}]
    refused = ipld.call("update", [url, "", "gov", "p1", huge])
    assert not refused["success"] and "limit of curl's arguments" in refused["error"]
