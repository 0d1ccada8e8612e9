"""The peer hosting the project's Zig modules (built from wasm/ by fluence_dao.build): a two-module blueprint
linked by import namespace, call parameters reaching the facade, and a mounted binary allowed by the peer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fluence_dao.aqua import compile_aqua
from fluence_dao.peer import LocalNetwork, PeerConfig, call_function

pytestmark = pytest.mark.integration

AQUA = Path(__file__).resolve().parents[1] / "aqua"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, bytes]:
    from fluence_dao.build import build_modules

    out = tmp_path_factory.mktemp("wasm")
    modules = build_modules(["pingpong_effector", "pingpong_facade", "curl_adapter"], out)
    return {m.name: Path(m.path).read_bytes() for m in modules}


@pytest.fixture(scope="module")
def multi(require) -> object:
    if not shutil.which("node"):
        import os

        if os.environ.get("CI"):
            pytest.fail("node is required in CI")
        pytest.skip("node is not installed")
    return compile_aqua(AQUA / "multimodule.aqua")


def test_two_module_service_with_call_parameters(tmp_path, built, multi) -> None:
    net = LocalNetwork(1, base_dir=tmp_path)
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


def test_mounted_binary_only_when_allowed(tmp_path, built, multi, require) -> None:
    curl = shutil.which("curl")
    require(curl, "curl is not installed")
    allowed = LocalNetwork(1, base_dir=tmp_path / "a", config=PeerConfig(allowed_binaries={"curl": curl}))
    call_function(allowed, multi.function("deploy_curl"), [list(built["curl_adapter"]), curl])
    result = call_function(allowed, multi.function("curl_version"), [])
    assert result["ret_code"] == 0 and b"curl" in bytes(result["stdout"])
    refused = LocalNetwork(1, base_dir=tmp_path / "r")
    from fluence_dao.errors import AquaCallError

    with pytest.raises(AquaCallError, match="isn't in the configured list of binaries"):
        call_function(refused, multi.function("deploy_curl"), [list(built["curl_adapter"]), curl])
