"""The peer daemon as `devnet up` runs it: real processes on 127.0.0.1 (anvil, the IPFS RPC server, the daemon),
compiled Aqua through RemoteNetwork and `fluence-dao run`, signatures, the management key, hardening, stop."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from _helpers import invoke_cli, process_running
from fluence_dao.config import load_settings
from fluence_dao.errors import AquaCallError, ParticleError, ToolNotFoundError
from fluence_dao.peer import KeyPair, Particle, call_function
from fluence_dao.peer.daemon import client_key_path, daemon_file
from fluence_dao.peer.remote import RemoteNetwork, connect_from_settings, ping
from fluence_dao.peer.wire import FrameReader, decode_message, encode_control, encode_particle, encode_varint, frame

pytestmark = pytest.mark.integration

AQUA = Path(__file__).resolve().parents[1] / "aqua"


def _cli(env: dict[str, str], *args: str) -> Any:
    return invoke_cli(args, env)


def _text(result: Any) -> str:
    """What a failed command says: its output and the FluenceDaoError it raised (mapped by main() in a shell)."""
    return result.output + str(result.exception or "")


@dataclass
class Daemon:
    env: dict[str, str]
    state_dir: Path
    status: dict[str, Any]

    @property
    def address(self) -> str:
        return str(self.status["peer"]["address"])

    def settings(self) -> Any:
        return load_settings({"state_dir": self.state_dir}, env_file=None)

    def process(self, name: str) -> dict[str, Any]:
        return next(p for p in self.status["processes"] if p["name"] == name)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> Iterator[Daemon]:
    from fluence_dao.devnet import anvil_binary

    if not shutil.which("node"):
        pytest.fail("node is required in CI") if os.environ.get("CI") else pytest.skip("node is not installed")
    state_dir = tmp_path_factory.mktemp("peer-daemon-state")
    env = {"FLUENCE_DAO_STATE_DIR": str(state_dir), "FLUENCE_DAO_DEVNET__STATE_INTERVAL_S": "0"}
    try:
        anvil_binary(load_settings({"state_dir": state_dir}, env_file=None))
    except ToolNotFoundError as err:
        pytest.fail(err.message) if os.environ.get("CI") else pytest.skip(err.message)
    result = _cli(env, "devnet", "up", "--json")
    try:
        assert result.exit_code == 0, result.output
        status = _cli(env, "devnet", "status", "--json")
        assert status.exit_code == 0, status.output
        yield Daemon(env=env, state_dir=state_dir, status=json.loads(status.stdout))
    finally:
        _cli(env, "devnet", "down")


@pytest.fixture(scope="module")
def basics(compiled_aqua: Any) -> Any:
    return compiled_aqua("basics")


@pytest.fixture(scope="module")
def services(compiled_aqua: Any) -> Any:
    return compiled_aqua("services")


def test_devnet_up_runs_anvil_ipfs_and_the_peer_once(daemon: Daemon) -> None:
    status = daemon.status
    assert status["healthy"] is True
    names = [p["name"] for p in status["processes"]]
    assert [n for n in names if n in ("anvil", "ipfs", "peer")] == ["anvil", "ipfs", "peer"]  # start order
    for proc in (daemon.process(name) for name in ("anvil", "ipfs", "peer")):
        assert proc["healthy"] and proc["running"] and process_running(proc["pid"]) and proc["port"] > 0
    peer = daemon.process("peer")
    assert status["peer"]["address"] == f"127.0.0.1:{peer['port']}"
    assert status["ipfs"]["api_url"] == f"http://127.0.0.1:{daemon.process('ipfs')['port']}"
    client_id = KeyPair.load_or_create(client_key_path(daemon.state_dir)).peer_id
    assert status["peer"]["management_peer_ids"] == [client_id]
    facts = ping(daemon.address)
    assert facts is not None and facts["pid"] == peer["pid"] and facts["peer_id"] == status["peer"]["peer_id"]

    again = _cli(daemon.env, "devnet", "up", "--json")
    assert again.exit_code == 0, again.output
    processes = json.loads(again.stdout)["processes"]
    for name in ("anvil", "ipfs", "peer"):
        assert processes[name]["started_now"] is False
        assert processes[name]["pid"] == daemon.process(name)["pid"]


def test_the_daemon_is_hardened(daemon: Daemon) -> None:
    pid = daemon.process("peer")["pid"]
    facts = ping(daemon.address)
    assert facts is not None and facts["dumpable"] is False  # prctl(PR_GET_DUMPABLE) inside the daemon
    limits = Path(f"/proc/{pid}/limits").read_text().splitlines()
    core = next(line for line in limits if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"]  # soft and hard RLIMIT_CORE


def test_greet_runs_on_the_daemon(daemon: Daemon, basics: Any) -> None:
    before = ping(daemon.address)
    assert before is not None
    with RemoteNetwork(daemon.address, KeyPair.generate()) as net:
        assert net.relay.peer_id == daemon.status["peer"]["peer_id"]
        assert call_function(net, basics.function("greet"), ["daemon"]) == "hello, daemon"
        assert call_function(net, basics.function("add_numbers"), [7, 8]) == [15, True]
    after = ping(daemon.address)
    assert after is not None and after["particles_received"] >= before["particles_received"] + 2


def test_two_connections_with_one_key_each_get_their_own_replies(daemon: Daemon, basics: Any) -> None:
    """Two CLI processes with the same client key at once: a reply goes back over the connection its
    particle came from, even when the other connection spoke last."""
    import threading

    pair = KeyPair.generate()
    slow: dict[str, Any] = {}

    def run_slow() -> None:
        with RemoteNetwork(daemon.address, pair) as net:
            try:
                slow["result"] = call_function(net, basics.function("race_timeout"), [1500], ttl_ms=8000)
            except Exception as err:  # reported below
                slow["error"] = err

    thread = threading.Thread(target=run_slow)
    thread.start()
    deadline = time.monotonic() + 5
    while (facts := ping(daemon.address)) is not None and time.monotonic() < deadline:
        if facts["connections"] >= 2:  # ours (the ping) and the slow one, whose particle is on the daemon now
            break
        time.sleep(0.05)
    time.sleep(0.2)
    with RemoteNetwork(daemon.address, pair) as net:  # the same peer id on a second connection, while slow waits
        assert call_function(net, basics.function("greet"), ["second"]) == "hello, second"
    thread.join(15)
    assert slow.get("error") is None and slow.get("result") == "timed out"


IPFS_AQUA = """
aqua DaemonIpfs

