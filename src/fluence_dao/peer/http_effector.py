"""The peer's HTTP effector: what a hosted module's mounted `curl` runs on this peer instead of /usr/bin/curl.

wasm/curl_adapter turns a request (method, URL, headers, body, timeout) into ONE canonical curl argument form;
on nox that runs the real curl. Here `HttpEffector` is mounted as the binary named `curl` (a
`fluence_dao.marine.HostBinary`): it parses only that grammar and performs the request itself with httpx, so
whatever a module passes, nothing but an HTTP(S) request to an allowed origin happens. The grammar, options in
any order (anything else — `-o`, `-K`, `file://`, a positional argument, `--data @file` — is refused and
nothing is run):

    --silent | --show-error | --fail-with-body | --globoff       flags
    --proto =http,https                                          only this value
    --max-time SECONDS                                           > 0; capped by the effector's max_timeout_s
    --write-out %{http_code}                                     only this value: 3 status digits after the body
    --request GET|POST|PUT|PATCH|DELETE                          at most once (default GET, POST with a body)
    --header "Name: value"                                       token name, non-empty value, no CR/LF
    --json PIECE                                                 body pieces, concatenated; none may start with @
    --url http(s)://host[:port]/...                              exactly once

The URL's origin (scheme://host:port, lower case, default ports filled in; 127.0.0.1, localhost and another
port are different origins) must be in the allowlist: a mapping origin -> headers the host adds to every
request there (e.g. an IPFS API bearer token; a module can neither read nor set them), or a zero-arg callable
returning one, read on every request (the devnet writes its endpoints after the daemon starts). No redirect is
followed, no proxy or netrc from the environment is used, the response is read up to `max_response_bytes`.

Answers are what curl would give for the codes the modules use: 0 ok; 22 for HTTP >= 400 with
--fail-with-body (the body still on stdout); 28 timeout; 7 connection refused; 6 unknown host; 52/55/56
transfer failures; 63 response above the cap; each with `curl: (N) ...` on stderr when --show-error is
given. Refusals: 2 (usage: an option or value outside the grammar), 1 (a scheme other than http/https), 3 (a
malformed URL) and 100003 (an origin outside the allowlist, a header the host sets) with the reason in
`error` ("http effector refused ...").
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fluence_dao.errors import ConfigError, IpfsError
from fluence_dao.ipfs import api_token_for, authorization_header
from fluence_dao.runtime import read_devnet_info, resolve_endpoint

if TYPE_CHECKING:
    import httpx

    from fluence_dao.config import Settings
    from fluence_dao.marine import BinaryResult

logger = logging.getLogger(__name__)

DEFAULT_MAX_RESPONSE_BYTES = 8 * 2**20
DEFAULT_MAX_TIMEOUT_S = 60.0

REFUSED_PROTOCOL = 1
REFUSED_USAGE = 2
REFUSED_URL = 3
COULDNT_RESOLVE_HOST = 6
COULDNT_CONNECT = 7
HTTP_RETURNED_ERROR = 22
OPERATION_TIMEDOUT = 28
GOT_NOTHING = 52
SEND_ERROR = 55
RECV_ERROR = 56
FILESIZE_EXCEEDED = 63
REFUSED_ORIGIN = 100003

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
FLAGS = frozenset({"--silent", "--show-error", "--fail-with-body", "--globoff"})
VALUE_OPTIONS = frozenset({"--proto", "--max-time", "--write-out", "--request", "--header", "--json", "--url"})
PROTO = "=http,https"
WRITE_OUT = "%{http_code}"
DEFAULT_PORTS = {"http": 80, "https": 443}
#: Headers only the HTTP layer sets (framing, routing, hop-by-hop): a module may not send them.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer",
     "proxy-authorization", "proxy-connection", "expect"}
)  # fmt: skip
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CHUNK = 64 * 1024

Allowlist = Mapping[str, Mapping[str, str]]
AllowlistSource = Allowlist | Callable[[], Allowlist]


class Refused(Exception):
    """A request outside the grammar or the allowlist: nothing is run."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CurlRequest:
    """A request in the canonical grammar, parsed."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None  # None: no --json
    max_time_s: float | None = None
    fail_with_body: bool = False
    write_out: bool = False
    show_error: bool = False


def parse_curl_args(args: Sequence[str]) -> CurlRequest:
    """The request `args` describe, or Refused naming the first thing outside the grammar."""
    flags: set[str] = set()
    method: str | None = None
    url: str | None = None
    headers: list[tuple[str, str]] = []
    pieces: list[str] = []
    max_time: float | None = None
    write_out = False
    i = 0
    while i < len(args):
        option = args[i]
        if option in FLAGS:
            flags.add(option)
            i += 1
            continue
        if option not in VALUE_OPTIONS:
            what = "argument" if not option.startswith("-") else "option"
            raise Refused(
                REFUSED_USAGE,
                f"{what} {option!r} is not allowed; the host runs only requests in curl_adapter's form "
                f"({', '.join(sorted(FLAGS | VALUE_OPTIONS))})",
            )
        if i + 1 >= len(args):
            raise Refused(REFUSED_USAGE, f"option {option} needs a value")
        value = args[i + 1]
        i += 2
        if option == "--proto":
            if value != PROTO:
                raise Refused(REFUSED_USAGE, f"--proto must be {PROTO!r}, got {value!r}")
        elif option == "--max-time":
            max_time = _parse_max_time(value)
        elif option == "--write-out":
            if value != WRITE_OUT:
                raise Refused(REFUSED_USAGE, f"--write-out must be {WRITE_OUT!r}, got {value!r}")
            write_out = True
        elif option == "--request":
            if method is not None:
                raise Refused(REFUSED_USAGE, "--request given twice")
            if value not in METHODS:
                raise Refused(REFUSED_USAGE, f"method {value!r} is not one of {', '.join(sorted(METHODS))}")
            method = value
        elif option == "--header":
            headers.append(parse_header(value))
        elif option == "--json":
            if not value or value.startswith("@"):
                raise Refused(REFUSED_USAGE, "a --json body piece may not be empty or start with '@' (a file name)")
            pieces.append(value)
        else:  # --url
            if url is not None:
                raise Refused(REFUSED_USAGE, "--url given twice")
            url = value
    if url is None:
        raise Refused(REFUSED_USAGE, "no --url")
    body = "".join(pieces).encode("utf-8") if pieces else None
    if body is not None:  # what curl's --json adds unless the request sets them
        names = {name.lower() for name, _ in headers}
        for name in ("Content-Type", "Accept"):
            if name.lower() not in names:
                headers.append((name, "application/json"))
    return CurlRequest(
        method=method or ("POST" if body is not None else "GET"),
        url=url,
        headers=tuple(headers),
        body=body,
        max_time_s=max_time,
        fail_with_body="--fail-with-body" in flags,
        write_out=write_out,
        show_error="--show-error" in flags or "--silent" not in flags,
    )


def _parse_max_time(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise Refused(REFUSED_USAGE, f"--max-time must be a positive number of seconds, got {value!r}")
    return seconds


def parse_header(text: str) -> tuple[str, str]:
    """'Name: value' -> (name, value); Refused for anything curl would treat specially or HTTP would split."""
    name, colon, value = text.partition(":")
    value = value.strip(" \t")
    if not colon or not name or any(c not in _TOKEN_CHARS for c in name):
        raise Refused(REFUSED_USAGE, f"header {text[:80]!r} is not 'Name: value' with a token name")
    if not value:
        raise Refused(REFUSED_USAGE, f"header {name} has an empty value")
    if any(c in value for c in "\r\n\0"):
        raise Refused(REFUSED_USAGE, f"header {name} holds a line break or NUL")
    if name.lower() in RESERVED_HEADERS:
        raise Refused(REFUSED_USAGE, f"header {name} is set by the HTTP layer, not by a module")
    return name, value


def _parse_url(url: str) -> httpx.URL:
    import httpx  # lazy: ~0.1 s of import, needed only once a module makes a request

    if any(c <= " " or c == "\x7f" for c in url):
        raise Refused(REFUSED_URL, f"URL {url[:200]!r} holds a space or control character")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as err:
        raise Refused(REFUSED_URL, f"URL {url[:200]!r} is malformed: {err}") from None
    if parsed.scheme not in DEFAULT_PORTS:
        raise Refused(REFUSED_PROTOCOL, f"protocol {parsed.scheme or '(none)'!r} is not allowed: http or https only")
    if not parsed.host:
        raise Refused(REFUSED_URL, f"URL {url[:200]!r} has no host")
    if parsed.userinfo:
        raise Refused(REFUSED_URL, f"URL {url[:200]!r} carries user info; credentials are set by the host")
    return parsed


def _origin(parsed: httpx.URL) -> str:
    host = parsed.host.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{parsed.scheme}://{host}:{parsed.port or DEFAULT_PORTS[parsed.scheme]}"


def origin_of(url: str) -> str:
    """The normalised origin of an http(s) URL: 'http://LOCALHOST' -> 'http://localhost:80'. A path is ignored.
    ConfigError names a URL that is not http(s) or has no host."""
    try:
        return _origin(_parse_url(url.strip()))
    except Refused as err:
        raise ConfigError(f"bad HTTP allowlist entry {url!r}: {err.message}", url=url) from None


def normalise_allowlist(allowlist: Allowlist) -> dict[str, dict[str, str]]:
    """Origin keys normalised (headers of equal origins merged); ConfigError for a bad origin or header."""
    out: dict[str, dict[str, str]] = {}
    for url, headers in allowlist.items():
        merged = out.setdefault(origin_of(url), {})
        for name, value in headers.items():
            if not name or any(c not in _TOKEN_CHARS for c in name) or any(c in str(value) for c in "\r\n\0"):
                raise ConfigError(f"bad header {name!r} for the HTTP allowlist entry {url!r}", url=url)
            merged[name] = str(value)
    return out


def _result(code: int, *, error: str = "", stdout: bytes = b"", stderr: bytes = b"") -> BinaryResult:
    return {"ret_code": code, "error": error, "stdout": stdout, "stderr": stderr}


class HttpEffector:
    """The `curl` a hosted module runs on this peer (see the module docstring). Thread-safe; call `close()`
    when the peer stops."""

    def __init__(
        self,
        allowlist: AllowlistSource,
        *,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_timeout_s: float = DEFAULT_MAX_TIMEOUT_S,
    ) -> None:
        if max_response_bytes <= 0 or max_timeout_s <= 0:
            raise ConfigError(
                f"HttpEffector: max_response_bytes ({max_response_bytes}) and max_timeout_s ({max_timeout_s}) "
                "must be positive"
            )
        self._static = None if callable(allowlist) else normalise_allowlist(allowlist)
        self._source = allowlist
        self.max_response_bytes = max_response_bytes
        self.max_timeout_s = max_timeout_s
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HttpEffector(max_response_bytes={self.max_response_bytes}, max_timeout_s={self.max_timeout_s})"

    def allowed(self) -> dict[str, dict[str, str]]:
        """The allowlist now: origin -> injected headers. Bad entries of a callable source are logged, skipped."""
        if self._static is not None:
            return self._static
        assert callable(self._source)
        out: dict[str, dict[str, str]] = {}
        for url, headers in self._source().items():
            try:
                for origin, extra in normalise_allowlist({url: headers}).items():
                    out.setdefault(origin, {}).update(extra)
            except ConfigError as err:
                logger.warning("HTTP allowlist: %s (skipped)", err.message)
        return out

    def __call__(self, args: list[str]) -> BinaryResult:
        try:
            request = parse_curl_args(args)
            url = _parse_url(request.url)
            origin = _origin(url)
            allowed = self.allowed()
            if origin not in allowed:
                raise Refused(
                    REFUSED_ORIGIN,
                    f"origin {origin} is not in this peer's HTTP allowlist ({', '.join(sorted(allowed)) or 'empty'}); "
                    "the operator adds origins with FLUENCE_DAO_PEER__HTTP_ALLOWLIST",
                )
            injected = allowed[origin]
            for name, _ in request.headers:
                if name.lower() in {n.lower() for n in injected}:
                    raise Refused(REFUSED_ORIGIN, f"header {name} is set by the host for {origin}; a module may not")
        except Refused as err:
            logger.info("http effector refused a request: %s", err.message)
            return _result(err.code, error=f"http effector refused the request: {err.message}")
        return self._perform(request, url, injected)

    def _http(self) -> httpx.Client:
        import httpx  # lazy: see _parse_url

        with self._lock:
            if self._client is None:
                client = httpx.Client(trust_env=False, follow_redirects=False, timeout=self.max_timeout_s)
                client.headers = httpx.Headers({"Accept": "*/*", "User-Agent": "fluence-dao-http-effector"})
                self._client = client
            return self._client

    def _perform(self, request: CurlRequest, url: httpx.URL, injected: Mapping[str, str]) -> BinaryResult:
        import httpx  # lazy: see _parse_url

        timeout = min(request.max_time_s or self.max_timeout_s, self.max_timeout_s)
        started = time.monotonic()
        deadline = started + timeout
        headers = [*request.headers, *injected.items()]
        status = 0
        body = bytearray()

        def fail(code: int, message: str) -> BinaryResult:
            stdout = f"{status:03d}".encode() if request.write_out else b""
            stderr = f"curl: ({code}) {message}\n".encode() if request.show_error else b""
            return _result(code, stdout=stdout, stderr=stderr)

        logger.debug("http effector: %s %s://%s%s", request.method, url.scheme, url.netloc.decode(), url.path)
        try:
            with self._http().stream(
                request.method, url, headers=headers, content=request.body, timeout=httpx.Timeout(timeout)
            ) as response:
                status = response.status_code
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self.max_response_bytes:
                    return fail(FILESIZE_EXCEEDED, self._too_large(f"declares {int(declared)} bytes"))
                for chunk in response.iter_raw(_CHUNK):
                    body += chunk
                    if len(body) > self.max_response_bytes:
                        return fail(FILESIZE_EXCEEDED, self._too_large(f"sent more than {self.max_response_bytes}"))
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("deadline passed while reading the body")
        except httpx.TimeoutException:
            elapsed_ms = int((time.monotonic() - started) * 1000)
            return fail(OPERATION_TIMEDOUT, f"Operation timed out after {elapsed_ms} milliseconds with "
                        f"{len(body)} bytes received")  # fmt: skip
        except httpx.ConnectError as err:
            text = str(err)
            if "name" in text.lower() and ("resolution" in text.lower() or "not known" in text.lower()):
                return fail(COULDNT_RESOLVE_HOST, f"Could not resolve host: {url.host}")
            port = url.port or DEFAULT_PORTS[url.scheme]
            return fail(COULDNT_CONNECT, f"Failed to connect to {url.host} port {port}: {text or 'Connection refused'}")
        except httpx.RemoteProtocolError as err:
            if status == 0:
                return fail(GOT_NOTHING, f"Empty reply from server ({err})")
            return fail(RECV_ERROR, f"Failure when receiving data from the peer ({err})")
        except httpx.WriteError as err:
            return fail(SEND_ERROR, f"Failed sending data to the peer ({err})")
        except httpx.HTTPError as err:
            return fail(RECV_ERROR, f"Failure when receiving data from the peer ({type(err).__name__}: {err})")
        stdout = bytes(body) + (f"{status:03d}".encode() if request.write_out else b"")
        if request.fail_with_body and status >= 400:
            stderr = f"curl: (22) The requested URL returned error: {status}\n".encode() if request.show_error else b""
            return _result(HTTP_RETURNED_ERROR, stdout=stdout, stderr=stderr)
        return _result(0, stdout=stdout)

    def _too_large(self, what: str) -> str:
        return (
            f"Maximum file size exceeded: the response {what}, above this peer's cap of {self.max_response_bytes} "
            "bytes (FLUENCE_DAO_PEER__HTTP_MAX_RESPONSE_BYTES)"
        )

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


# ---- the operator's endpoints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorEndpoints:
    """The URLs a peer's modules may reach: the chain RPC, IPFS APIs, subgraphs and extra origins, plus headers
    the host adds per URL or origin (e.g. `{ipfs_api_url: {"Authorization": "Bearer ..."}}`)."""

    rpc_url: str | None = None
    ipfs_api_urls: tuple[str, ...] = ()
    subgraph_urls: tuple[str, ...] = ()
    extra_origins: tuple[str, ...] = ()
    headers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def urls(self) -> list[str]:
        found = [self.rpc_url, *self.ipfs_api_urls, *self.subgraph_urls, *self.extra_origins]
        return [u for u in found if u]

    def allowlist(self) -> dict[str, dict[str, str]]:
        """origin -> injected headers; entries that are not http(s) URLs are logged and left out."""
        out: dict[str, dict[str, str]] = {}
        for url in self.urls():
            try:
                out.setdefault(origin_of(url), {})
            except ConfigError as err:
                logger.warning("HTTP allowlist: %s (skipped)", err.message)
        for url, headers in self.headers.items():
            try:
                for origin, extra in normalise_allowlist({url: headers}).items():
                    if origin in out:  # headers never widen the allowlist
                        out[origin].update(extra)
            except ConfigError as err:
                logger.warning("HTTP allowlist: %s (skipped)", err.message)
        return out


def operator_http_effector(
    endpoints: Callable[[], OperatorEndpoints],
    *,
    extra_origins: Collection[str] = (),
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    max_timeout_s: float = DEFAULT_MAX_TIMEOUT_S,
) -> HttpEffector:
    """An effector whose allowlist is `endpoints()` (read on every request) plus `extra_origins` (a collection
    that may grow; read on every request too)."""
    extra = extra_origins

    def allowlist() -> dict[str, dict[str, str]]:
        current = endpoints()
        more = tuple(extra)
        if more:
            current = OperatorEndpoints(
                current.rpc_url, current.ipfs_api_urls, current.subgraph_urls, (*current.extra_origins, *more),
                current.headers,
            )  # fmt: skip
        return current.allowlist()

    return HttpEffector(allowlist, max_response_bytes=max_response_bytes, max_timeout_s=max_timeout_s)


def devnet_urls(state_dir: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(IPFS API URLs, subgraph URLs) of a devnet under `state_dir` from its devnet.json (empty without one)."""
    info = read_devnet_info(state_dir)
    ipfs = info.ipfs.api_url if info is not None and info.ipfs is not None else None
    subgraph = info.subgraph.url if info is not None and info.subgraph is not None else None
    return ((ipfs,) if ipfs else ()), ((subgraph,) if subgraph else ())


