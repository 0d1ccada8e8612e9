"""The devnet's subgraph GraphQL endpoint: anyone on the machine may query it; nobody can make it read a huge body,
run an unbounded query or hold its threads forever (the stack of tests/security/conftest.py)."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlparse

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _url(stack) -> str:
    info = json.loads((stack.state_dir / "devnet" / "devnet.json").read_text())
    return str(info["subgraph"]["url"])


def test_a_huge_body_is_refused_unread(stack) -> None:
    url = urlparse(_url(stack))
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            f"POST {url.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {10**10}\r\n\r\n".encode()
        )  # announces 10 GB and sends none of it: the answer must come at once, not after reading
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.0 413") or answer.startswith("HTTP/1.1 413"), answer


def test_deep_queries_are_refused_and_small_ones_answer(stack) -> None:
    deep = "{ proposals { " + "votes { proposal { " * 10 + "id" + " } }" * 10 + " } }"
    reply = httpx.post(_url(stack), json={"query": deep}, timeout=10).json()
    assert "levels deep" in reply["errors"][0]["message"]
    ok = httpx.post(_url(stack), json={"query": "{ _meta { block { number } } }"}, timeout=10).json()
    assert ok["data"]["_meta"]["block"]["number"] >= 0