import "@fluencelabs/aqua-lib/builtin.aqua"
import "ipfs.aqua"

export local_api, put_text, cat_from

func local_api() -> IpfsMultiaddrResult:
    on HOST_PEER_ID:
        r <- Ipfs.get_local_api_multiaddr()
    <- r

func put_text(text: string) -> IpfsPutResult:
    on HOST_PEER_ID:
        path <- Vault.put(text)
        put <- Ipfs.put(path)
    <- put

func cat_from(cid: string, api: string) -> IpfsCatResult:
    on HOST_PEER_ID:
        r <- Ipfs.cat_from(cid, api)
    <- r
"""


def test_aqua_ipfs_on_the_daemon_uses_the_devnet_ipfs(daemon: Daemon, tmp_path: Path) -> None:
    """The daemon's aqua-ipfs announces the devnet's IPFS server, shares its repo, and fetches from it; storing
    and fetching from another node are the operator's (a stranger may read and is refused the rest)."""
    import urllib.request

    from fluence_dao.aqua import compile_aqua

    source = tmp_path / "daemon_ipfs.aqua"
    source.write_text(IPFS_AQUA.replace('import "ipfs.aqua"', f'import "{AQUA.parents[1] / "aqua" / "ipfs.aqua"}"'))
    compiled = compile_aqua(source)
    api_url, api_multiaddr = daemon.status["ipfs"]["api_url"], daemon.status["ipfs"]["api_multiaddr"]
    with RemoteNetwork(daemon.address, KeyPair.generate()) as stranger:
        announced = call_function(stranger, compiled.function("local_api"), [])
        assert announced["success"] is True and announced["multiaddr"] == api_multiaddr
        refused = call_function(stranger, compiled.function("put_text"), ["a stranger's text"])
        assert refused["success"] is False and "Forbidden" in refused["error"]
    with RemoteNetwork(daemon.address, KeyPair.load_or_create(client_key_path(daemon.state_dir))) as net:
        text = f"put on the daemon {time.time()}"
        put = call_function(net, compiled.function("put_text"), [text])
        assert put["success"] is True, put
        cid = put["hash"]
        # the IPFS RPC server (another process) serves the block the daemon stored in the shared repo
        request = urllib.request.Request(f"{api_url}/api/v0/cat?arg={cid}", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.read().decode() == text
        added = _cli(daemon.env, "ipfs", "add", "--api", api_url, "--json", str(_write(tmp_path / "f.txt", "via rpc")))
        assert added.exit_code == 0, added.output
        added_cid = json.loads(added.stdout)["cid"]
        got = call_function(net, compiled.function("cat_from"), [added_cid, api_multiaddr])
        assert got["success"] is True and got["contents"] == "via rpc"


def test_the_daemon_mounts_the_http_effector_as_curl(daemon: Daemon, tmp_path: Path) -> None:
    """The daemon's `curl` reaches the chain RPC of its devnet (and only allowlisted origins); the service holds
    an effector, so a stranger's key may not call it."""
    from fluence_dao.aqua import compile_aqua
    from fluence_dao.build import build_modules
    from fluence_dao.peer.particle import KeyPair as Keys

    wasm = Path(build_modules(["curl_adapter"], tmp_path)[0].path).read_bytes()
    multi = compile_aqua(AQUA / "multimodule.aqua")
    network = connect_from_settings(daemon.settings())
    assert network is not None
    with network:
        call_function(network, multi.function("deploy_curl"), [list(wasm), "curl"])
        result = call_function(network, multi.function("chain_id"), [daemon.status["rpc_url"]])
        outside = call_function(network, multi.function("curl_get"), ["http://127.0.0.1:1/"])
    assert result["error"] == "" and int(result["result"], 16) == 31337
    assert not outside["success"] and "not in this peer's HTTP allowlist" in outside["error"]
    with RemoteNetwork(daemon.address, Keys.generate()) as stranger, pytest.raises(AquaCallError, match="Forbidden"):
        call_function(stranger, multi.function("chain_id"), [daemon.status["rpc_url"]])


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_services_outlive_cli_invocations_but_not_the_daemon(daemon: Daemon, services: Any, tmp_path: Path) -> None:
    from peer_fixtures.counter import counter_wasm

    data = tmp_path / "deploy.json"
    data.write_text(json.dumps({"wasm": list(counter_wasm()), "name": "counter", "alias": "counter"}))
    aqua = str(AQUA / "services.aqua")
    before = ping(daemon.address)
    assert before is not None
    deployed = _cli(daemon.env, "run", "--daemon", "-i", aqua, "-f", "deploy(wasm, name, alias)", "--data", f"@{data}")
    assert deployed.exit_code == 0, deployed.output
    first = _cli(daemon.env, "run", "--daemon", "-i", aqua, "-f", "count_twice()", "--json")
    second = _cli(daemon.env, "run", "--daemon", "-i", aqua, "-f", "count_twice()", "--json")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert json.loads(first.stdout) == [1, 2] and json.loads(second.stdout) == [3, 4]  # one instance, kept
    facts = ping(daemon.address)
    assert facts is not None and facts["services"] == before["services"] + 1

    # a local run (--local) is a fresh network without the service
    local = _cli(daemon.env, "run", "--local", "-i", aqua, "-f", "count_twice()")
    assert local.exit_code == 1 and "Service with id 'counter' not found" in _text(local)

    # restarting the daemon destroys its services, by design
    from fluence_dao.devnet import Devnet

    devnet = Devnet(daemon.settings())
    assert devnet.process("peer").stop()
    restarted = devnet.up()["processes"]["peer"]
    assert restarted["started_now"] is True
    daemon.status = json.loads(_cli(daemon.env, "devnet", "status", "--json").stdout)
    gone = _cli(daemon.env, "run", "--daemon", "-i", aqua, "-f", "count_twice()")
    assert gone.exit_code == 1 and "Service with id 'counter' not found" in _text(gone)


def test_script_add_needs_the_management_key(daemon: Daemon, services: Any) -> None:
    add, remove = services.function("add_script"), services.function("remove_script")
    nox_error = "This function is only available to the host or worker spells"
    with RemoteNetwork(daemon.address, KeyPair.generate()) as stranger, pytest.raises(AquaCallError, match=nox_error):
        call_function(stranger, add, ["(null)", "3600"])
    settings = daemon.settings()
    manager = connect_from_settings(settings)
    assert manager is not None
    with manager:
        assert manager.client().peer_id == KeyPair.load_or_create(client_key_path(daemon.state_dir)).peer_id
        script_id = call_function(manager, add, ["(null)", "3600"])
        assert len(script_id) == 36
        with (
            RemoteNetwork(daemon.address, KeyPair.generate()) as other,
            pytest.raises(AquaCallError, match="Forbidden"),
        ):
            call_function(other, remove, [script_id])
        assert call_function(manager, remove, [script_id]) is True


def _connect(address: str) -> socket.socket:
    host, port = address.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=5)


