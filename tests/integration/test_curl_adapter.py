"""wasm/curl_adapter through the real host with the system curl mounted, against a JSON-RPC server on
127.0.0.1 that this test runs (http.server in a thread); and refused when curl is not allowed."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluence_dao.build import build_module
from fluence_dao.errors import MountedBinaryError
from fluence_dao.marine import MarineModule, ModuleConfig

pytestmark = pytest.mark.integration


@dataclass
class RpcServer:
    url: str
    requests: list[tuple[dict[str, str], Any]] = field(default_factory=list)


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

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = json.loads(body)
            server_state.requests.append((dict(self.headers), request))
            answer = _answer(request)
            out = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{server.server_port}/rpc"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server_state
    server.shutdown()
    server.server_close()


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


@pytest.fixture(scope="module")
def adapter(curl_adapter_wasm: bytes, system_curl: str) -> MarineModule:
    return MarineModule.load(
        curl_adapter_wasm, ModuleConfig(name="curl_adapter", mounted_binaries={"curl": system_curl})
    )


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


def test_only_http_and_https_urls(adapter: MarineModule) -> None:
    result = adapter.call("eth_rpc", ["file:///etc/passwd", "eth_chainId", "[]"])
    assert "curl exited with 1" in result["error"]
    assert "root:" not in result["error"] and result["result"] == ""


def test_curl_request_runs_the_mounted_binary_with_the_given_arguments(
    adapter: MarineModule, rpc_server: RpcServer
) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "eth_chainId", "params": []})
    result = adapter.call(
        "curl_request", [["-s", "-X", "POST", "-H", "Content-Type: application/json", "--data", body, rpc_server.url]]
    )
    assert result["ret_code"] == 0 and result["error"] == ""
    assert json.loads(result["stdout"]) == {"jsonrpc": "2.0", "id": 7, "result": "0x7a69"}
    assert result["stderr"] == b""


def test_curl_request_reports_curl_failures(adapter: MarineModule) -> None:
    result = adapter.call("curl_request", [["--no-such-option-for-curl"]])
    assert result["ret_code"] != 0
    assert b"no-such-option-for-curl" in result["stderr"]


def test_curl_is_refused_when_not_allowed(curl_adapter_wasm: bytes) -> None:
    with pytest.raises(MountedBinaryError, match="curl"):
        module = MarineModule.load(curl_adapter_wasm, ModuleConfig(name="curl_adapter"))
        module.call("curl_request", [["--version"]])
