"""The runner's JSON-RPC client: batches against real anvil, and a node that takes no batches (a fake: every
node here takes them) gets the calls one by one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from fluence_dao.subgraph import EthRpc
from fluence_dao.subgraph._rpc import RpcError

pytestmark = pytest.mark.integration


def test_batches_match_single_calls(devnet: Any) -> None:
    rpc = EthRpc(devnet.rpc_url)
    head = rpc.block_number()
    numbers = [*range(max(0, head - 3), head + 1), head + 1000]
    assert rpc.blocks(numbers, True) == [rpc.block(n, True) for n in numbers]  # the last one: None
    with pytest.raises(RpcError, match="eth_getBlockByNumber"):
        rpc.batch("eth_getBlockByNumber", [["0x0", False], ["not a block", False]])


class FakeNodeWithoutBatches(BaseHTTPRequestHandler):
    calls: ClassVar[list[Any]] = []

    def log_message(self, fmt: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append(body)
        if isinstance(body, list):
            reply: Any = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batches not supported"}}
        else:
            reply = {"jsonrpc": "2.0", "id": body["id"], "result": {"number": body["params"][0], "hash": "0x01"}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake_node() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNodeWithoutBatches)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_node_without_batches_gets_single_calls(fake_node: str) -> None:
    FakeNodeWithoutBatches.calls.clear()
    blocks = EthRpc(fake_node).blocks([5, 6], True)
    assert [b["number"] for b in blocks if b] == ["0x5", "0x6"]
    assert isinstance(FakeNodeWithoutBatches.calls[0], list) and len(FakeNodeWithoutBatches.calls) == 3