def _read(sock: socket.socket, reader: FrameReader) -> Any:
    while True:
        data = sock.recv(65536)
        assert data, "the daemon closed the connection"
        messages = reader.feed(data)
        if messages:
            assert len(messages) == 1
            return decode_message(messages[0])


def test_bad_signature_is_refused_and_the_daemon_keeps_serving(daemon: Daemon, basics: Any) -> None:
    pair = KeyPair.generate()
    good = Particle.create('(call %init_peer_id% ("op" "noop") [])', pair)
    tampered = replace(good, script='(call %init_peer_id% ("op" "identity") ["x"])')
    before = ping(daemon.address)
    assert before is not None
    with _connect(daemon.address) as sock:
        reader = FrameReader()
        sock.sendall(frame(encode_particle(tampered)))
        refused = _read(sock, reader)
        assert refused["action"] == "Refused" and refused["id"] == good.id
        assert "bad signature" in refused["reason"]
        expired = Particle.create("(null)", pair, ttl_ms=1)
        time.sleep(0.01)
        sock.sendall(frame(encode_particle(expired)))
        assert "expired" in _read(sock, reader)["reason"]
        sock.sendall(frame(b"\x81\x04\x92\x01\x02"))  # valid framing, not a map: refused, connection kept
        assert "not a MessagePack map" in _read(sock, reader)["reason"]
        sock.sendall(frame(encode_control("Ping")))
        pong = _read(sock, reader)
        assert pong["action"] == "Pong" and pong["particles_refused"] == before["particles_refused"] + 3
        assert pong["particles_received"] == before["particles_received"]  # none of them reached the peer
    # an oversize length prefix ends that connection with a reason; the daemon goes on
    with _connect(daemon.address) as sock:
        sock.sendall(encode_varint(4 * 2**20 + 1))
        assert "exceeds the limit" in _read(sock, FrameReader())["reason"]
        assert sock.recv(1) == b""
    # a RemoteNetwork raises on refusal instead of waiting for the TTL
    with RemoteNetwork(daemon.address, pair) as net:
        net._link.send(encode_particle(tampered))
        with pytest.raises(ParticleError, match=r"refused particle .*bad signature"):
            net.run_until(lambda: False, 5.0)
    with RemoteNetwork(daemon.address, pair) as net:
        assert call_function(net, basics.function("greet"), ["still here"]) == "hello, still here"