def ipfs_auth_headers(state_dir: Path, url: str, configured_token: str | None) -> dict[str, str]:
    """The Authorization header the host adds for an IPFS API: `configured_token`, else the devnet's
    <state_dir>/ipfs/api-token for a loopback API (fluence_dao.ipfs.api_token_for); {} when there is none."""
    try:
        token = api_token_for(state_dir, configured_token, api_url=url)
        return {"Authorization": authorization_header(token)} if token else {}
    except IpfsError as err:
        logger.warning("no IPFS API token for %s: %s", url, err.message)
        return {}


def settings_endpoints(
    settings: Settings, *, ipfs_api_urls: Iterable[str | None] = (), ipfs_api_token: str | None = None
) -> OperatorEndpoints:
    """What a peer run with `settings` may reach: the chain RPC (`resolve_endpoint`, devnet.json on the devnet),
    ipfs.api_url and `ipfs_api_urls` (the daemon's own IPFS options; with ipfs.api_token or `ipfs_api_token`),
    subgraph.endpoint_url, the devnet's IPFS server (with its token) and subgraph, and peer.http_allowlist.
    Parts that cannot be resolved now are left out."""
    rpc_url: str | None = None
    try:
        rpc_url = resolve_endpoint(settings, need_registry=False).rpc_url
    except ConfigError as err:
        logger.debug("HTTP allowlist without a chain RPC for now: %s", err.message)
    configured = ipfs_api_token or (settings.ipfs.api_token.get_secret_value() if settings.ipfs.api_token else None)
    devnet_ipfs, devnet_subgraphs = devnet_urls(settings.state_dir)
    own_ipfs = [u for u in (settings.ipfs.api_url, *ipfs_api_urls) if u]
    headers: dict[str, Mapping[str, str]] = {}
    for url in devnet_ipfs:
        headers[url] = ipfs_auth_headers(settings.state_dir, url, None)
    for url in own_ipfs:
        headers[url] = ipfs_auth_headers(settings.state_dir, url, configured)
    subgraphs = [settings.subgraph.endpoint_url, *devnet_subgraphs]
    return OperatorEndpoints(
        rpc_url=rpc_url,
        ipfs_api_urls=(*own_ipfs, *devnet_ipfs),
        subgraph_urls=tuple(u for u in subgraphs if u),
        extra_origins=tuple(settings.peer.http_allowlist),
        headers=headers,
    )


