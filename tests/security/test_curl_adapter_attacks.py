"""Finding 1: curl_adapter was a general curl for anyone (`curl_request(["-s", "file://<state>/client/key"])` read
any file the daemon could, `-o PATH` wrote one). Now, on an in-process peer with restricted builtins and the
HTTP effector mounted as `curl` (as the daemon does):

- an attacker key (not the host, a management peer nor the creator) may not call any effector service:
  curl_adapter alone, [curl_adapter, ipld], or a module that passes raw arguments to curl;
- the management key cannot read or write a file through any exported function, nor through a module of its own
  that hands raw curl arguments to the host: the host runs only HTTP(S) requests to allowlisted origins;
- a 50 MB answer is cut at the host's cap with an error naming it, and the peer answers the next call.

Every request that reaches the test's HTTP servers is recorded, so "nothing was sent" is checked, not assumed.
"""

from __future__ import annotations

import json
import resource
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from _helpers import QuietHandler, serve_loopback
from fluence_dao.errors import AquaCallError
from fluence_dao.peer import AquaVM, KeyPair, LocalNetwork, Peer, PeerConfig, call_function
from fluence_dao.peer.http_effector import DEFAULT_MAX_RESPONSE_BYTES, HttpEffector

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
BIG = 50 * 10**6

RAW_INTERFACE = """\
# what curl_adapter was before the fix: its arguments go to the mounted curl unchanged
[functions.curl_request]
args = { curl_cmd = "Vec<String>" }
output = "MountedBinaryResult"

[imports.host.curl]
args = { cmd = "Vec<String>" }
output = "MountedBinaryResult"
"""
RAW_MAIN = """\
const iface = @import("interface");

pub fn curl_request(curl_cmd: []const []const u8) iface.MountedBinaryResult {
    return iface.host.curl(curl_cmd);
}
"""


@dataclass
class Target:
    """An HTTP server on 127.0.0.1 recording every request; /big and Kubo's dag/get answer BIG bytes."""

    origin: str = ""
    seen: list[str] = field(default_factory=list)


def _serve(target: Target) -> ThreadingHTTPServer:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            body = self.body()
            target.seen.append(f"{self.command} {self.path}")
            if self.path.startswith(("/big", "/api/v0/dag/get")):
                self.send_response(200)
                self.send_header("Content-Length", str(BIG))
                self.end_headers()
                self.write_filler(BIG, 2**20)  # the peer stops reading at its cap
                self.close_connection = True
                return
            self.reply(json.dumps({"jsonrpc": "2.0", "id": 1, "result": body.decode("utf-8", "replace")}).encode())

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    server = serve_loopback(Handler)
    target.origin = f"http://127.0.0.1:{server.server_port}"
    return server


@dataclass
class World:
    net: LocalNetwork
    management: Peer
    aqua: Any
    services: dict[str, str]
    allowed: Target
    elsewhere: Target  # a live server outside the allowlist
    state_dir: Path
    secret_file: Path

    def call(self, function: str, args: list[Any], client: Peer | None = None) -> Any:
        return call_function(self.net, self.aqua.function(function), args, client=client or self.management)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, built_wasm: Any, require: Any) -> Iterator[World]:
    import shutil

    from fluence_dao.aqua import compile_aqua
    from fluence_dao.build import build_module, wasm_source_dir

    require(shutil.which("node"), "node is not installed")
    tmp = tmp_path_factory.mktemp("curl-attacks")
    sources = tmp / "wasm"
    (sources / "raw_curl").mkdir(parents=True)
    (sources / "lib").symlink_to(wasm_source_dir() / "lib")
    (sources / "raw_curl" / "interface.toml").write_text(RAW_INTERFACE)
    (sources / "raw_curl" / "main.zig").write_text(RAW_MAIN)
    raw_wasm = build_module("raw_curl", tmp / "out", source_dir=sources).read_bytes()

    allowed, elsewhere = Target(), Target()
    servers = [_serve(allowed), _serve(elsewhere)]
    state_dir = tmp / "state"
    secret_file = state_dir / "client" / "key"
    management_key = KeyPair.load_or_create(secret_file)
    effector = HttpEffector({allowed.origin: {}})
    config = PeerConfig(
        management_peer_ids=frozenset({management_key.peer_id}),
        restricted_builtins=True,
        allowed_binaries={"curl": effector},  # type: ignore[dict-item]  # PeerConfig's annotation predates it
    )
    net = LocalNetwork(1, base_dir=state_dir / "peer", config=config)
    management = net.add_peer(
        Peer(PeerConfig(state_dir=tmp / "mgmt"), key_pair=management_key, avm=AquaVM(), transport=net, is_client=True)
    )
    aqua = compile_aqua(HERE / "curl_attacks.aqua")
    deployed = call_function(
        net,
        aqua.function("deploy"),
        [list(built_wasm("curl_adapter")), list(built_wasm("ipld")), list(raw_wasm)],
        client=management,
    )
    try:
        yield World(net, management, aqua, deployed, allowed, elsewhere, state_dir, secret_file)
    finally:
        net.stop()
        effector.close()
        for server in servers:
            server.shutdown()
            server.server_close()