def test_peer_info_cli(daemon: Daemon) -> None:
    result = _cli(daemon.env, "peer", "info", "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["address"] == daemon.address and facts["peer_id"] == daemon.status["peer"]["peer_id"]
    assert facts["dumpable"] is False


def test_peer_serve_in_the_foreground(tmp_path: Path, services: Any, isolated_env: None) -> None:
    """`fluence-dao peer serve` on a free port: daemon.json tells clients where; --management-peer-id decides
    who may add scripts; SIGTERM ends it cleanly (exit 0, daemon.json removed)."""
    import signal
    import subprocess
    import sys

    manager = KeyPair.generate()
    argv = [sys.executable, "-m", "fluence_dao", "peer", "serve", "--port", "0", "--state-dir", str(tmp_path)]
    argv += ["--management-peer-id", manager.peer_id]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        settings = load_settings({"state_dir": tmp_path}, env_file=None)
        deadline = time.monotonic() + 60
        while (network := connect_from_settings(settings)) is None:
            assert proc.poll() is None, proc.communicate()[1].decode()
            assert time.monotonic() < deadline, "the daemon did not answer within 60 s"
            time.sleep(0.1)
        add = services.function("add_script")
        with network:  # the CLI key is not the management key here
            with pytest.raises(AquaCallError, match="only available to the host"):
                call_function(network, add, ["(null)", "3600"])
            assert network.daemon_info["management_peer_ids"] == [manager.peer_id]
            address = network.relay.address
        with RemoteNetwork(address, manager) as net:
            assert len(call_function(net, add, ["(null)", "3600"])) == 36
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr.decode()
        assert "stopped: its services are gone" in stderr.decode()
        assert not daemon_file(tmp_path).exists()
        assert ping(address) is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


QUIET_AQUA = """
aqua Quiet

import "@fluencelabs/aqua-lib/builtin.aqua"

export fail_quietly, greet_quietly

func fail_quietly(b58: string):
    on HOST_PEER_ID:
        x <- Op.string_from_b58(b58)

func greet_quietly(name: string):
    on HOST_PEER_ID:
        x <- Op.concat_strings("hello, ", name)
"""


def test_a_function_without_result_has_run_on_the_daemon_when_call_function_returns(
    daemon: Daemon, tmp_path: Path
) -> None:
    """No value comes back, so the client asks the daemon to Sync: errors on the daemon are still reported."""
    from fluence_dao.aqua import compile_aqua

    source = tmp_path / "quiet.aqua"
    source.write_text(QUIET_AQUA)
    quiet = compile_aqua(source)
    with RemoteNetwork(daemon.address, KeyPair.generate()) as net:
        before = ping(daemon.address)
        assert before is not None
        assert call_function(net, quiet.function("greet_quietly"), ["x"]) is None
        after = ping(daemon.address)
        assert after is not None and after["particles_processed"] > before["particles_processed"]
        with pytest.raises(AquaCallError, match="error decoding base58"):
            call_function(net, quiet.function("fail_quietly"), ["0OIl"])


def test_devnet_down_stops_everything(daemon: Daemon) -> None:  # last: the module's devnet ends here
    pids = {p["name"]: p["pid"] for p in daemon.status["processes"]}
    result = _cli(daemon.env, "devnet", "down", "--json")
    assert result.exit_code == 0, result.output
    stopped = json.loads(result.stdout)["stopped"]
    assert [n for n in stopped if n in ("anvil", "ipfs", "peer")] == ["peer", "ipfs", "anvil"]  # reverse order
    assert not any(process_running(pid) for pid in pids.values())
    assert ping(daemon.address) is None
    assert connect_from_settings(daemon.settings()) is None
    info = _cli(daemon.env, "peer", "info")
    assert info.exit_code == 1 and "no peer daemon answers" in _text(info)
    run = _cli(daemon.env, "run", "--daemon", "-i", str(AQUA / "basics.aqua"), "-f", 'greet("x")')
    assert run.exit_code == 1 and "no peer daemon is running" in _text(run)