def multiaddr_to_url(multiaddr: str) -> str | None:
    """'/ip4/127.0.0.1/tcp/5001' -> 'http://127.0.0.1:5001' (None for any other form)."""
    parts = multiaddr.strip("/").split("/")
    if len(parts) == 4 and parts[0] in ("ip4", "dns", "dns4") and parts[2] == "tcp" and parts[3].isdigit():
        return f"http://{parts[1]}:{parts[3]}"
    if len(parts) == 4 and parts[0] == "ip6" and parts[2] == "tcp" and parts[3].isdigit():
        return f"http://[{parts[1]}]:{parts[3]}"
    return None


def daemon_http_effector(
    settings: Settings,
    *,
    ipfs_api_url: str | None = None,
    ipfs_local_api_multiaddr: str = "",
    ipfs_api_token: str | None = None,
) -> HttpEffector:
    """The peer daemon's `curl`: the allowlist of `settings_endpoints` for the daemon's `settings`, resolved again
    on every request (the devnet writes devnet.json after the daemon starts), plus the daemon's IPFS API."""
    own_ipfs = (ipfs_api_url, multiaddr_to_url(ipfs_local_api_multiaddr) if ipfs_local_api_multiaddr else None)

    def current() -> OperatorEndpoints:  # devnet.json on every request (written after we start)
        return settings_endpoints(settings, ipfs_api_urls=own_ipfs, ipfs_api_token=ipfs_api_token)

    return operator_http_effector(current, max_response_bytes=settings.peer.http_max_response_bytes)
