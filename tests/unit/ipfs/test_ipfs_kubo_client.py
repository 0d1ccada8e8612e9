"""KuboClient request shapes and error mapping, with httpx.MockTransport (no sockets)."""

from __future__ import annotations

import json

import httpx
import pytest

from fluence_dao.errors import BlockCorruptedError, BlockNotFoundError, KuboRpcError
from fluence_dao.ipfs import Cid, KuboClient

HELLO = Cid.parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")


def client_for(handler: object) -> KuboClient:
    return KuboClient("http://127.0.0.1:5001", timeout_s=2, transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_requests_are_posts_with_query_args_and_multipart() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text=json.dumps({"Name": "x", "Hash": str(HELLO), "Size": "20"}) + "\n")

    entry = client_for(handler).add_bytes(b"hello world\n", name="x", cid_version=1, raw_leaves=False, pin=False)
    assert entry.cid == HELLO and entry.size == 20 and entry.name == "x"
    request = seen[0]
    assert request.method == "POST" and request.url.path == "/api/v0/add"
    assert dict(request.url.params) == {"cid-version": "1", "pin": "false", "progress": "false", "raw-leaves": "false"}
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = request.read()
    assert b'name="file"; filename="x"' in body and b"hello world\n" in body


def test_kubo_error_names_endpoint_and_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"Message": "pin: invalid path", "Code": 0, "Type": "error"})

    with pytest.raises(KuboRpcError) as info:
        client_for(handler).pin_add(HELLO)
    err = info.value
    assert err.details["endpoint"] == "pin/add" and err.details["kubo_message"] == "pin: invalid path"
    assert "pin/add" in err.message and "pin: invalid path" in err.message and "127.0.0.1:5001" in err.message


def test_not_found_maps_to_block_not_found_with_the_cid() -> None:
    message = f"block was not found locally (offline): ipld: could not find {HELLO}"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"Message": message, "Code": 0, "Type": "error"})

    with pytest.raises(BlockNotFoundError) as info:
        client_for(handler).block_get(HELLO)
    assert info.value.details["cid"] == str(HELLO)


def test_block_get_verifies_the_bytes() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not hello")

    with pytest.raises(BlockCorruptedError, match=str(HELLO)):
        client_for(handler).block_get(HELLO)


def test_404_says_it_may_not_be_kubo() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="404 page not found")

    with pytest.raises(KuboRpcError, match="Kubo RPC API"):
        client_for(handler).version()


def test_connection_and_timeout_errors_are_wrapped() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(KuboRpcError, match="cannot connect") as info:
        client_for(refuse).id()
    assert info.value.details["cause"] == "ConnectError"
    with pytest.raises(KuboRpcError, match="timed out after 2"):
        client_for(slow).cat(HELLO)


def test_streamed_error_line_is_raised() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        lines = [{"Key": {"/": str(HELLO)}}, {"Message": "gc failed: disk", "Code": 0, "Type": "error"}]
        return httpx.Response(200, text="\n".join(json.dumps(line) for line in lines))

    with pytest.raises(KuboRpcError, match="gc failed"):
        client_for(handler).repo_gc()


def test_block_put_checks_the_returned_cid() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"Key": str(Cid.for_data(b"other")), "Size": 3})

    with pytest.raises(KuboRpcError, match="expected"):
        client_for(handler).block_put(b"abc")


def test_api_url_forms() -> None:
    assert KuboClient("http://127.0.0.1:5001/api/v0/").api_url == "http://127.0.0.1:5001"
    with pytest.raises(KuboRpcError, match="invalid Kubo API URL"):
        KuboClient("127.0.0.1:5001")
