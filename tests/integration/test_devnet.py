"""`fluence-dao devnet` on a real anvil: up, idempotent up, status, logs, down, restart with state; failures."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from eth_account import Account

from _helpers import invoke_cli
from fluence_dao.cli import console
from fluence_dao.config import ANVIL_ACCOUNT0_KEY, load_settings
from fluence_dao.devnet import Devnet, DevnetInfo, DevnetPaths, anvil_binary, rpc_chain_id
from fluence_dao.errors import StartupTimeoutError, ToolNotFoundError
from fluence_dao.eth import EnsClient, EthClient, TxSender
from fluence_dao.util.net import free_port
from fluence_dao.util.process import ManagedProcess, ProcessSpec

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _plain_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: None):
    monkeypatch.chdir(tmp_path)
    console.set_json(False)
    yield
    console.set_json(False)


def _cli(env: dict[str, str], *args: str) -> Any:
    return invoke_cli(args, env)


def _anvil_pids_for(state_file: Path) -> list[int]:
    """Every running process whose command line mentions this devnet's anvil state file."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(state_file) in cmdline and "anvil" in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


def test_devnet_lifecycle_through_the_cli(tmp_path: Path, require: Any) -> None:
    state_dir = tmp_path / "state"
    env = {"FLUENCE_DAO_STATE_DIR": str(state_dir)}
    settings = load_settings({"state_dir": state_dir}, env_file=None)
    try:
        anvil_binary(settings)
    except ToolNotFoundError as err:
        require(False, err.message)
    paths = DevnetPaths.under(state_dir)
    governance = Account.from_key(ANVIL_ACCOUNT0_KEY).address
    try:
        # up: chain, ENS, names, printed as text
        result = _cli(env, "devnet", "up")
        assert result.exit_code == 0, result.output
        info = json.loads(paths.info_file.read_text())
        assert info["version"] == 1
        assert urlparse(info["rpc_url"]).hostname == "127.0.0.1"
        registry, resolver = info["ens"]["registry"], info["ens"]["public_resolver"]
        for value in (info["rpc_url"], registry, resolver, "public-record.eth", "alpha.public-record.eth", governance):
            assert value in result.stdout
        client = EthClient(info["rpc_url"])
        assert client.chain_id() == 31337
        assert client.code(registry) and client.code(resolver)
        ens = EnsClient(client, registry)
        for name in ("public-record.eth", "alpha.public-record.eth"):
            assert ens.owner(name) == governance
            assert ens.resolver(name) == resolver
        first_pid = info["processes"]["anvil"]["pid"]
        assert _anvil_pids_for(paths.anvil_state) == [first_pid]

        # up again: sees the healthy one, starts nothing
        result = _cli(env, "devnet", "up", "--json")
        assert result.exit_code == 0, result.output
        again = json.loads(result.stdout)
        assert again["processes"]["anvil"] == {**info["processes"]["anvil"], "started_now": False}
        assert again["ens"] == info["ens"]
        assert _anvil_pids_for(paths.anvil_state) == [first_pid]

        result = _cli(env, "devnet", "status", "--json")
        status = json.loads(result.stdout)
        assert status["healthy"] is True
        assert status["processes"][0]["pid"] == first_pid
        assert status["names"]["alpha.public-record.eth"]["owner"] == governance

        sender = TxSender(client, ANVIL_ACCOUNT0_KEY)
        ens.set_text("public-record.eth", "wasm.signer", "survives-restart", sender)

        # down: nothing left running, nothing answers
        result = _cli(env, "devnet", "down")
        assert result.exit_code == 0, result.output
        assert "anvil" in result.stdout
        assert _anvil_pids_for(paths.anvil_state) == []
        assert rpc_chain_id(info["rpc_url"]) is None
        status = json.loads(_cli(env, "devnet", "status", "--json").stdout)
        assert status["healthy"] is False and status["processes"][0]["running"] is False

        # up after down: same chain (anvil --state), nothing redeployed, records kept
        result = _cli(env, "devnet", "up", "--json")
        assert result.exit_code == 0, result.output
        restarted = json.loads(result.stdout)
        assert restarted["processes"]["anvil"]["started_now"] is True
        assert restarted["ens"] == info["ens"]
        assert all(not record["registered_now"] for record in restarted["names"].values())
        client = EthClient(restarted["rpc_url"])
        assert EnsClient(client, registry).text("public-record.eth", "wasm.signer") == "survives-restart"

        result = _cli(env, "devnet", "logs", "--json", "-n", "5")
        logs = json.loads(result.stdout)
        assert logs["log"] == str(paths.log_file("anvil"))
        assert 0 < len(logs["lines"]) <= 5

        result = _cli(env, "devnet", "down", "--reset")
        assert result.exit_code == 0
        assert not paths.info_file.exists() and not paths.anvil_state.exists()
    finally:
        Devnet(settings).down()