def _no_secret(world: World, *results: Any) -> None:
    secret = world.secret_file.read_text().strip()
    text = json.dumps(results, default=lambda b: bytes(b).decode("latin-1"))
    assert secret not in text and secret[:16] not in text


# ---- who may call ----------------------------------------------------------------------------------------------


def test_an_attacker_key_may_call_no_effector_service(world: World) -> None:
    attacker = world.net.client()  # a fresh key: not the host, not management, creator of nothing
    assert attacker.peer_id not in (world.net.relay.peer_id, world.management.peer_id)
    url = world.allowed.origin + "/rpc"
    before = len(world.allowed.seen)
    attempts: list[tuple[str, list[Any], str]] = [
        ("http_request", ["GET", url, [], "", 1000], world.services["curl_adapter"]),
        ("eth_rpc", [url, "eth_chainId", "[]"], world.services["curl_adapter"]),
        ("ipld_get", [world.services["ipld"], world.allowed.origin, "bafyqaaa", ""], world.services["ipld"]),
        ("ipld_update", [world.services["ipld"], world.allowed.origin, []], world.services["ipld"]),
        ("raw_curl", [world.services["raw_curl"], ["--url", url]], world.services["raw_curl"]),
    ]
    for function, args, service_id in attempts:
        with pytest.raises(AquaCallError) as refused:
            world.call(function, args, client=attacker)
        message = str(refused.value)
        assert f"Forbidden. User id '{attacker.peer_id}' cannot call service '{service_id}'" in message, message
        assert "it holds the effector curl and only its creator, the host or management peers may call it" in message
    assert len(world.allowed.seen) == before  # nothing was sent on the attacker's behalf
    # the same calls work for the management key (the creator), so the refusal is about who calls
    assert world.call("http_request", ["GET", url, [], "", 1000])["success"]


# ---- no file is read or written, whatever the arguments ---------------------------------------------------------


def test_the_management_key_cannot_read_the_client_key_through_any_export(world: World) -> None:
    key = str(world.secret_file)
    file_url = f"file://{key}"
    good = world.allowed.origin + "/rpc"
    before = len(world.allowed.seen)
    results: list[Any] = []

    for url in (file_url, f"FILE://{key}", f"file://localhost{key}", key, f"gopher://127.0.0.1/{key}"):
        got = world.call("http_request", ["GET", url, [], "", 1000])
        assert not got["success"] and got["status"] == 0 and got["body"] == ""
        assert "url must be an http:// or https:// URL" in got["error"]
        rpc = world.call("eth_rpc", [url, "eth_chainId", "[]"])
        assert "url must be an http:// or https:// URL" in rpc["error"] and rpc["result"] == ""
        results += [got, rpc]
    for headers, body, needle in (
        ([], f"@{key}", 'a body may not start with "@"'),
        ([f"@{key}"], "", 'is not "Name: value"'),
        ([f"X-A: 1\r\n@{key}"], "", "line break"),
    ):
        got = world.call("http_request", ["POST", good, headers, body, 1000])
        assert not got["success"] and needle in got["error"]
        results.append(got)
    for api_url in (f"file://{world.state_dir}/client", f"file://{key}"):
        got = world.call("ipld_get", [world.services["ipld"], api_url, "bafyqaaa", ""])
        assert not got["success"] and "api_url must be an http(s) URL" in got["error"]
        results.append(got)
    with pytest.raises(AquaCallError, match="curl_request"):  # the raw export is gone
        world.call("old_curl_request", [["-s", file_url]])

    # a module of the management's own that hands raw arguments to `curl`: the host runs none of them
    raw = world.services["raw_curl"]
    for args, code, needle in (
        (["-s", file_url], 2, "option '-s' is not allowed"),
        (["--url", file_url], 1, "protocol 'file' is not allowed"),
        (["--silent", "--url", file_url], 1, "protocol 'file'"),
        (["--url", good, "--json", f"@{key}"], 2, "start with '@'"),
        (["--url", good, "--data-binary", f"@{key}"], 2, "option '--data-binary'"),
        (["--url", good, "--upload-file", key], 2, "option '--upload-file'"),
        (["--url", good, "-K", key], 2, "option '-K'"),
        (["--url", good, "--form", f"f=@{key}"], 2, "option '--form'"),
        ([good, f"file://{key}"], 2, "argument"),
    ):
        got = world.call("raw_curl", [raw, args])
        assert got["ret_code"] == code and needle in got["error"], (args, got)
        assert bytes(got["stdout"]) == b"" and bytes(got["stderr"]) == b""
        results.append(got)
    assert len(world.allowed.seen) == before  # not one of these reached the network either
    _no_secret(world, *results)


