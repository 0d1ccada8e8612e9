"""HttpEffector (the peer's `curl`): only the canonical grammar, only allowlisted origins, host headers that a
module cannot override, capped responses and time, no redirects — against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from _helpers import QuietHandler, serve_loopback
from fluence_dao.errors import ConfigError
from fluence_dao.peer.http_effector import (
    COULDNT_CONNECT,
    FILESIZE_EXCEEDED,
    HTTP_RETURNED_ERROR,
    OPERATION_TIMEDOUT,
    REFUSED_ORIGIN,
    REFUSED_PROTOCOL,
    REFUSED_URL,
    REFUSED_USAGE,
    HttpEffector,
    OperatorEndpoints,
    operator_http_effector,
    origin_of,
)


@dataclass
class Server:
    url: str
    origin: str
    seen: list[dict[str, Any]] = field(default_factory=list)


def _serve() -> tuple[ThreadingHTTPServer, Server]:
    state = Server(url="", origin="")

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            body = self.body()
            state.seen.append({"method": self.command, "path": parts.path, "headers": dict(self.headers), "body": body})
            if parts.path == "/big":  # n bytes, with or without a Content-Length
                n = int(query["n"])
                self.send_response(200)
                if query.get("length") == "1":
                    self.send_header("Content-Length", str(n))
                else:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.write_filler(n)  # the client stops reading at its cap
                self.close_connection = True
                return
            if parts.path == "/slow":
                time.sleep(float(query["s"]))
            if parts.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", query["to"])
                self.send_header("Content-Length", "5")
                self.end_headers()
                self.wfile.write(b"moved")
                return
            out = json.dumps(
                {"method": self.command, "headers": dict(self.headers), "body": body.decode("utf-8", "replace")}
            ).encode()
            self.reply(out, int(query.get("status", "200")), "application/json")

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    server = serve_loopback(Handler)
    state.origin = f"http://127.0.0.1:{server.server_port}"
    state.url = state.origin + "/echo"
    return server, state


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Server, Server]]:
    first, a = _serve()
    second, b = _serve()
    yield a, b
    for s in (first, second):
        s.shutdown()
        s.server_close()


@pytest.fixture(scope="module")
def server(servers: tuple[Server, Server]) -> Server:
    return servers[0]


@pytest.fixture()
def effector(server: Server) -> Iterator[HttpEffector]:
    e = HttpEffector({server.origin: {}})
    yield e
    e.close()


def canonical(url: str, *extra: str, method: str = "GET", max_time: str = "10") -> list[str]:
    return ["--silent", "--show-error", "--fail-with-body", "--globoff", "--proto", "=http,https", "--max-time",
            max_time, "--write-out", "%{http_code}", "--request", method, *extra, "--url", url]  # fmt: skip


def split(result: dict[str, Any]) -> tuple[int, bytes]:
    """(status, body) from stdout with the --write-out suffix."""
    out = result["stdout"]
    return int(out[-3:]), out[:-3]


# ---- the canonical form works ---------------------------------------------------------------------------------


def test_get_answers_like_curl(effector: HttpEffector, server: Server) -> None:
    result = effector(canonical(server.url))
    assert result["ret_code"] == 0 and result["error"] == "" and result["stderr"] == b""
    status, body = split(result)
    assert status == 200 and json.loads(body)["method"] == "GET"


def test_post_pieces_are_concatenated_with_json_defaults(effector: HttpEffector, server: Server) -> None:
    pieces = ['{"a":', '"é@x"', "}"]
    args = canonical(server.url, "--header", "X-Trace: 1", *[a for p in pieces for a in ("--json", p)], method="POST")
    status, body = split(effector(args))
    echoed = json.loads(body)
    assert status == 200 and echoed["method"] == "POST" and echoed["body"] == '{"a":"é@x"}'
    assert echoed["headers"]["Content-Type"] == "application/json" and echoed["headers"]["X-Trace"] == "1"
    assert echoed["headers"]["Accept"] == "application/json"


def test_explicit_content_type_wins(effector: HttpEffector, server: Server) -> None:
    args = canonical(server.url, "--header", "Content-Type: text/plain", "--json", "hi", method="PUT")
    echoed = json.loads(split(effector(args))[1])
    assert echoed["method"] == "PUT" and echoed["headers"]["Content-Type"] == "text/plain" and echoed["body"] == "hi"


def test_http_errors_are_22_with_the_body(effector: HttpEffector, server: Server) -> None:
    result = effector(canonical(server.url + "?status=503"))
    assert result["ret_code"] == HTTP_RETURNED_ERROR
    assert result["stderr"] == b"curl: (22) The requested URL returned error: 503\n"
    status, body = split(result)
    assert status == 503 and json.loads(body)["method"] == "GET"
    without = [a for a in canonical(server.url + "?status=404") if a != "--fail-with-body"]
    assert effector(without)["ret_code"] == 0 and split(effector(without))[0] == 404


def test_connection_refused_is_7(server: Server) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    effector = HttpEffector({closed: {}})
    result = effector(canonical(closed + "/x"))
    assert result["ret_code"] == COULDNT_CONNECT and result["stderr"].startswith(b"curl: (7) Failed to connect")
    assert result["stdout"] == b"000"


# ---- the grammar: everything else is refused, nothing runs ----------------------------------------------------


# refused as usage errors when they follow `--url URL`: the other arguments (shell words) -> what the refusal says
_USAGE_AFTER_URL = """
--json @/etc/passwd                      -> start with '@'
--json ok --json @/etc/passwd            -> start with '@'
--data-binary @/etc/passwd               -> option '--data-binary'
--upload-file /etc/passwd                -> option '--upload-file'
--form f=@/etc/passwd                    -> option '--form'
--unix-socket /run/docker.sock           -> option '--unix-socket'
--proxy http://127.0.0.1:1               -> option '--proxy'
--location                               -> option '--location'
--proto =all                             -> --proto must be
--write-out %{{filename_effective}}      -> --write-out must be
--header @/etc/passwd                    -> token name
--header 'Host: evil.invalid'            -> set by the HTTP layer
--header 'Content-Length: 0'             -> set by the HTTP layer
--header X-Empty:                        -> empty value
--request HEAD                           -> method 'HEAD'
--request CONNECT                        -> method 'CONNECT'
--max-time nan                           -> --max-time
--max-time -1                            -> --max-time
--max-time                               -> needs a value
--url {url}                              -> --url given twice
"""


def _after_url(table: str) -> list[tuple[list[str], int, str]]:
    rows = [line.partition(" -> ") for line in table.strip().splitlines()]
    return [(["--url", "{url}", *shlex.split(words)], REFUSED_USAGE, message.strip()) for words, _, message in rows]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-s", "file:///etc/passwd"], REFUSED_USAGE, "option '-s' is not allowed"),
        (["--url", "file:///etc/passwd"], REFUSED_PROTOCOL, "protocol 'file' is not allowed"),
        (["--url", "FILE:///etc/passwd"], REFUSED_PROTOCOL, "protocol 'file' is not allowed"),
        (["--url", "gopher://127.0.0.1:70/_stats"], REFUSED_PROTOCOL, "protocol 'gopher'"),
        (["--url", "ftp://127.0.0.1/"], REFUSED_PROTOCOL, "protocol 'ftp'"),
        (["-K", "/etc/passwd", "--url", "{url}"], REFUSED_USAGE, "option '-K'"),
        (["--config", "/etc/passwd", "--url", "{url}"], REFUSED_USAGE, "option '--config'"),
        (["{url}"], REFUSED_USAGE, "argument"),
        (["--url={url}"], REFUSED_USAGE, "option '--url="),
        ([], REFUSED_USAGE, "no --url"),
        (["--url", "http://user:pw@{host}/echo"], REFUSED_URL, "user info"),
        (["--url", "http:///echo"], REFUSED_URL, "no host"),
        (["--url", "http://127.0.0.1:1/a b"], REFUSED_URL, "space or control"),
        (["--url", "{url}", "--header", "X-A: 1\r\nX-Injected: 2"], REFUSED_USAGE, "line break"),
        *_after_url(_USAGE_AFTER_URL),
    ],
)
def test_refused_forms_run_nothing(
    effector: HttpEffector, server: Server, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    host = server.origin.removeprefix("http://")
    filled = [a.format(url=server.url, host=host) for a in args]
    before = len(server.seen)
    result = effector(filled)
    assert result["ret_code"] == code, result
    assert result["error"].startswith("http effector refused the request: ") and message in result["error"]
    assert result["stdout"] == b"" and result["stderr"] == b""
    assert len(server.seen) == before  # nothing was sent


def test_output_options_write_nothing(effector: HttpEffector, server: Server, tmp_path: Path) -> None:
    target = tmp_path / "written"
    for option in ("-o", "--output", "--dump-header", "--trace", "--cookie-jar", "--stderr", "--libcurl"):
        result = effector(canonical(server.url, option, str(target)))
        assert result["ret_code"] == REFUSED_USAGE and f"option {option!r} is not allowed" in result["error"]
    assert not target.exists()


# ---- origins ---------------------------------------------------------------------------------------------------


def test_origins_are_normalised() -> None:
    assert origin_of("http://LOCALHOST") == "http://localhost:80"
    assert origin_of("https://Example.INVALID/path?q") == "https://example.invalid:443"
    assert origin_of("http://127.0.0.1:8545/") == "http://127.0.0.1:8545"
    assert origin_of("http://[::1]:5001") == "http://[::1]:5001"
    with pytest.raises(ConfigError, match="bad HTTP allowlist entry 'ftp://x'"):
        origin_of("ftp://x")
    with pytest.raises(ConfigError, match=r"bad HTTP allowlist entry '127\.0\.0\.1:8545'"):
        HttpEffector({"127.0.0.1:8545": {}})


def test_only_allowlisted_origins_are_dialled(servers: tuple[Server, Server]) -> None:
    allowed, other = servers
    effector = HttpEffector({allowed.origin + "/any/path": {}})
    port = allowed.origin.rsplit(":", 1)[1]
    other_before = len(other.seen)
    assert effector(canonical(allowed.url))["ret_code"] == 0
    assert effector(canonical(f"http://127.0.0.1:{port}/echo?x=1#frag"))["ret_code"] == 0
    for url in (other.url, f"http://localhost:{port}/echo", f"https://127.0.0.1:{port}/echo", "http://127.0.0.1/"):
        result = effector(canonical(url))
        assert result["ret_code"] == REFUSED_ORIGIN and "not in this peer's HTTP allowlist" in result["error"]
        assert allowed.origin in result["error"]
    assert len(other.seen) == other_before


def test_a_callable_allowlist_is_read_on_every_request(servers: tuple[Server, Server]) -> None:
    first, second = servers
    origins = [first.origin]
    effector = operator_http_effector(lambda: OperatorEndpoints(rpc_url=first.url), extra_origins=origins)
    assert effector(canonical(second.url))["ret_code"] == REFUSED_ORIGIN
    origins.append(second.origin)
    assert effector(canonical(second.url))["ret_code"] == 0
    bad = operator_http_effector(lambda: OperatorEndpoints(rpc_url="not a url", subgraph_urls=(first.url,)))
    assert bad(canonical(first.url))["ret_code"] == 0  # a bad entry is skipped, not fatal


def test_injected_headers_cannot_be_seen_or_overridden(server: Server) -> None:
    secret = "Bearer host-secret-token"
    effector = HttpEffector({server.origin: {"Authorization": secret}})
    echoed = json.loads(split(effector(canonical(server.url)))[1])
    assert echoed["headers"]["Authorization"] == secret
    before = len(server.seen)
    for header in ("Authorization: Bearer mine", "authorization: Bearer mine"):
        result = effector(canonical(server.url, "--header", header))
        assert result["ret_code"] == REFUSED_ORIGIN and "set by the host" in result["error"]
        assert "host-secret-token" not in result["error"]
    assert len(server.seen) == before
    headers_only_for_allowed = operator_http_effector(
        lambda: OperatorEndpoints(rpc_url=server.url, headers={"http://127.0.0.1:1": {"Authorization": "x"}})
    )
    assert set(headers_only_for_allowed.allowed()) == {server.origin}  # headers never widen the allowlist


# ---- limits ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", ["1", "0"])
def test_responses_are_capped(server: Server, length: str) -> None:
    cap = 256 * 1024
    effector = HttpEffector({server.origin: {}}, max_response_bytes=cap)
    result = effector(canonical(f"{server.origin}/big?n={20 * 2**20}&length={length}"))
    assert result["ret_code"] == FILESIZE_EXCEEDED
    assert f"cap of {cap} bytes" in result["stderr"].decode() and result["stderr"].startswith(b"curl: (63)")
    assert len(result["stdout"]) <= 3  # the status only: the body is not handed over
    exact = effector(canonical(f"{server.origin}/big?n={cap}&length={length}"))
    assert exact["ret_code"] == 0 and len(split(exact)[1]) == cap


def test_time_is_capped_by_the_host(server: Server) -> None:
    effector = HttpEffector({server.origin: {}}, max_timeout_s=0.5)
    started = time.monotonic()
    result = effector(canonical(f"{server.origin}/slow?s=3", max_time="60"))
    assert result["ret_code"] == OPERATION_TIMEDOUT and result["stderr"].startswith(b"curl: (28) Operation timed out")
    assert time.monotonic() - started < 2.0
    roomy = HttpEffector({server.origin: {}}, max_timeout_s=60)
    started = time.monotonic()
    assert roomy(canonical(f"{server.origin}/slow?s=3", max_time="0.4"))["ret_code"] == OPERATION_TIMEDOUT
    assert time.monotonic() - started < 2.0


def test_redirects_are_not_followed(servers: tuple[Server, Server]) -> None:
    first, second = servers
    effector = HttpEffector({first.origin: {}, second.origin: {}})
    second_before = len(second.seen)
    for target in (second.url, "http://127.0.0.1:1/", "file:///etc/passwd"):
        result = effector(canonical(f"{first.origin}/redirect?to={target}"))
        assert result["ret_code"] == 0 and split(result) == (302, b"moved")
    assert len(second.seen) == second_before


def test_no_proxy_from_the_environment(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:1")
    effector = HttpEffector({server.origin: {}})
    assert effector(canonical(server.url))["ret_code"] == 0
