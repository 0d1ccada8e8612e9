"""Fluence's real wire protocol: js-client 0.9.0 uses our peer daemon as its relay over libp2p (ws, noise, yamux),
and the CLI is a libp2p client of a relay (`fluence-dao run --relay MULTIADDR`).

The daemon runs in this process with `libp2p_port=0`; the js side is tests/js/relay_client.mjs (real js-client,
its own AquaVM), the Aqua is tests/js/relay.aqua, the signer is target/wasm/signer.wasm built from wasm/signer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from _helpers import QuietHandler, invoke_cli, loopback_server
from fluence_dao.cli.main import app
from fluence_dao.config import load_settings
from fluence_dao.errors import ParticleError, PeerError
from fluence_dao.peer import call_function
from fluence_dao.peer.daemon import DaemonConfig, PeerDaemon, client_key_path
from fluence_dao.peer.libp2p import Libp2pEndpoint, Libp2pRelayNetwork, parse_relay_multiaddr
from fluence_dao.peer.particle import KeyPair, Particle
from fluence_dao.peer.wire import MAX_MESSAGE_BYTES, encode_particle, encode_varint

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RELAY_AQUA = ROOT / "tests" / "js" / "relay.aqua"
DRIVER = ROOT / "tests" / "js" / "relay_client.mjs"


@pytest.fixture(scope="module")
def relay_aqua(compiled_aqua: Any) -> Any:
    return compiled_aqua(RELAY_AQUA)  # node also runs the js-client


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> Iterator[PeerDaemon]:
    state_dir = tmp_path_factory.mktemp("libp2p-daemon")
    running = PeerDaemon(
        DaemonConfig(settings=load_settings({"state_dir": state_dir}, env_file=None), libp2p_port=0)
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def signer_wasm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from fluence_dao.build import build_modules

    out = tmp_path_factory.mktemp("wasm")
    (module,) = build_modules(["signer"], out)
    return Path(module.path).read_bytes()


def _wait(condition: Any, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_the_daemon_listens_on_a_loopback_websocket_multiaddr_and_says_so(daemon: PeerDaemon) -> None:
    multiaddr = daemon.libp2p.multiaddr
    parsed = parse_relay_multiaddr(multiaddr)
    assert parsed.websocket and parsed.peer_id == daemon.peer_id
    assert multiaddr == f"/ip4/127.0.0.1/tcp/{parsed.port}/ws/p2p/{daemon.peer_id}"
    assert daemon.info()["libp2p_multiaddr"] == multiaddr
    record = json.loads((daemon.config.state_dir / "peer" / "daemon.json").read_text())
    assert record["libp2p_multiaddr"] == multiaddr


def test_a_libp2p_client_sees_a_fluence_identify_and_runs_aqua(daemon: PeerDaemon, relay_aqua: Any) -> None:
    before = daemon.particles_received
    client = KeyPair.generate()
    with Libp2pRelayNetwork(daemon.libp2p.multiaddr, client) as net:
        assert daemon.contact(client.peer_id) == []  # a connected client: reachable, no listen address
        assert net.relay_info["protocol_version"] == "/fluence/particle/2.0.0"
        assert {"/fluence/particle/2.0.0", "/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"} <= set(net.relay_info["protocols"])
        results = [call_function(net, relay_aqua.function("one_call"), []) for _ in range(3)]
    assert results == ["ab"] * 3
    assert daemon.particles_received >= before + 3
    assert _wait(lambda: client.peer_id not in daemon.libp2p.connected_peers())  # closing hangs up at once
    assert daemon.contact(client.peer_id) is None


def test_js_client_uses_our_daemon_as_its_relay(daemon: PeerDaemon, relay_aqua: Any, signer_wasm: bytes) -> None:
    # the signer service, deployed by the management key (the CLI's) over libp2p, its key created in wasm memory
    manager = KeyPair.load_or_create(client_key_path(daemon.config.state_dir))
    with Libp2pRelayNetwork(daemon.libp2p.multiaddr, manager) as net:
        service_id, initiated = call_function(
            net, relay_aqua.function("deploy_signer"), [list(signer_wasm)], ttl_ms=60_000
        )
    assert initiated["success"], initiated
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}", initiated["value"])

    request = {
        "relay": daemon.libp2p.multiaddr,
        "functions": {n: {"script": f.script, "funcDef": f.func_def} for n, f in relay_aqua.functions.items()},
        "signerServiceId": service_id,
    }
    proc = subprocess.run(
        ["node", str(DRIVER)], input=json.dumps(request).encode(), capture_output=True, timeout=120, cwd=ROOT
    )
    reply = json.loads(proc.stdout.decode() or "{}")
    assert proc.returncode == 0 and "fatal" not in reply, (reply, proc.stderr.decode()[-3000:])
    assert reply["relayPeerId"] == daemon.peer_id
    # Peer.identify on the relay, through js-client's schema conversion of the Info record
    assert reply["identify"]["node_version"].startswith("fluence-dao")
    assert reply["identify"]["air_version"] == "0.62.0"  # the AquaVM our peer runs (@fluencelabs/avm 0.62.0)
    port = parse_relay_multiaddr(daemon.libp2p.multiaddr).port
    assert f"/ip4/127.0.0.1/tcp/{port}/ws" in reply["identify"]["external_addresses"]
    # the signer hosted on our peer answers js-client with the address its initiate() created
    assert reply["signerAddress"] == {"success": True, "error": "", "value": initiated["value"]}
    # client A -> our relay -> client B's js service (which names the particle's init peer) -> back to A
    assert reply["clientA"] != reply["clientB"]
    assert reply["hello"] == f"hello js from {reply['clientA']}"


def test_a_particle_with_a_bad_signature_over_libp2p_is_dropped(daemon: PeerDaemon) -> None:
    sender = KeyPair.generate()
    endpoint = Libp2pEndpoint(sender, lambda _peer, _message: None).start()
    try:
        endpoint.connect(parse_relay_multiaddr(daemon.libp2p.multiaddr))
        good = Particle.create('(call %init_peer_id% ("op" "noop") [])', sender, ttl_ms=10_000)
        forged = Particle(
            id=good.id,
            init_peer_id=good.init_peer_id,
            timestamp_ms=good.timestamp_ms,
            ttl_ms=good.ttl_ms,
            script=good.script + " ",
            signature=good.signature,
            data=b"",
        )
        refused, received = daemon.particles_refused, daemon.particles_received
        assert endpoint.send(daemon.peer_id, encode_particle(forged))
        assert _wait(lambda: daemon.particles_refused == refused + 1)
        assert daemon.particles_received == received
    finally:
        endpoint.stop()


def test_a_stream_announcing_over_4_mib_is_reset_and_the_daemon_keeps_serving(
    daemon: PeerDaemon, caplog: pytest.LogCaptureFixture
) -> None:
    sender = KeyPair.generate()
    endpoint = Libp2pEndpoint(sender, lambda _peer, _message: None).start()
    try:
        endpoint.connect(parse_relay_multiaddr(daemon.libp2p.multiaddr))
        with caplog.at_level(logging.WARNING, logger="fluence_dao.peer.libp2p"):
            assert endpoint.send_stream_bytes(daemon.peer_id, encode_varint(MAX_MESSAGE_BYTES + 1) + b"\x81\x04")
            assert _wait(lambda: "exceeds the limit of 4194304 bytes (4 MiB)" in caplog.text), caplog.text
        assert sender.peer_id in caplog.text  # the log names who sent it
        received = daemon.particles_received
        good = Particle.create('(call %init_peer_id% ("op" "noop") [])', sender, ttl_ms=10_000)
        assert endpoint.send(daemon.peer_id, encode_particle(good))
        assert _wait(lambda: daemon.particles_received == received + 1)
        with pytest.raises(ParticleError, match=r"exceeds the limit"):  # and we never send one
            endpoint.send(daemon.peer_id, b"\x81\x04" + bytes(MAX_MESSAGE_BYTES))
    finally:
        endpoint.stop()


def test_a_particle_over_4_mib_is_refused_with_a_clear_error(daemon: PeerDaemon, relay_aqua: Any) -> None:
    with Libp2pRelayNetwork(daemon.libp2p.multiaddr, KeyPair.generate()) as net:
        with pytest.raises(ParticleError, match=r"exceeds the limit of 4194304 bytes \(4 MiB\)"):
            call_function(net, relay_aqua.function("signer_address"), ["x" * (MAX_MESSAGE_BYTES + 1)])
        assert call_function(net, relay_aqua.function("one_call"), []) == "ab"  # the connection still works


# ---- the CLI as a libp2p client: `run --relay` ----------------------------------------------------------------


def _cli(args: list[str], state_dir: Path) -> Any:
    return invoke_cli(args, {"FLUENCE_DAO_STATE_DIR": str(state_dir)})


def test_cli_run_with_relay(daemon: PeerDaemon, tmp_path: Path, relay_aqua: Any) -> None:
    before = daemon.particles_received
    result = _cli(
        ["run", "-i", str(RELAY_AQUA), "-f", "one_call()", "--relay", daemon.libp2p.multiaddr, "--json"], tmp_path
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == "ab"
    assert daemon.particles_received > before  # it went to our daemon over libp2p, not a local network


@contextlib.contextmanager
def _plain_http_server() -> Iterator[int]:
    class _Hello(QuietHandler):
        def do_GET(self) -> None:
            self.reply(b"hello, I am not a Fluence peer\n")

    with loopback_server(_Hello) as server:
        yield int(server.server_address[1])


def test_cli_relay_that_is_not_a_fluence_peer_fails_clearly(tmp_path: Path, relay_aqua: Any) -> None:
    with _plain_http_server() as port:
        relay = f"/ip4/127.0.0.1/tcp/{port}/ws/p2p/{KeyPair.generate().peer_id}"
        result = _cli(["run", "-i", str(RELAY_AQUA), "-f", "one_call()", "--relay", relay], tmp_path)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, PeerError), result.output
    said = result.exception.message
    assert "not a reachable Fluence peer" in said and relay in said and "HTTP 200" in said, said
    assert "Traceback" not in result.output  # py-libp2p's own tracebacks are not printed
    with pytest.raises(PeerError, match="not a reachable Fluence peer"), _plain_http_server() as port:
        Libp2pRelayNetwork(f"/ip4/127.0.0.1/tcp/{port}/p2p/{KeyPair.generate().peer_id}", KeyPair.generate())
    closed = socket.socket()  # a port nothing listens on
    closed.bind(("127.0.0.1", 0))
    with closed, pytest.raises(PeerError, match="not a reachable Fluence peer"):
        Libp2pRelayNetwork(
            f"/ip4/127.0.0.1/tcp/{closed.getsockname()[1]}/ws/p2p/{KeyPair.generate().peer_id}", KeyPair.generate()
        )


def test_peer_serve_with_libp2p_port_and_peer_info_and_run_relay(tmp_path: Path, relay_aqua: Any) -> None:
    """`peer serve --libp2p-port 0` in its own process: daemon.json and `peer info` give the libp2p multiaddr,
    `run --relay` reaches that process over libp2p, and SIGTERM still ends it cleanly."""
    import signal
    import sys

    argv = [sys.executable, "-m", "fluence_dao", "peer", "serve", "--port", "0", "--libp2p-port", "0"]
    proc = subprocess.Popen([*argv, "--state-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        record_file = tmp_path / "peer" / "daemon.json"
        assert _wait(record_file.exists, 60.0), proc.stderr.read1().decode() if proc.poll() is not None else ""
        record = json.loads(record_file.read_text())
        relay = parse_relay_multiaddr(record["libp2p_multiaddr"])
        assert relay.peer_id == record["peer_id"] and relay.websocket

        info = _cli(["peer", "info", "--json"], tmp_path)
        assert info.exit_code == 0, info.output
        assert json.loads(info.stdout)["libp2p_multiaddr"] == record["libp2p_multiaddr"]

        result = _cli(
            ["run", "-i", str(RELAY_AQUA), "-f", "one_call()", "--relay", relay.multiaddr, "--json"], tmp_path
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == "ab"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr.decode()
        assert "libp2p on " + record["libp2p_multiaddr"] in stderr.decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_flows_reach_the_peer_with_relay(daemon: PeerDaemon, tmp_path: Path) -> None:
    before = daemon.particles_received
    result = _cli(["stop-interval", "no-such-script", "--relay", daemon.libp2p.multiaddr], tmp_path)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, PeerError) and "no script no-such-script on the peer" in str(result.exception)
    assert daemon.particles_received > before  # the peer answered over libp2p


def test_devnet_up_with_a_libp2p_port_records_the_multiaddr(
    tmp_path: Path, relay_aqua: Any, isolated_env: None
) -> None:
    from fluence_dao.devnet import anvil_binary
    from fluence_dao.errors import ToolNotFoundError

    try:
        anvil_binary(load_settings({"state_dir": tmp_path}, env_file=None))
    except ToolNotFoundError as err:
        pytest.fail(err.message) if os.environ.get("CI") else pytest.skip(err.message)
    env = {
        "FLUENCE_DAO_STATE_DIR": str(tmp_path),
        "FLUENCE_DAO_DEVNET__STATE_INTERVAL_S": "0",
        "FLUENCE_DAO_PEER__LIBP2P_PORT": "0",
    }
    runner = CliRunner()
    try:
        up = runner.invoke(app, ["devnet", "up", "--json"], env=env)
        assert up.exit_code == 0, up.output
        status = runner.invoke(app, ["devnet", "status", "--json"], env=env)
        assert status.exit_code == 0, status.output
        peer = json.loads(status.stdout)["peer"]
        relay = parse_relay_multiaddr(peer["libp2p_multiaddr"])
        assert relay.peer_id == peer["peer_id"]
        run = runner.invoke(
            app, ["run", "-i", str(RELAY_AQUA), "-f", "one_call()", "--relay", relay.multiaddr], env=env
        )
        assert run.exit_code == 0, run.output
        assert run.stdout.strip() == "ab"
    finally:
        runner.invoke(app, ["devnet", "down"], env=env)


def test_a_libp2p_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(
            PeerError, match=rf"could not listen on /ip4/127.0.0.1/tcp/{port}/ws \(is the port in use\?\)"
        ):
            PeerDaemon(
                DaemonConfig(settings=load_settings({"state_dir": tmp_path}, env_file=None), libp2p_port=port)
            ).start()