def test_the_management_key_cannot_write_files(world: World, tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    good = world.allowed.origin + "/rpc"
    raw = world.services["raw_curl"]
    for args in (
        ["-o", str(target), "--url", good],
        ["--url", good, "--output", str(target)],
        ["--url", good, "-O"],
        ["--url", good, "--dump-header", str(target)],
        ["--url", good, "--trace-ascii", str(target)],
        ["--url", good, "--cookie-jar", str(target)],
        ["--url", good, "--stderr", str(target)],
        ["--url", good, "--libcurl", str(target)],
        ["--url", good, "--write-out", f"%{{output{target}}}"],
        ["--url", f"file://{target}", "--upload-file", str(world.secret_file)],
    ):
        got = world.call("raw_curl", [raw, args])
        assert got["ret_code"] in (1, 2) and got["error"].startswith("http effector refused"), (args, got)
    for url, headers in (
        (f"{good} -o {target}", []),
        (good, ["-o", str(target)]),
        (good, [f"X: 1\n-o {target}"]),
    ):
        got = world.call("http_request", ["GET", url, headers, "", 1000])
        assert not got["success"] and got["status"] == 0
    got = world.call("http_request", ["-o", good, [], str(target), 1000])
    assert not got["success"] and "method -o is not one of" in got["error"]
    assert not target.exists() and not list(tmp_path.iterdir())


# ---- only allowlisted origins, bounded answers ------------------------------------------------------------------


def test_origins_outside_the_allowlist_are_never_dialled(world: World) -> None:
    before = len(world.elsewhere.seen)
    port = world.allowed.origin.rsplit(":", 1)[1]
    for url in (world.elsewhere.origin + "/rpc", f"http://localhost:{port}/rpc", f"https://127.0.0.1:{port}/"):
        got = world.call("http_request", ["GET", url, [], "", 1000])
        assert not got["success"] and got["ret_code"] == 100003
        assert "not in this peer's HTTP allowlist" in got["error"]
        rpc = world.call("eth_rpc", [url, "eth_chainId", "[]"])
        assert "not in this peer's HTTP allowlist" in rpc["error"]
    raw = world.call("raw_curl", [world.services["raw_curl"], ["--url", world.elsewhere.origin + "/x"]])
    assert raw["ret_code"] == 100003
    got = world.call("ipld_get", [world.services["ipld"], world.elsewhere.origin, "bafyqaaa", ""])
    assert not got["success"] and "not in this peer's HTTP allowlist" in got["error"]
    assert len(world.elsewhere.seen) == before


def test_a_50_mb_answer_is_cut_at_the_cap_and_the_peer_answers_on(world: World) -> None:
    cap = DEFAULT_MAX_RESPONSE_BYTES
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    got = world.call("http_request", ["GET", world.allowed.origin + "/big", [], "", 30_000])
    assert not got["success"] and got["ret_code"] == 63 and got["body"] == ""
    assert (
        f"curl exited with 63: curl: (63) Maximum file size exceeded: the response declares {BIG} bytes"
        in (got["error"])
    )
    assert f"above this peer's cap of {cap} bytes" in got["error"]
    rpc = world.call("eth_rpc", [world.allowed.origin + "/big", "eth_chainId", "[]"])
    assert "curl exited with 63" in rpc["error"] and f"cap of {cap} bytes" in rpc["error"]
    tree = world.call("ipld_get", [world.services["ipld"], world.allowed.origin, "bafyqaaa", ""])
    assert not tree["success"] and "curl exited with 63" in tree["error"]
    raw = world.call("raw_curl", [world.services["raw_curl"], ["--show-error", "--url", world.allowed.origin + "/big"]])
    assert raw["ret_code"] == 63 and bytes(raw["stdout"]) == b""
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    assert grown < BIG // 2, f"peak memory grew by {grown} bytes for four capped 50 MB answers"
    # the peer and its services still answer
    after = world.call("http_request", ["POST", world.allowed.origin + "/rpc", [], '{"ok":true}', 5000])
    assert after["success"] and json.loads(after["body"])["result"] == '{"ok":true}'
