"""The runner's JSON-RPC client: batches against real anvil, and a node that takes no batches (a fake: every
node here takes them) gets the calls one by one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from _helpers import QuietHandler, loopback_server
from fluence_dao.errors import SubgraphError
from fluence_dao.subgraph import EthRpc

pytestmark = pytest.mark.integration


def test_batches_match_single_calls(devnet: Any) -> None:
    rpc = EthRpc(devnet.rpc_url)
    head = rpc.block_number()
    numbers = [*range(max(0, head - 3), head + 1), head + 1000]
    assert rpc.blocks(numbers, True) == [rpc.block(n, True) for n in numbers]  # the last one: None
    with pytest.raises(SubgraphError, match="eth_getBlockByNumber"):
        rpc.batch("eth_getBlockByNumber", [["0x0", False], ["not a block", False]])


class FakeNodeWithoutBatches(QuietHandler):
    calls: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.body())
        self.calls.append(body)
        if isinstance(body, list):
            reply: Any = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batches not supported"}}
        else:
            reply = {"jsonrpc": "2.0", "id": body["id"], "result": {"number": body["params"][0], "hash": "0x01"}}
        self.reply(json.dumps(reply).encode(), content_type="application/json")


@pytest.fixture
def fake_node() -> Iterator[str]:
    with loopback_server(FakeNodeWithoutBatches) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


def test_a_node_without_batches_gets_single_calls(fake_node: str) -> None:
    FakeNodeWithoutBatches.calls.clear()
    blocks = EthRpc(fake_node).blocks([5, 6], True)
    assert [b["number"] for b in blocks if b] == ["0x5", "0x6"]
    assert isinstance(FakeNodeWithoutBatches.calls[0], list) and len(FakeNodeWithoutBatches.calls) == 3