def test_missing_anvil_says_run_npm_ci(tmp_path: Path) -> None:
    settings = load_settings({"state_dir": tmp_path, "devnet": {"anvil_path": tmp_path / "no-anvil"}}, env_file=None)
    with pytest.raises(ToolNotFoundError, match="npm ci") as missing:
        Devnet(settings).up()
    assert str(tmp_path / "no-anvil") in missing.value.message


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}\n")
    path.chmod(0o755)
    return path


def _spec(tmp_path: Path, argv: list[str], health: Any, timeout_s: float = 5.0) -> ProcessSpec:
    return ProcessSpec(
        name="probe",
        argv=argv,
        log_path=tmp_path / "probe.log",
        pid_path=tmp_path / "probe.pid",
        health=health,
        startup_timeout_s=timeout_s,
    )


def test_a_process_that_exits_gives_its_log_tail(tmp_path: Path) -> None:
    script = _script(tmp_path / "crash", "import sys\nprint('boom: cannot bind', flush=True)\nsys.exit(3)")
    proc = ManagedProcess(_spec(tmp_path, [str(script)], health=lambda: False))
    with pytest.raises(StartupTimeoutError) as failed:
        proc.start()
    assert "exited with code 3" in failed.value.message
    assert "boom: cannot bind" in failed.value.message
    assert proc.pid() is None


def test_a_process_that_never_gets_healthy_times_out_and_is_stopped(tmp_path: Path) -> None:
    script = _script(tmp_path / "hang", "import time\nprint('waiting forever', flush=True)\ntime.sleep(60)")
    proc = ManagedProcess(_spec(tmp_path, [str(script)], health=lambda: False, timeout_s=0.5))
    with pytest.raises(StartupTimeoutError, match=r"not healthy after 0\.5s") as failed:
        proc.start()
    assert "waiting forever" in failed.value.message
    assert proc.pid() is None
    assert not (tmp_path / "probe.pid").exists()


