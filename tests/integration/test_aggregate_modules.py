"""wasm/events and wasm/subgraph_client through the real host: eth_getLogs params and log decoding (malformed
logs refused with the log's index), and GraphQL requests against a server on 127.0.0.1 (errors made clear),
through curl_adapter with the peer's HTTP effector and with the system curl.
Topics are computed here with eth_utils, ids with int(), never by the modules under test."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils import keccak

from _helpers import QuietHandler, loopback_server
from fluence_dao.build import build_module
from fluence_dao.marine import MarineModule, MarineService, ModuleConfig

pytestmark = pytest.mark.integration

ADDRESS = "0x5fc8d32690cc91d4c39d9d3abcbd16989f875707"
VOTE = "0x" + keccak(text="VoteCast(uint256,address,bool,uint256)").hex()
CREATED = "0x" + keccak(text="ProposalCreated(uint256,address,string,uint256)").hex()


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> MarineModule:
    wasm = build_module("events", tmp_path_factory.mktemp("wasm")).read_bytes()
    return MarineModule.load(wasm, ModuleConfig(name="events"))


def _log(pid: int, block: int, topic: str = VOTE, address: str = ADDRESS) -> dict[str, Any]:
    return {"address": address, "topics": [topic, f"0x{pid:064x}"], "blockNumber": hex(block), "data": "0x"}


def test_topic_and_params(events: MarineModule) -> None:
    assert events.call("topic", ["VoteCast(uint256,address,bool,uint256)"])["value"] == VOTE
    got = events.call("get_logs_params", [ADDRESS, [CREATED, VOTE], "16", "0x20"])
    assert got["success"], got["error"]
    assert json.loads(got["value"]) == [
        {"address": ADDRESS, "fromBlock": "0x10", "toBlock": "0x20", "topics": [[CREATED, VOTE]]}
    ]
    assert not events.call("get_logs_params", [ADDRESS, [VOTE], "9", "8"])["success"]
    assert not events.call("get_logs_params", ["0x12", [VOTE], "1", "8"])["success"]
    assert events.call("block_range", ["", "0x5", ""]) == {
        "success": True, "error": "", "from_block": "0", "to_block": "5", "empty": False,
    }  # fmt: skip
    assert events.call("block_range", ["5", "0x5", ""])["empty"] is True
    lagging = events.call("block_range", ["2", "0x9", "6"])  # the subgraph has indexed up to block 6
    assert (lagging["from_block"], lagging["to_block"], lagging["empty"]) == ("3", "6", False)
    assert events.call("block_range", ["6", "0x9", "6"])["empty"] is True


def test_decode_logs_dedupes_in_order(events: MarineModule) -> None:
    big = 2**200 + 7
    logs = [_log(3, 10, CREATED), _log(3, 11), _log(big, 12), _log(1, 12), _log(3, 13)]
    got = events.call("decode_logs", [json.dumps(logs), ADDRESS.upper().replace("0X", "0x"), [CREATED, VOTE]])
    assert got["success"], got["error"]
    assert got["ids"] == ["3", str(big), "1"] and got["count"] == 3 and got["last_block"] == "13"
    removed = [_log(4, 10), {**_log(5, 11), "removed": True}]
    assert events.call("decode_logs", [json.dumps(removed), ADDRESS, [VOTE]])["ids"] == ["4"]


@pytest.mark.parametrize(
    ("logs", "needle"),
    [
        ("not json", "not JSON"),
        ('{"a": 1}', "not a list"),
        (json.dumps([_log(1, 1), {"address": ADDRESS, "topics": [VOTE], "blockNumber": "0x1"}]), "log 1"),
        (json.dumps([{**_log(1, 1), "topics": [VOTE, "0x12"]}]), "32-byte"),
        (json.dumps([_log(1, 1, address="0x" + "22" * 20)]), "another address"),
        (json.dumps([_log(1, 1, topic="0x" + "ab" * 32)]), "unexpected event topic"),
        (json.dumps([{**_log(1, 1), "blockNumber": "zz"}]), "blockNumber"),
    ],
)
def test_malformed_logs_are_refused(events: MarineModule, logs: str, needle: str) -> None:
    got = events.call("decode_logs", [logs, ADDRESS, [VOTE]])
    assert not got["success"] and needle in got["error"] and got["ids"] == []


@pytest.fixture(scope="module")
def graphql() -> Iterator[tuple[str, list[Any]]]:
    seen: list[Any] = []

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            request = json.loads(self.body())
            seen.append(request)
            if self.path.endswith("?status=502"):
                self.reply(b"bad gateway body", 502)
                return
            pid = request.get("variables", {}).get("id")
            if "_meta" in request["query"]:
                answer: Any = {"data": {"_meta": {"block": {"number": 4242}}}}
            elif pid == "404":
                answer = {"data": {"proposal": None}}
            elif pid == "err":
                answer = {"errors": [{"message": "store error: database locked"}]}
            else:
                answer = {"data": {"proposal": {"id": pid, "forVotes": "18446744073709551617", "closed": True}}}
            self.reply(json.dumps(answer).encode())

    with loopback_server(Handler) as server:
        yield f"http://127.0.0.1:{server.server_port}/subgraphs/name/demo", seen


@pytest.fixture(scope="module", params=["effector", "curl"])
def client(
    request: pytest.FixtureRequest, graphql: tuple[str, list[Any]], tmp_path_factory: pytest.TempPathFactory,
    require: Any,
) -> Iterator[MarineService]:  # fmt: skip
    from fluence_dao.peer.http_effector import HttpEffector

    effector = HttpEffector({graphql[0]: {}, "http://127.0.0.1:9": {}})
    curl: Any = effector
    if request.param == "curl":
        curl = shutil.which("curl")
        require(curl, "curl is not installed")
    out = tmp_path_factory.mktemp("wasm")
    yield MarineService(
        [
            (ModuleConfig(name="curl_adapter", mounted_binaries={"curl": curl}),
             build_module("curl_adapter", out).read_bytes()),
            (ModuleConfig(name="subgraph_client"), build_module("subgraph_client", out).read_bytes()),
        ]
    )  # fmt: skip
    effector.close()


def test_fetch_entity(client: MarineService, graphql: tuple[str, list[Any]]) -> None:
    url, seen = graphql
    got = client.call("fetch", [url, "proposal", 'a"b', "id forVotes closed", 5])
    assert got["success"], got["error"]
    assert json.loads(got["value"]) == {"id": 'a"b', "forVotes": "18446744073709551617", "closed": True}
    assert seen[-1] == {
        "query": "query($id: ID!) { proposal(id: $id) { id forVotes closed } }",
        "variables": {"id": 'a"b'},
    }


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["proposal", "404", "id"], "subgraph has no proposal 404"),
        (["proposal", "err", "id"], "database locked"),
        (["proposal(id: 1) { x } #", "1", "id"], "not a GraphQL field name"),
        (["proposal", "1", "id } evil: proposals { id"], "may hold only names"),
    ],
)
def test_fetch_errors_are_clear(
    client: MarineService, graphql: tuple[str, list[Any]], args: list[str], needle: str
) -> None:
    got = client.call("fetch", [graphql[0], *args, 5])
    assert not got["success"] and needle in got["error"]


def test_fetch_endpoint_down(client: MarineService) -> None:
    got = client.call("fetch", ["http://127.0.0.1:9/graphql", "proposal", "1", "id", 2])
    assert not got["success"] and "subgraph request for proposal 1 failed: curl exited with 7" in got["error"]


def test_indexed_block(client: MarineService, graphql: tuple[str, list[Any]]) -> None:
    got = client.call("indexed_block", [graphql[0], 5])
    assert got == {"success": True, "error": "", "value": "4242"}
    down = client.call("indexed_block", ["http://127.0.0.1:9/graphql", 2])
    assert not down["success"] and "_meta failed: curl exited with 7" in down["error"]


def test_an_http_error_carries_the_status_and_body(client: MarineService, graphql: tuple[str, list[Any]]) -> None:
    got = client.call("fetch", [graphql[0] + "?status=502", "proposal", "1", "id", 5])
    assert not got["success"] and "curl exited with 22" in got["error"] and "bad gateway body" in got["error"]
