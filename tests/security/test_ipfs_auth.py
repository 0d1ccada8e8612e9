"""Finding 6: the IPFS RPC server accepted writes from anyone, so a local attacker ran `pin/rm` of the governed CIDs
and `repo/gc`. Now every command that changes the repo needs the API token (Kubo's `API.Authorizations`): without it
HTTP 403 in Kubo's error shape and nothing changes; reads stay open on loopback.

Real servers on 127.0.0.1 and real HTTP requests (httpx); the last test runs the real devnet and `publish`.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from _helpers import run_cli
from fluence_dao.errors import IpfsError, KuboRpcError
from fluence_dao.ipfs import (
    Cid,
    KuboClient,
    KuboServer,
    LocalIpfs,
    api_token_for,
    api_token_path,
    authorization_header,
    ensure_api_token_file,
    load_server_token,
    open_ipfs,
)

pytestmark = pytest.mark.integration

TOKEN = "tok-" + "0123456789abcdef" * 2
DENIED = (
    "Kubo RPC Access Denied: Please provide a valid authorization token as defined in the API.Authorizations "
    "configuration."
)


def _repo_state(node: LocalIpfs) -> tuple[list[str], str]:
    """Every block file and the pin set: what a refused call must leave exactly as it was."""
    root = node.store.root
    blocks = sorted(str(p.relative_to(root)) for p in (root / "blocks").rglob("*.data"))
    pins = (root / "pins.json").read_text() if (root / "pins.json").exists() else ""
    return blocks, pins


@dataclass
class Repo:
    node: LocalIpfs
    pinned: Cid  # a pinned file
    loose: Cid  # an unpinned raw block
    car: bytes  # a CAR of a DAG the repo does not have yet


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    node = LocalIpfs(tmp_path / "repo", fsync=False)
    pinned = node.add_bytes(b"governed module bytes " * 100).cid
    loose = node.block_put(b"an unpinned block").cid
    other = LocalIpfs(tmp_path / "other", fsync=False)
    root = other.dag_put({"imported": True, "n": 7})
    out = io.BytesIO()
    other.dag_export(root, out)
    return Repo(node, pinned, loose, out.getvalue())


def _multipart(data: bytes, name: str = "f") -> dict[str, Any]:
    return {"file": (name, data, "application/octet-stream")}


#: Every command that changes the repo, with arguments that would change it: (command, params, body).
WRITES: dict[str, Callable[[Repo], tuple[dict[str, Any], dict[str, Any] | None]]] = {
    "add": lambda r: ({"pin": "true"}, _multipart(b"attacker content")),
    "block/put": lambda r: ({"pin": "true"}, _multipart(b"attacker block")),
    "block/rm": lambda r: ({"arg": str(r.loose)}, None),
    "dag/put": lambda r: ({"pin": "true"}, _multipart(b'{"attacker": 1}')),
    "dag/import": lambda r: ({"pin-roots": "true"}, _multipart(r.car)),
    "pin/add": lambda r: ({"arg": str(r.loose)}, None),
    "pin/rm": lambda r: ({"arg": str(r.pinned)}, None),
    "pin/update": lambda r: ({"arg": [str(r.pinned), str(r.loose)]}, None),
    "repo/gc": lambda r: ({}, None),
}
#: Reads stay open to any local process.
READS: dict[str, Callable[[Repo], dict[str, Any]]] = {
    "cat": lambda r: {"arg": str(r.pinned)},
    "get": lambda r: {"arg": str(r.pinned)},
    "block/get": lambda r: {"arg": str(r.loose)},
    "block/stat": lambda r: {"arg": str(r.loose)},
    "dag/get": lambda r: {"arg": str(r.pinned)},
    "dag/resolve": lambda r: {"arg": str(r.pinned)},
    "dag/export": lambda r: {"arg": str(r.pinned)},
    "pin/ls": lambda r: {},
    "id": lambda r: {},
    "version": lambda r: {},
}


def _post(server: KuboServer, command: str, params: dict[str, Any], files: Any, headers: dict[str, str]) -> Any:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        return http.post(f"/api/v0/{command}", params=params, files=files, headers=headers)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("command", sorted(WRITES))
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789abcdef"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": TOKEN},  # no scheme
        {"Authorization": _basic("user", "wrong")},
        {"Authorization": "Basic !!not-base64!!"},
    ],
    ids=["none", "wrong", "longer", "shorter", "no-scheme", "basic-wrong", "basic-garbage"],
)
def test_a_write_without_the_token_is_403_and_changes_nothing(
    repo: Repo, command: str, headers: dict[str, str]
) -> None:
    before = _repo_state(repo.node)
    with KuboServer(repo.node, auth_token=TOKEN) as server:
        params, files = WRITES[command](repo)
        response = _post(server, command, params, files, headers)
        assert response.status_code == 403, response.text
        assert response.json() == {"Message": DENIED, "Code": 0, "Type": "error"}
        assert TOKEN not in response.text
    assert _repo_state(repo.node) == before
    assert repo.node.pin_ls(repo.pinned) and repo.node.block_stat(repo.loose)


@pytest.mark.parametrize("command", sorted(WRITES))
@pytest.mark.parametrize(
    "authorization", [f"Bearer {TOKEN}", f"bearer {TOKEN}", _basic("anyone", TOKEN)], ids=["bearer", "lower", "basic"]
)
def test_the_token_lets_every_write_through(repo: Repo, command: str, authorization: str) -> None:
    before = _repo_state(repo.node)
    with KuboServer(repo.node, auth_token=TOKEN) as server:
        params, files = WRITES[command](repo)
        response = _post(server, command, params, files, {"Authorization": authorization})
    if command == "pin/update":  # not implemented: past the token check, a 404 (like an unknown command)
        assert response.status_code == 404
        assert _repo_state(repo.node) == before
        return
    assert response.status_code == 200, response.text
    if command != "repo/gc":
        assert _repo_state(repo.node) != before, f"{command} with the token changed nothing"
    else:
        assert str(repo.loose) in response.text  # the unpinned block was collected
        assert _repo_state(repo.node) != before


@pytest.mark.parametrize("command", sorted(READS))
def test_reads_stay_open_without_a_token(repo: Repo, command: str) -> None:
    with KuboServer(repo.node, auth_token=TOKEN) as server:
        response = _post(server, command, READS[command](repo), None, {})
    assert response.status_code == 200, response.text


def test_a_large_refused_upload_still_gets_its_403(repo: Repo) -> None:
    """The body of a refused call is read and dropped, so the client sees the 403, not a connection reset."""
    before = _repo_state(repo.node)
    with KuboServer(repo.node, auth_token=TOKEN) as server:
        response = _post(server, "add", {}, _multipart(os.urandom(3 << 20)), {})
    assert response.status_code == 403 and response.json()["Message"] == DENIED
    assert _repo_state(repo.node) == before


def test_without_a_token_the_server_refuses_every_write(repo: Repo) -> None:
    before = _repo_state(repo.node)
    with KuboServer(repo.node) as server:
        assert server.writes == "refused"
        for command in sorted(WRITES):
            params, files = WRITES[command](repo)
            response = _post(server, command, params, files, {"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 403, (command, response.text)
            assert "--auth-token-file" in response.json()["Message"]
        assert _post(server, "cat", READS["cat"](repo), None, {}).status_code == 200
    assert _repo_state(repo.node) == before


def test_unauthenticated_writes_only_when_asked_for(repo: Repo) -> None:
    with KuboServer(repo.node, allow_unauthenticated_writes=True) as server:
        assert server.writes == "open"
        assert _post(server, "pin/rm", {"arg": str(repo.pinned)}, None, {}).status_code == 200
    assert not repo.node.pin_ls(type="recursive")
    with pytest.raises(IpfsError, match="not both"):
        KuboServer(repo.node, auth_token=TOKEN, allow_unauthenticated_writes=True)


# ---- the client ---------------------------------------------------------------------------------------------


def test_kubo_client_sends_the_token(repo: Repo) -> None:
    with KuboServer(repo.node, auth_token=TOKEN) as server:
        with KuboClient(server.url, timeout_s=10, api_token=TOKEN) as client:
            assert TOKEN not in repr(client)
            added = client.add_bytes(b"written with the token")
            assert client.pin_rm(repo.pinned) == [repo.pinned]
            client.repo_gc()
            assert not repo.node.store.has(repo.pinned)
            assert client.cat(added.cid) == b"written with the token"
        basic = open_ipfs(api_url=server.url, api_token=f"basic:someone:{TOKEN}")  # Kubo's basic:user:pw form
        try:
            assert basic.dag_put({"through": "basic"}, pin=True) in repo.node.pin_ls(type="recursive")
        finally:
            basic.close()


def test_kubo_client_without_or_with_a_wrong_token_gets_a_clear_error(repo: Repo) -> None:
    before = _repo_state(repo.node)
    with KuboServer(repo.node, auth_token=TOKEN) as server:
        with KuboClient(server.url, timeout_s=10) as anonymous:
            assert anonymous.cat(repo.pinned)  # reads need no token
            with pytest.raises(KuboRpcError) as refused:
                anonymous.pin_rm(repo.pinned)
        assert refused.value.details["status"] == 403
        assert "Access Denied" in refused.value.message and "FLUENCE_DAO_IPFS__API_TOKEN" in refused.value.message
        wrong = "wrong-token-0123456789abcdef"
        with KuboClient(server.url, timeout_s=10, api_token=wrong) as client, pytest.raises(KuboRpcError) as refused:
            client.repo_gc()
        assert "refused the configured token" in refused.value.message
        assert wrong not in refused.value.message and wrong not in json.dumps(refused.value.to_dict())
    assert _repo_state(repo.node) == before


def test_authorization_header_follows_kubos_auth_secret_forms() -> None:
    # Kubo's config.ConvertAuthSecret cases
    assert authorization_header("someToken") == "Bearer someToken"
    assert authorization_header("bearer:someToken") == "Bearer someToken"
    assert authorization_header("basic:user:pass") == "Basic dXNlcjpwYXNz"
    assert authorization_header("basic:dXNlcjpwYXNz") == "Basic dXNlcjpwYXNz"
    with pytest.raises(IpfsError, match="unknown IPFS API secret type 'digest'") as unknown:
        authorization_header("digest:s3cret-value")
    assert "s3cret-value" not in unknown.value.message
    with pytest.raises(IpfsError, match="printable ASCII"):
        authorization_header("two words")


# ---- the token file -----------------------------------------------------------------------------------------


def test_the_token_file_is_created_private_once_and_reused(tmp_path: Path) -> None:
    path = api_token_path(tmp_path / "state")
    assert path == tmp_path / "state" / "ipfs" / "api-token"
    assert ensure_api_token_file(path) is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    token = load_server_token(path)
    assert len(token) >= 40
    assert ensure_api_token_file(path) is False and load_server_token(path) == token  # reused, not replaced
    other = tmp_path / "other" / "ipfs" / "api-token"
    ensure_api_token_file(other)
    assert load_server_token(other) != token  # random
    path.chmod(0o644)
    with pytest.raises(IpfsError, match="chmod 600"):
        load_server_token(path)
    assert ensure_api_token_file(path) is False and stat.S_IMODE(path.stat().st_mode) == 0o600  # tightened
    short = tmp_path / "short"
    short.write_text("abc\n")
    short.chmod(0o600)
    with pytest.raises(IpfsError, match="at least 16"):
        load_server_token(short)


def test_api_token_for_prefers_the_setting_and_keeps_the_devnet_token_on_loopback(tmp_path: Path) -> None:
    from pydantic import SecretStr

    state = tmp_path / "state"
    assert api_token_for(state, None) is None  # no devnet token file
    ensure_api_token_file(api_token_path(state))
    devnet_token = load_server_token(api_token_path(state))
    assert api_token_for(state, None) == devnet_token
    assert api_token_for(state, None, api_url="http://127.0.0.1:5001") == devnet_token
    assert api_token_for(state, None, api_url="https://kubo.example.invalid:5001") is None
    assert api_token_for(state, SecretStr("configured"), api_url="https://kubo.example.invalid") == "configured"
    assert api_token_for(state, "configured") == "configured"


def _serve(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLUENCE_DAO_IPFS")}
    env["FLUENCE_DAO_STATE_DIR"] = str(tmp_path / "state")
    argv = [sys.executable, "-m", "fluence_dao", "ipfs", "serve", "--port", "0", "--repo", str(tmp_path / "repo")]
    return subprocess.Popen(
        [*argv, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[str], str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(*extra: str) -> tuple[subprocess.Popen[str], str]:
        proc = _serve(tmp_path, *extra)
        procs.append(proc)
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else url
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.post(f"{url}/api/v0/version", timeout=2)
                return proc, url
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "ipfs serve did not answer"
                time.sleep(0.05)

    yield start
    for proc in procs:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_ipfs_serve_reads_its_token_from_a_file_never_from_argv_or_env(tmp_path: Path, served: Any) -> None:
    token_file = tmp_path / "state" / "ipfs" / "api-token"
    proc, url = served("--auth-token-file", str(token_file))
    token = token_file.read_text().strip()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    environ = Path(f"/proc/{proc.pid}/environ").read_bytes()
    assert token_file.name.encode() in cmdline
    assert token.encode() not in cmdline and token.encode() not in environ
    files = _multipart(b"served write")
    assert httpx.post(f"{url}/api/v0/add", files=files, timeout=10).status_code == 403
    files = _multipart(b"served write")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{url}/api/v0/add", files=files, headers=headers, timeout=10).status_code == 200


def test_ipfs_serve_without_a_token_file_refuses_writes(tmp_path: Path, served: Any) -> None:
    _, url = served()
    assert httpx.post(f"{url}/api/v0/repo/gc", timeout=10).status_code == 403
    assert httpx.post(f"{url}/api/v0/version", timeout=10).status_code == 200
    both = _serve(tmp_path, "--auth-token-file", str(tmp_path / "t"), "--allow-unauthenticated-writes")
    _, err = both.communicate(timeout=60)
    assert both.returncode == 2 and "exclude each other" in err


# ---- the devnet: governed CIDs survive an attacker's pin/rm + repo/gc ---------------------------------------


def _cli(state_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_cli(state_dir, *args, check=check, timeout=600)


def test_governed_cids_cannot_be_unpinned_or_collected_without_the_token(tmp_path: Path, require: Any) -> None:
    from fluence_dao.config import load_settings
    from fluence_dao.devnet import anvil_binary
    from fluence_dao.errors import ToolNotFoundError

    require(shutil.which("node"), "node is not installed (publish compiles the interval's Aqua)")
    state = tmp_path / "state"
    try:
        anvil_binary(load_settings({"state_dir": state}, env_file=None))
    except ToolNotFoundError as err:
        require(False, err.message)
    try:
        info = json.loads(_cli(state, "devnet", "up", "--json").stdout)
        api = info["ipfs"]["api_url"]
        assert info["ipfs"]["api_token_file"] == str(state / "ipfs" / "api-token")
        published = json.loads(_cli(state, "publish", "--json").stdout)  # writes through the server, with the token
        cids = {a["key"]: a["cid"] for a in published["artifacts"]}
        assert cids, published
        for key, cid in cids.items():  # the CIDs governance recorded
            assert _cli(state, "ens", "get", published["project_name"], key).stdout.strip() == cid
        node = LocalIpfs(state / "ipfs")
        before = {cid: node.cat(cid) for cid in cids.values()}

        # the attack, by a local process without the token
        with httpx.Client(base_url=api, timeout=30) as attacker:
            for cid in cids.values():
                refused = attacker.post("/api/v0/pin/rm", params={"arg": cid})
                assert refused.status_code == 403 and refused.json()["Message"] == DENIED
            gc = attacker.post("/api/v0/repo/gc")
            assert gc.status_code == 403 and gc.json()["Type"] == "error"
            for cid in cids.values():
                assert attacker.post("/api/v0/cat", params={"arg": cid}).content == before[cid]  # reads stay open
        pins = node.pin_ls(type="recursive")
        for cid, data in before.items():
            assert Cid.parse(cid) in pins and node.cat(cid) == data

        # the CLI (the operator) has the token: the same calls go through
        token = (state / "ipfs" / "api-token").read_text().strip()
        some = next(iter(cids.values()))
        with httpx.Client(base_url=api, timeout=30, headers={"Authorization": f"Bearer {token}"}) as operator:
            assert operator.post("/api/v0/pin/rm", params={"arg": some}).status_code == 200
        assert Cid.parse(some) not in node.pin_ls(type="recursive")
        _cli(state, "ipfs", "pin", "add", some, "--api", api)  # the CLI finds the devnet's token by itself
        assert Cid.parse(some) in node.pin_ls(type="recursive")
    finally:
        _cli(state, "devnet", "down", check=False)