def _assert_gone(pid: int, within_s: float = 5.0) -> None:
    """The process no longer exists. On a loaded machine the kernel can take a moment to release a stopped
    process; it must be gone within `within_s`."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, f"pid {pid} still exists {within_s:g} s after devnet down"
        time.sleep(0.05)


class HttpServerComponent:
    """A second kind of devnet process, as the peer daemon or an IPFS server will be added."""

    name = "http"

    def __init__(self) -> None:
        self.port = free_port()

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=0.5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def process(self, devnet: Devnet, info: DevnetInfo) -> ManagedProcess:
        argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(self.port)]
        return ManagedProcess(
            ProcessSpec(
                name=self.name,
                argv=argv,
                log_path=devnet.paths.log_file(self.name),
                pid_path=devnet.paths.pid_file(self.name),
                health=self._healthy,
                startup_timeout_s=10,
                port=self.port,
            )
        )

    def after_start(self, devnet: Devnet, info: DevnetInfo, started_now: bool) -> Mapping[str, object]:
        return {"http_url": f"http://127.0.0.1:{self.port}"}


def test_another_component_joins_up_status_and_down(tmp_path: Path) -> None:
    component = HttpServerComponent()
    devnet = Devnet(load_settings({"state_dir": tmp_path}, env_file=None), components=[component])
    try:
        info = devnet.up()
        assert info["http_url"] == f"http://127.0.0.1:{component.port}"
        pid = info["processes"]["http"]["pid"]
        again = devnet.start()  # the same record, typed: the component's fact kept as an unknown key
        assert again.processes["http"].pid == pid and again.processes["http"].started_now is False
        assert again.to_json()["http_url"] == info["http_url"] and devnet.info() == again
        assert again.to_json()["processes"]["http"] == {**info["processes"]["http"], "started_now": False}
        status = devnet.status()
        assert status.healthy and status.processes[0].pid == pid and status.processes[0].port == component.port
        assert devnet.down() == ["http"]
        assert not component._healthy()
        _assert_gone(pid)
    finally:
        devnet.down()


def test_a_missing_program_is_tool_not_found(tmp_path: Path) -> None:
    proc = ManagedProcess(_spec(tmp_path, [str(tmp_path / "no-such-program")], health=lambda: False))
    with pytest.raises(ToolNotFoundError, match="no-such-program"):
        proc.start()
    assert not (tmp_path / "probe.pid").exists()


def test_cwd_env_and_output_reach_the_process(tmp_path: Path) -> None:
    workdir = tmp_path / "work dir"  # a space: the cwd must not be split by a shell
    workdir.mkdir()
    script = _script(
        tmp_path / "report",
        "import os, sys, time\nprint('cwd=' + os.getcwd(), 'var=' + os.environ.get('PROBE_VAR', ''), flush=True)\n"
        "print('to stderr', file=sys.stderr, flush=True)\ntime.sleep(60)",
    )
    log_path = tmp_path / "probe.log"
    proc = ManagedProcess(
        ProcessSpec(
            name="probe",
            argv=[str(script)],
            log_path=log_path,
            pid_path=tmp_path / "probe.pid",
            health=lambda: log_path.exists() and "to stderr" in log_path.read_text(),
            cwd=workdir,
            env={**os.environ, "PROBE_VAR": "seen"},
        )
    )
    try:
        pid, started = proc.start()
        assert started and proc.pid() == pid
        text = log_path.read_text()
        assert f"cwd={workdir} var=seen" in text
        assert proc.start() == (pid, False)
    finally:
        assert proc.stop() is True
    assert proc.pid() is None


def test_a_configured_governance_key_owns_the_devnet_names(tmp_path: Path, require: Any) -> None:
    governance = Account.create()
    state_dir = tmp_path / "state"
    env = {
        "FLUENCE_DAO_STATE_DIR": str(state_dir),
        "FLUENCE_DAO_ETH__GOVERNANCE_KEY": governance.key.hex(),
        "FLUENCE_DAO_ENS__PROJECT_NAME": "my-project.test",
        "FLUENCE_DAO_ENS__SIGNER_NAME": "beta.my-project.test",
    }
    settings = load_settings({"state_dir": state_dir}, env_file=None)
    try:
        anvil_binary(settings)
    except ToolNotFoundError as err:
        require(False, err.message)
    try:
        result = _cli(env, "devnet", "up", "--json")
        assert result.exit_code == 0, result.output
        info = json.loads(result.stdout)
        assert governance.key.hex()[2:] not in result.output
        assert info["governance"] == governance.address
        assert {name: record["owner"] for name, record in info["names"].items()} == {
            "my-project.test": governance.address,
            "beta.my-project.test": governance.address,
        }
        result = _cli(env, "ens", "set", "beta.my-project.test", "k", "by-configured-key")
        assert result.exit_code == 0, result.output
        result = _cli(env, "ens", "get", "beta.my-project.test", "k")
        assert result.stdout.strip() == "by-configured-key"
    finally:
        Devnet(settings).down()
