"""wasm/curl_adapter through the real host against a JSON-RPC / HTTP server on 127.0.0.1 that this test runs
(http.server in a thread), with each `curl` a peer may mount: the peer's HTTP effector and the system curl (as
on nox), so the module's one canonical argument form is proven on both; refused when curl is not allowed."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import QuietHandler, loopback_server
from fluence_dao.build import build_module
from fluence_dao.errors import MountedBinaryError
from fluence_dao.marine import MarineModule, ModuleConfig
from fluence_dao.peer.http_effector import HttpEffector

pytestmark = pytest.mark.integration


@dataclass
class RpcServer:
    url: str
    requests: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    raw: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)  # method, path, headers, body

    @property
    def origin(self) -> str:
        return self.url.rsplit("/", 1)[0]


def _answer(request: Any) -> Any:
    method, params, rid = request.get("method"), request.get("params"), request.get("id")
    if method == "eth_chainId":
        return {"jsonrpc": "2.0", "id": rid, "result": "0x7a69"}
    if method == "echo":
        return {"jsonrpc": "2.0", "id": rid, "result": params}
    if method == "wrong_id":
        return {"jsonrpc": "2.0", "id": (rid or 0) + 1000, "result": "0x0"}
    if method == "not_json":
        return b"<html>gateway error</html>"
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": f"method {method} not found"}}


@pytest.fixture(scope="module")
def rpc_server() -> Iterator[RpcServer]:
    server_state = RpcServer(url="")

    class Handler(QuietHandler):
        def _plain(self) -> None:
            """/plain?status=N&sleep=S: echoes method, headers and body as JSON with status N."""
            body = self.body()
            server_state.raw.append((self.command, self.path, dict(self.headers), body))
            query = dict(p.split("=", 1) for p in self.path.partition("?")[2].split("&") if "=" in p)
            time.sleep(float(query.get("sleep", "0")))
            out = json.dumps({"method": self.command, "body": body.decode(), "headers": dict(self.headers)}).encode()
            self.reply(out, int(query.get("status", "200")))

        do_GET = do_PUT = do_DELETE = do_PATCH = _plain

        def do_POST(self) -> None:
            if self.path.startswith("/plain"):
                self._plain()
                return
            request = json.loads(self.body())
            server_state.requests.append((dict(self.headers), request))
            answer = _answer(request)
            out = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.reply(out, content_type="application/json")

    with loopback_server(Handler) as server:
        server_state.url = f"http://127.0.0.1:{server.server_port}/rpc"
        yield server_state


@pytest.fixture(scope="module")
def curl_adapter_wasm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build_module("curl_adapter", tmp_path_factory.mktemp("wasm")).read_bytes()


@pytest.fixture(scope="module")
def system_curl() -> str:
    curl = shutil.which("curl")
    if curl is None:
        import os

        if os.environ.get("CI"):
            pytest.fail("curl is required in CI (apt-get install curl)")
        pytest.skip("curl not installed")
    return curl


@pytest.fixture(scope="module", params=["effector", "system curl"])
def adapter(request: pytest.FixtureRequest, curl_adapter_wasm: bytes, rpc_server: RpcServer) -> Iterator[MarineModule]:
    effector = HttpEffector({rpc_server.origin: {}, "http://127.0.0.1:1": {}})
    curl: Any = effector if request.param == "effector" else request.getfixturevalue("system_curl")
    yield MarineModule.load(curl_adapter_wasm, ModuleConfig(name="curl_adapter", mounted_binaries={"curl": curl}))
    effector.close()


def test_eth_rpc_round_trip(adapter: MarineModule, rpc_server: RpcServer) -> None:
    before = len(rpc_server.requests)
    result = adapter.call("eth_rpc", [rpc_server.url, "eth_chainId", "[]"])
    assert result["error"] == ""
    assert result["result"] == "0x7a69"
    assert result["jsonrpc"] == "2.0"
    headers, request = rpc_server.requests[before]
    assert headers["Content-Type"] == "application/json"
    assert request == {"jsonrpc": "2.0", "id": result["id"], "method": "eth_chainId", "params": []}


def test_request_ids_increase(adapter: MarineModule, rpc_server: RpcServer) -> None:
    first = adapter.call("eth_rpc", [rpc_server.url, "eth_chainId", ""])["id"]
    second = adapter.call("eth_rpc", [rpc_server.url, "eth_chainId", ""])["id"]
    assert second == first + 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.text(min_size=1, max_size=30), params=st.lists(json_values, max_size=4))
def test_method_and_params_are_escaped_and_passed_exactly(
    adapter: MarineModule, rpc_server: RpcServer, method: str, params: list[Any]
) -> None:
    """Any method name (quotes, backslashes, control characters, unicode) and params reach the server intact."""
    before = len(rpc_server.requests)
    adapter.call("eth_rpc", [rpc_server.url, method, json.dumps(params)])
    _, request = rpc_server.requests[before]
    assert request["method"] == method
    assert request["params"] == params


def test_non_string_results_come_back_as_json_text(adapter: MarineModule, rpc_server: RpcServer) -> None:
    params = [1, 'a"b', {"x": [True, None]}, 12345678901234567890123]
    result = adapter.call("eth_rpc", [rpc_server.url, "echo", json.dumps(params)])
    assert result["error"] == ""
    assert json.loads(result["result"]) == params


def test_json_rpc_error_is_reported(adapter: MarineModule, rpc_server: RpcServer) -> None:
    result = adapter.call("eth_rpc", [rpc_server.url, "no_such_method", "[]"])
    assert result["result"] == ""
    assert json.loads(result["error"]) == {"code": -32601, "message": "method no_such_method not found"}


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("echo", "not json", "params_json must be a JSON array or object"),
        ("echo", '"a string"', "params_json must be a JSON array or object"),
        ("wrong_id", "[]", "does not match request id"),
        ("not_json", "[]", "response is not JSON"),
    ],
)
def test_bad_params_and_bad_responses_are_errors_not_traps(
    adapter: MarineModule, rpc_server: RpcServer, method: str, params: str, message: str
) -> None:
    result = adapter.call("eth_rpc", [rpc_server.url, method, params])
    assert message in result["error"]
    assert result["result"] == ""


def test_transport_errors_carry_curl_exit_code(adapter: MarineModule) -> None:
    result = adapter.call("eth_rpc", ["http://127.0.0.1:1/", "eth_chainId", "[]"])
    assert result["error"].startswith("curl exited with 7")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://127.0.0.1/", "/etc/passwd"])
def test_only_http_and_https_urls(adapter: MarineModule, url: str) -> None:
    result = adapter.call("eth_rpc", [url, "eth_chainId", "[]"])
    assert f"url must be an http:// or https:// URL, got {url}" == result["error"]
    assert result["result"] == ""
    request = adapter.call("http_request", ["GET", url, [], "", 1000])
    assert not request["success"] and request["ret_code"] == 0 and request["status"] == 0  # curl never ran
    assert "url must be an http:// or https:// URL" in request["error"] and request["body"] == ""


def test_http_request_round_trip(adapter: MarineModule, rpc_server: RpcServer) -> None:
    got = adapter.call("http_request", ["GET", rpc_server.origin + "/plain?x=1", ["X-Trace: abc"], "", 5000])
    assert got["success"] and got["error"] == "" and got["status"] == 200 and got["ret_code"] == 0
    echoed = json.loads(got["body"])
    assert echoed["method"] == "GET" and echoed["headers"]["X-Trace"] == "abc" and echoed["body"] == ""
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        got = adapter.call("http_request", [method, rpc_server.origin + "/plain", [], '{"k":"é"}', 5000])
        echoed = json.loads(got["body"])
        assert got["success"] and echoed["method"] == method and echoed["body"] == '{"k":"é"}'
        assert echoed["headers"]["Content-Type"] == "application/json"
    typed = adapter.call("http_request", ["POST", rpc_server.origin + "/plain", ["Content-Type: text/plain"], "hi", 0])
    assert json.loads(typed["body"])["headers"]["Content-Type"] == "text/plain"


def test_a_large_body_travels_in_pieces_byte_exact(adapter: MarineModule, rpc_server: RpcServer) -> None:
    """300 KB (above Linux's 128 KiB per exec argument) with "@" and multi-byte characters at every position."""
    body = "".join("a@é€𝄞"[i % 5] for i in range(150_000))
    got = adapter.call("http_request", ["POST", rpc_server.origin + "/plain", [], body, 10_000])
    assert got["success"], got["error"]
    assert rpc_server.raw[-1][3].decode() == body


def test_http_errors_keep_status_and_body(adapter: MarineModule, rpc_server: RpcServer) -> None:
    got = adapter.call("http_request", ["GET", rpc_server.origin + "/plain?status=404", [], "", 5000])
    assert not got["success"] and got["status"] == 404 and got["ret_code"] == 22
    assert got["error"].startswith("curl exited with 22") and json.loads(got["body"])["method"] == "GET"
    moved = adapter.call("http_request", ["GET", rpc_server.origin + "/plain?status=302", [], "", 5000])
    assert moved["success"] and moved["status"] == 302  # redirects are answers, not followed


def test_timeouts_are_28(adapter: MarineModule, rpc_server: RpcServer) -> None:
    started = time.monotonic()
    got = adapter.call("http_request", ["GET", rpc_server.origin + "/plain?sleep=3", [], "", 500])
    assert not got["success"] and got["ret_code"] == 28 and "curl exited with 28 (timeout)" in got["error"]
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(
    ("method", "headers", "body", "message"),
    [
        ("HEAD", [], "", "method HEAD is not one of GET, POST, PUT, PATCH, DELETE"),
        ("get", [], "", "method get is not one of"),
        ("GET", ["@/etc/passwd"], "", 'header "@/etc/passwd" is not "Name: value"'),
        ("GET", ["X-A: 1\r\nX-B: 2"], "", "header X-A holds a line break"),
        ("GET", ["X-Empty:"], "", "header X-Empty has an empty value"),
        ("GET", ["Bad Name: 1"], "", "header name"),
        ("POST", [], "@/etc/passwd", 'a body may not start with "@"'),
        ("POST", [], "x" * 1_700_000, "limit of curl's arguments"),
    ],
)
def test_bad_requests_are_refused_before_curl(
    adapter: MarineModule, rpc_server: RpcServer, method: str, headers: list[str], body: str, message: str
) -> None:
    before = len(rpc_server.raw)
    got = adapter.call("http_request", [method, rpc_server.origin + "/plain", headers, body, 1000])
    assert not got["success"] and message in got["error"] and got["ret_code"] == 0 and got["status"] == 0
    assert len(rpc_server.raw) == before


def test_the_effector_refuses_origins_outside_its_allowlist(curl_adapter_wasm: bytes, rpc_server: RpcServer) -> None:
    module = MarineModule.load(
        curl_adapter_wasm, ModuleConfig(name="curl_adapter", mounted_binaries={"curl": HttpEffector({})})
    )
    before = len(rpc_server.raw)
    got = module.call("http_request", ["GET", rpc_server.origin + "/plain", [], "", 1000])
    assert not got["success"] and got["ret_code"] == 100003 and "not in this peer's HTTP allowlist" in got["error"]
    rpc = module.call("eth_rpc", [rpc_server.url, "eth_chainId", "[]"])
    assert "not in this peer's HTTP allowlist" in rpc["error"] and rpc["result"] == ""
    assert len(rpc_server.raw) == before


def test_curl_is_refused_when_not_allowed(curl_adapter_wasm: bytes) -> None:
    with pytest.raises(MountedBinaryError, match="curl"):
        module = MarineModule.load(curl_adapter_wasm, ModuleConfig(name="curl_adapter"))
        module.call("http_request", ["GET", "http://127.0.0.1:1/", [], "", 1000])
