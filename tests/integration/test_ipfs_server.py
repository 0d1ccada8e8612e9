"""KuboServer over raw HTTP: Kubo's status codes and error shape, streaming uploads, concurrent clients."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from _helpers import in_threads
from fluence_dao.ipfs import Cid, KuboClient, KuboServer, LocalIpfs

pytestmark = pytest.mark.integration

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KuboServer]:
    with KuboServer(LocalIpfs(tmp_path / "repo", fsync=False), auth_token=TOKEN) as srv:
        yield srv


def test_listens_on_loopback_only(server: KuboServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")


def test_kubo_status_codes(server: KuboServer) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH) as http:
        assert http.get("/api/v0/version").status_code == 405
        assert http.post("/api/v0/no/such/command").status_code == 404
        assert http.post("/api/v0/version", headers={"Origin": "http://evil.example"}).status_code == 403
        assert http.post("/api/v0/version", headers={"Origin": server.url}).status_code == 200
        missing = http.post("/api/v0/block/get")
        assert missing.status_code == 400 and "arg" in missing.json()["Message"]
        error = http.post("/api/v0/block/get", params={"arg": str(Cid.for_data(b"absent"))})
        assert error.status_code == 500
        body = error.json()
        assert body["Type"] == "error" and body["Code"] == 0 and str(Cid.for_data(b"absent")) in body["Message"]


def test_chunked_upload_and_stream_output(server: KuboServer) -> None:
    data = os.urandom(1_000_000)

    def body() -> Iterator[bytes]:
        boundary = b"XyZ"
        yield b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n'
        yield b"Content-Type: application/octet-stream\r\n\r\n"
        for i in range(0, len(data), 70_001):
            yield data[i : i + 70_001]
        yield b"\r\n--" + boundary + b"--\r\n"

    with httpx.Client(base_url=server.url, headers=AUTH) as http:
        response = http.post(
            "/api/v0/add",
            params={"progress": "true", "cid-version": "1"},
            content=body(),
            headers={"Content-Type": "multipart/form-data; boundary=XyZ"},
        )
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[-1]["Name"] == "f.bin" and "Hash" in lines[-1]
    assert any(line.get("Bytes") == len(data) for line in lines)
    assert server.node.cat(lines[-1]["Hash"]) == data


def test_two_clients_share_one_store(server: KuboServer) -> None:
    def worker(index: int) -> Cid:
        with KuboClient(server.url, timeout_s=30, api_token=TOKEN) as client:
            return client.add_bytes(f"payload {index}".encode() * 1000).cid

    cids = in_threads(worker, 6)
    with KuboClient(server.url) as reader:
        for index, cid in enumerate(cids):
            assert reader.cat(cid) == f"payload {index}".encode() * 1000
        assert set(reader.pin_ls(type="recursive")) == set(cids)


def test_dag_get_defaults_to_dag_json(server: KuboServer) -> None:
    cid = server.node.dag_put({"b": b"\x01", "n": 1})
    with httpx.Client(base_url=server.url) as http:
        response = http.post("/api/v0/dag/get", params={"arg": str(cid)})
    assert response.content == b'{"b":{"/":{"bytes":"AQ"}},"n":1}'


def test_port_in_use_is_a_clean_error(server: KuboServer, tmp_path: Path) -> None:
    from fluence_dao.errors import IpfsError

    with pytest.raises(IpfsError, match=str(server.port)):
        KuboServer(LocalIpfs(tmp_path / "other", fsync=False), port=server.port)
