"""The peer hosting the project's Zig modules (built from wasm/ by fluence_dao.build): a two-module blueprint
linked by import namespace, call parameters reaching the facade, and a mounted binary allowed by the peer (the
HTTP effector as curl), whose service only its creator, the host or management peers may call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from _helpers import QuietHandler, loopback_server
from fluence_dao.peer import PeerConfig, call_function

pytestmark = pytest.mark.integration

AQUA = Path(__file__).resolve().parents[1] / "aqua"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, bytes]:
    from fluence_dao.build import build_modules

    out = tmp_path_factory.mktemp("wasm")
    modules = build_modules(["pingpong_effector", "pingpong_facade", "curl_adapter"], out)
    return {m.name: Path(m.path).read_bytes() for m in modules}


@pytest.fixture(scope="module")
def multi(compiled_aqua) -> object:
    return compiled_aqua("multimodule")


def test_two_module_service_with_call_parameters(local_network, built, multi) -> None:
    net = local_network()
    owner = net.client()
    service_id = call_function(
        net,
        multi.function("deploy_pingpong"),
        [list(built["pingpong_effector"]), list(built["pingpong_facade"])],
        client=owner,
    )
    ball = call_function(net, multi.function("rally"), ["serve", ["a", "b"]])
    assert ball["hits"] == 2 and ball["text"].startswith("serve")
    assert len(ball["trail"]) == 2
    assert call_function(net, multi.function("whoami"), []) == service_id  # CallParameters.service_id


@pytest.fixture()
def web() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering every GET with "hello from <path>"."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self.reply(f"hello from {self.path}".encode())

    with loopback_server(Handler) as server:
        yield f"http://127.0.0.1:{server.server_port}"


def test_mounted_binary_only_when_allowed(local_network, built, multi, web) -> None:
    from fluence_dao.errors import AquaCallError
    from fluence_dao.peer.http_effector import HttpEffector

    effector = HttpEffector({web: {}})
    allowed = local_network(config=PeerConfig(allowed_binaries={"curl": effector}), name="a")
    owner = allowed.client()
    call_function(allowed, multi.function("deploy_curl"), [list(built["curl_adapter"]), "curl"], client=owner)
    result = call_function(allowed, multi.function("curl_get"), [web + "/x"], client=owner)
    assert result["success"] and result["status"] == 200 and result["body"] == "hello from /x"
    outside = call_function(allowed, multi.function("curl_get"), ["http://127.0.0.1:1/"], client=owner)
    assert not outside["success"] and "not in this peer's HTTP allowlist" in outside["error"]
    # the service holds an effector: a stranger (not its creator, the host or a management peer) is refused
    with pytest.raises(AquaCallError, match=r"Forbidden\. User id '.*' cannot call service .*effector curl"):
        call_function(allowed, multi.function("curl_get"), [web + "/y"], client=allowed.client())
    refused = local_network(name="r")
    with pytest.raises(AquaCallError, match="isn't in the configured list of binaries"):
        call_function(refused, multi.function("deploy_curl"), [list(built["curl_adapter"]), "curl"])
    effector.close()
