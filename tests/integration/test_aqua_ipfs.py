"""The `aqua-ipfs` builtin: Aqua fetches a wasm module by CID from a Kubo RPC endpoint on 127.0.0.1, creates a
service from it and calls it; bytes that do not hash to the CID are refused; only allowed hosts are dialed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fluence_dao.ipfs import KuboServer, LocalIpfs
from fluence_dao.peer import PeerConfig, call_function
from fluence_dao.peer.builtins.aqua_ipfs import AquaIpfsService

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_fixtures.counter import counter_wasm

pytestmark = pytest.mark.integration

AQUA = Path(__file__).resolve().parents[1] / "aqua" / "ipfs_deploy.aqua"


class TamperingNodeFake:
    """A fake remote node: a real Kubo RPC client whose `cat` flips one byte of what the server sent, standing
    in for a compromised node (no such node can be run here)."""

    def __init__(self, url: str, timeout_s: float) -> None:
        from fluence_dao.ipfs import KuboClient

        self._client = KuboClient(url, timeout_s=timeout_s)

    def cat(self, path: str) -> bytes:
        data = bytearray(self._client.cat(path))
        data[len(data) // 2] ^= 0xFF
        return bytes(data)


@pytest.fixture(scope="module")
def compiled(compiled_aqua):
    return compiled_aqua(AQUA)


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """The 'remote' IPFS node: an embedded store served over Kubo's RPC API on a free loopback port."""
    node = LocalIpfs(tmp_path_factory.mktemp("remote-ipfs"))
    server = KuboServer(node, port=0)
    server.start()
    yield node, server
    server.stop()


@pytest.fixture
def net(tmp_path, local_network):
    local = LocalIpfs(tmp_path / "peer-ipfs")
    return local_network(config=PeerConfig(extra_builtins={"aqua-ipfs": AquaIpfsService(local)})), local


def _multiaddr(server) -> str:
    return f"/ip4/127.0.0.1/tcp/{server.port}"


def test_module_fetched_by_cid_becomes_a_service(compiled, remote, net) -> None:
    node, server = remote
    network, local = net
    cid = str(node.add_bytes(counter_wasm()).cid)
    result = call_function(network, compiled.function("deploy_from_ipfs"), [cid, _multiaddr(server), "governed"])
    assert result == "governed"
    assert local.cat(cid) == counter_wasm()  # a verified local copy was kept


def test_dialing_a_host_that_is_not_loopback_is_refused(compiled, net) -> None:
    network, _ = net
    result = call_function(
        network,
        compiled.function("cat_from"),
        ["QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", "/dns4/ipfs.invalid/tcp/5001"],
    )
    assert result["success"] is False
    assert "ipfs.invalid is not allowed" in result["error"]


def test_unknown_cid_reports_failure_without_breaking_the_peer(compiled, remote, net) -> None:
    node, server = remote
    network, _ = net
    missing = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"  # "hello world\n", never added here
    message = call_function(network, compiled.function("deploy_from_ipfs"), [missing, _multiaddr(server), "x"])
    assert missing in message
    cid = str(node.add_bytes(counter_wasm()).cid)
    assert call_function(network, compiled.function("deploy_from_ipfs"), [cid, _multiaddr(server), "ok"]) == "ok"


def test_put_then_get_through_the_vault(compiled, net) -> None:
    network, local = net
    cid, back = call_function(network, compiled.function("put_and_get"), ["hello world\n"])
    assert back == "hello world\n"
    assert cid == "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"  # Kubo: --cid-version 1
    assert local.cat(cid) == b"hello world\n"  # stored in the peer's own IPFS node


def test_bytes_that_do_not_hash_to_the_cid_are_refused(compiled, remote, tmp_path, local_network) -> None:
    node, server = remote
    service = AquaIpfsService(LocalIpfs(tmp_path / "peer-ipfs"), connect=TamperingNodeFake)
    network = local_network(config=PeerConfig(extra_builtins={"aqua-ipfs": service}))
    cid = str(node.add_bytes(counter_wasm()).cid)
    message = call_function(network, compiled.function("deploy_from_ipfs"), [cid, _multiaddr(server), "x"])
    assert message.startswith(f"content does not match its CID: expected {cid}, the bytes received hash to Qm")
    assert network.relay.services.services == {}  # no service was created from the tampered bytes
