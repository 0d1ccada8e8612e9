"""Spells on our peer through the Aqua API of @fluencelabs/spell: a 1 s clock spell runs, keeps its KV state between
runs, gets its init arguments through getDataSrv, stores its errors, and stops when removed; only the host and
management peers install spells; outsiders cannot write a spell's private keys but may post to its mailbox."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from fluence_dao.peer import LocalNetwork, PeerConfig, call_function
from fluence_dao.peer.particle import KeyPair
from fluence_dao.peer.spells import spell_id_of_particle
from fluence_dao.util.paths import project_root

pytestmark = pytest.mark.integration

TEST_AQUA = Path(__file__).resolve().parents[1] / "aqua" / "spells.aqua"


@pytest.fixture(scope="module")
def aqua(compiled_aqua):
    return compiled_aqua(TEST_AQUA), compiled_aqua(project_root() / "aqua" / "spell.aqua")


@pytest.fixture
def net(tmp_path, local_network):
    """A one-peer network whose first client is a management peer."""
    manager_key = KeyPair.load_or_create(tmp_path / "net" / "client-0" / "peer.key")
    network = local_network(config=PeerConfig(management_peer_ids=frozenset({manager_key.peer_id})))
    manager = network.client()
    assert manager.peer_id == manager_key.peer_id
    return network, manager


def _call(network, manager, compiled, name, *args):
    return call_function(network, compiled.function(name), list(args), client=manager)


def test_a_clock_spell_keeps_its_kv_between_runs_and_stops_when_removed(aqua, net) -> None:
    scripts, api = aqua
    network, manager = net
    peer = network.relay
    spell_id = _call(network, manager, api, "install_spell", scripts.function("counter_run").script, 1)
    assert spell_id in _call(network, manager, api, "list_spells")

    network.run_for(2.6)  # runs at ~0, 1, 2 s
    runs = _call(network, manager, scripts, "read_runs", spell_id)
    assert runs["success"] and not runs["absent"]
    assert 2 <= runs["value"] <= 4
    state = _call(network, manager, api, "spell_state", spell_id)
    assert state["exists"] is True
    assert state["counter"] == runs["value"]  # the peer's run counter (KV "counter") matches the script's own count
    assert [log["message"] for log in state["logs"]] == ["run"] * runs["value"]
    assert state["script_cid"].startswith("b")

    _call(network, manager, api, "remove_spell", spell_id)
    assert spell_id not in _call(network, manager, api, "list_spells")
    network.run_for(2.2)
    gone = _call(network, manager, api, "spell_state", spell_id)
    assert gone["exists"] is False and "not found" in gone["error"]
    assert spell_id not in peer.builtins


def test_spell_particles_are_named_after_the_spell_and_started_by_the_host(aqua, net) -> None:
    scripts, api = aqua
    network, manager = net
    peer = network.relay
    seen: list[tuple[str, str]] = []
    original = peer._handle_particle

    def spy(particle):
        seen.append((particle.id, particle.init_peer_id))
        return original(particle)

    peer._handle_particle = spy  # type: ignore[method-assign]
    spell_id = _call(network, manager, api, "install_spell", scripts.function("counter_run").script, 1)
    network.run_for(1.5)
    own = [(pid, init) for pid, init in seen if spell_id_of_particle(pid) == spell_id]
    assert [pid for pid, _ in own][:2] == [f"spell_{spell_id}_0", f"spell_{spell_id}_1"]
    assert {init for _, init in own} == {peer.peer_id}


def test_init_args_reach_the_script_through_getdatasrv(aqua, net) -> None:
    scripts, _ = aqua
    network, manager = net
    spell_id = _call(
        network, manager, scripts, "install_with_key", scripts.function("echo_arg").script, 1, "notice-key"
    )
    network.run_for(0.5)
    seen = _call(network, manager, scripts, "read_kv", spell_id, "seen")
    assert seen == {"value": "notice-key", "success": True, "error": "", "absent": False}
    stored = _call(network, manager, scripts, "read_kv", spell_id, "record_key")
    assert stored["value"] == '"notice-key"'  # init args are kept as JSON text, as nox's set_json_fields
    trigger = _call(network, manager, scripts, "read_kv", spell_id, "trigger")
    assert '"timer":[{"timestamp":' in trigger["value"]


def test_a_spell_runs_on_its_grid_and_a_tick_while_its_particle_runs_is_skipped(aqua, net) -> None:
    """Period 1 s, each run 1.5 s: runs at ticks 0, 2, 4 on time, ticks 1 and 3 recorded as skipped (nox would start
    overlapping particles); spell_runs and spell_info report them."""
    scripts, api = aqua
    network, manager = net
    spell_id = _call(network, manager, api, "install_spell", scripts.function("slow_run").script, 1)
    network.run_for(4.8)
    runs = _call(network, manager, api, "spell_runs", spell_id)
    done = [r for r in runs if r["outcome"] == "ok"]
    skipped = [r for r in runs if r["outcome"] == "skipped"]
    assert [r["seq"] for r in done][:2] == [0, 2]
    assert [(r["seq"], r["skipped"]) for r in skipped][:2] == [(1, 1), (3, 1)]
    assert all(r["late_ms"] < 100 for r in done), done
    info = _call(network, manager, api, "spell_info", spell_id)
    assert info["kind"] == "spell" and info["interval"] == "1" and info["skipped"] >= 2 and info["failed"] == 0
    assert info["runs"] == len([r for r in runs if r["outcome"] in ("ok", "running")])
    state = _call(network, manager, api, "spell_state", spell_id)
    assert state["counter"] == info["runs"]  # a skipped tick starts no particle


def test_a_failing_run_stores_its_error_in_the_spell(aqua, net) -> None:
    scripts, api = aqua
    network, manager = net
    spell_id = _call(network, manager, api, "install_spell", scripts.function("failing_run").script, 1)
    network.run_for(1.5)
    errors = _call(network, manager, scripts, "read_errors", spell_id)
    assert errors["success"] is True
    particles = errors["particle_errors"]
    assert len(particles) >= 1
    assert all(spell_id_of_particle(p["particle_id"]) == spell_id for p in particles)
    message = particles[0]["errors"][0]["last_error"]["message"]
    assert "no-such-alias-anywhere" in message


def test_only_the_host_and_management_peers_install_spells(aqua, net) -> None:
    scripts, api = aqua
    network, _ = net
    stranger = network.client()
    with pytest.raises(Exception) as caught:
        call_function(
            network, api.function("install_spell"), [scripts.function("counter_run").script, 1], client=stranger
        )
    assert "only the host" in str(caught.value)
    assert network.relay.builtins["spell"].store.ids() == []


def test_outsiders_read_and_post_to_the_mailbox_but_cannot_write_private_keys(aqua, net) -> None:
    scripts, api = aqua
    network, manager = net
    spell_id = _call(network, manager, api, "install_spell", scripts.function("counter_run").script, 3600)
    denied = _call(network, manager, scripts, "outside_set", spell_id, "runs_text", "x")
    assert denied["success"] is False and "Only the spell itself" in denied["error"]
    assert _call(network, manager, scripts, "read_kv", spell_id, "runs_text")["absent"] is True
    posted = _call(network, manager, scripts, "push_message", spell_id, "hello")
    assert posted == {"success": True, "error": ""}
    mailbox = _call(network, manager, scripts, "read_mailbox", spell_id)
    assert [(m["message"], m["init_peer_id"]) for m in mailbox["messages"]] == [("hello", manager.peer_id)]


def test_unsupported_triggers_and_bad_clocks_are_refused(aqua, net) -> None:
    scripts, _ = aqua
    network, _ = net
    peer = network.relay
    from fluence_dao.peer.builtins import CallContext
    from fluence_dao.peer.calls import BuiltinError
    from fluence_dao.peer.particle import Particle

    ctx = CallContext(peer=peer, particle=Particle.create("(null)", peer.key_pair))
    service = peer.builtins["spell"]
    script = scripts.function("counter_run").script
    now = int(time.time())
    cases = {
        "connection pool triggers": {"clock": {"start_sec": 1}, "connections": {"connect": True}},
        "blockchain triggers": {"blockchain": {"start_block": 5}},
        "end_sec is less than start_sec": {"clock": {"start_sec": now + 100, "end_sec": now + 50, "period_sec": 1}},
        "period is too big": {"clock": {"start_sec": 1, "period_sec": 2**32 - 1}},
        "'clock.period_sec' must be a u32": {"clock": {"start_sec": 1, "period_sec": -1}},
    }
    for expected, config in cases.items():
        with pytest.raises(BuiltinError) as caught:
            service.call("install", [script, {}, config, None], ctx)
        assert expected in caught.value.result, config
    assert service.store.ids() == []


# ---- the governed interval as a spell (anvil + ENS + IPFS + the Zig modules) ------------------------------------


@pytest.mark.slow
def test_the_interval_as_a_spell_sends_transactions_and_stops_when_removed(ens_env, tmp_path, require) -> None:
    import json

    from fluence_dao.flows import FlowContext, PeerSession, deploy_signer, publish, stop_interval
    from fluence_dao.flows.interval import start_interval_spell

    require(shutil.which("node"), "node is not installed")
    require(shutil.which("curl"), "curl is not installed")
    context = FlowContext(ens_env.devnet.settings, ipfs_repo=tmp_path / "ipfs")
    manager_key = KeyPair.load_or_create(tmp_path / "net" / "client-0" / "peer.key")  # spells need a manager
    config = context.peer_config(management_peer_ids=frozenset({manager_key.peer_id}))
    network = LocalNetwork(1, base_dir=tmp_path / "net", config=config)
    session = PeerSession(network, client=network.client())
    try:
        publish(context)
        deployed = deploy_signer(context, session)
        started = start_interval_spell(context, session, 1)
        assert started.kind == "spell"
        spell = network.relay.builtins["spell"].store.get(started.script_id)
        assert spell is not None and spell.trigger_config["clock"]["period_sec"] == 1

        hashes: set[str] = set()
        deadline = time.monotonic() + 60
        while len(hashes) < 3 and time.monotonic() < deadline:
            network.run_for(0.2)
            # each run's RunOutcome reaches the spell's KV through callbackSrv.response (nox's store_response)
            if spell.kv.get("success") == "true":
                hashes.add(json.loads(spell.kv["tx_hash"]))
        assert len(hashes) >= 3, spell.kv
        for tx_hash in hashes:
            tx = ens_env.client.rpc("eth_getTransactionByHash", [tx_hash])
            assert tx["from"].lower() == deployed.address.lower()
        assert json.loads(spell.kv["record_key"]) == "notice"

        assert stop_interval(session, started.script_id) is True
        assert stop_interval(session, started.script_id) is False
        sent = ens_env.client.rpc("eth_getTransactionCount", [deployed.address, "latest"])
        network.run_for(2.5)
        assert ens_env.client.rpc("eth_getTransactionCount", [deployed.address, "latest"]) == sent
    finally:
        network.stop()
        context.close()


@pytest.mark.slow
def test_start_interval_as_spell_through_the_cli(tmp_path, require) -> None:
    """`start-interval --as spell` on the peer daemon (the CLI key is its management peer); stop-interval takes the
    spell id; a period that is not whole seconds is refused."""
    import json
    import os
    import subprocess
    import sys

    for tool in ("node", "curl"):
        require(shutil.which(tool), f"{tool} is not installed")
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLUENCE_DAO_") or k.endswith(("ROOT", "CACHE_DIR"))}
    env["FLUENCE_DAO_STATE_DIR"] = str(state)

    def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "fluence_dao", *args], capture_output=True, text=True, env=env, timeout=240,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(f"fluence-dao {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
        return done

    cli("devnet", "up", "--json")
    try:
        cli("publish", "--json")
        cli("deploy-signer", "--json")
        fractional = cli("start-interval", "--as", "spell", "--every", "1.5", "--json", check=False)
        assert fractional.returncode == 1 and "whole number of seconds" in fractional.stdout
        started = json.loads(cli("start-interval", "--as", "spell", "--every", "1", "--json").stdout)
        assert started["kind"] == "spell"
        values: set[str] = set()
        deadline = time.monotonic() + 90
        while len(values) < 2 and time.monotonic() < deadline:
            value = cli("ens", "get", "alpha.public-record.eth", "notice").stdout.strip()
            if value:
                values.add(value)
            time.sleep(1)
        assert len(values) >= 2, values  # the record keeps changing: the spell runs every second
        assert json.loads(cli("stop-interval", started["script_id"], "--json").stdout)["removed"] is True
        assert cli("stop-interval", started["script_id"], "--json", check=False).returncode == 1
    finally:
        cli("devnet", "down", check=False)


def test_only_the_spell_pops_its_mailbox(aqua, net) -> None:
    scripts, api = aqua
    network, manager = net
    spell_id = _call(network, manager, api, "install_spell", scripts.function("mailbox_run").script, 1)
    network.run_for(0.3)  # the first run finds the mailbox empty
    assert _call(network, manager, scripts, "read_kv", spell_id, "last_message")["absent"] is True
    assert _call(network, manager, scripts, "push_message", spell_id, "for the spell")["success"] is True
    refused = _call(network, manager, scripts, "outside_pop", spell_id)
    assert refused["success"] is False and "only by the associated spell" in refused["error"]
    network.run_for(1.2)
    assert _call(network, manager, scripts, "read_kv", spell_id, "last_message")["value"] == "for the spell"
    assert _call(network, manager, scripts, "read_mailbox", spell_id)["messages"] == []
