"""The governed signer end to end on the real stack: anvil with the ENS contracts, the Zig modules built from
source and published to IPFS with their CIDs in ENS, Aqua on the peer with the real AquaVM, curl mounted.

publish -> deploy-signer (Aqua fetches and verifies every module by its ENS CID) -> governance makes the signer
the owner of alpha.public-record.eth and funds it -> start-interval -> the `notice` record changes through
transactions sent by the signer -> stop-interval stops them."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from fluence_dao.flows import FlowContext, PeerSession, deploy_signer, publish, start_interval, stop_interval
from fluence_dao.peer import LocalNetwork
from fluence_dao.util.json_types import to_json

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOTICE = "notice"


@pytest.fixture
def stack(ens_env, tmp_path, require):
    require(shutil.which("node"), "node is not installed")
    require(shutil.which("curl"), "curl is not installed")
    context = FlowContext(ens_env.devnet.settings, ipfs_repo=tmp_path / "ipfs")
    network = LocalNetwork(1, base_dir=tmp_path / "net", config=context.peer_config())
    session = PeerSession(network)
    yield context, session, ens_env
    network.stop()
    context.close()


def _wait_for_runs(session: PeerSession, script_id: str, successes: int, timeout_s: float = 60.0):
    peer = session.network.relay
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        session.network.run_for(0.1)
        script = peer.scheduler.get(script_id)
        runs = [r for r in script.history if r.ok is not None] if script else []
        done = [r for r in runs if r.ok and isinstance(r.result, dict) and r.result.get("success")]
        if len(done) >= successes:
            return runs
    raise AssertionError(f"fewer than {successes} successful runs in {timeout_s} s: {runs}")


def test_publish_deploy_and_interval(stack) -> None:
    context, session, env = stack
    project, signer_name = context.settings.ens.project_name, context.settings.ens.signer_name

    published = publish(context)
    keys = {a.key: a.cid for a in published.artifacts}
    assert set(keys) == {"wasm.curl_adapter", "wasm.ens", "wasm.signer", "air.interval"}
    for key, cid in keys.items():
        assert env.ens.text(project, key) == cid
        assert context.ipfs.cat(cid)  # pinned in the store the peer fetches from

    deployed = deploy_signer(context, session)
    assert deployed.created
    assert env.ens.owner(signer_name).lower() == deployed.address.lower()
    assert env.ens.text(project, "signer.service") == deployed.service_id
    assert env.ens.text(project, "signer.peer") == session.peer_id
    assert env.client.balance(deployed.address) > 0

    again = deploy_signer(context, session)
    assert not again.created and again.address == deployed.address and again.writes == []

    started = start_interval(context, session, every_s=1)
    runs = _wait_for_runs(session, started.script_id, successes=3)
    sent = [r.result for r in runs if r.ok and r.result.get("success")]
    assert len({r["tx_hash"] for r in sent}) == len(sent)
    for outcome in sent:
        tx = env.client.rpc("eth_getTransactionByHash", [outcome["tx_hash"]])
        assert tx["from"].lower() == deployed.address.lower()
        assert outcome["block_number"]
    nonces = sorted(int(r["nonce"], 16) for r in sent)
    assert nonces == list(range(nonces[0], nonces[0] + len(nonces)))  # no gap, no duplicate
    assert env.ens.text(signer_name, NOTICE) in {r["value"] for r in sent}

    assert stop_interval(session, started.script_id) is True
    count = env.client.rpc("eth_getTransactionCount", [deployed.address, "latest"])
    session.network.run_for(3.5)
    assert env.client.rpc("eth_getTransactionCount", [deployed.address, "latest"]) == count


def _set_text_key(env, tx_hash: str) -> tuple[str, str]:
    """The (key, value) a setText transaction wrote, decoded from its input."""
    from eth_abi import decode

    data = env.client.rpc("eth_getTransactionByHash", [tx_hash])["input"]
    assert data[:10] == "0x10f13a8c"  # setText(bytes32,string,string)
    _, key, value = decode(["bytes32", "string", "string"], bytes.fromhex(data[10:]))
    return key, value


def test_two_intervals_on_one_peer_each_write_their_own_key(stack) -> None:
    """Each interval carries its own record key: starting a second one with another key changes nothing of the first
    (the peer keeps no shared setting), so each writes its own record, as the transactions on chain show."""
    context, session, env = stack
    signer_name = context.settings.ens.signer_name
    publish(context)
    deploy_signer(context, session)
    first = start_interval(context, session, every_s=1)
    session.network.run_for(0.5)  # another phase on the grid: the two runs rarely race for one nonce
    second = start_interval(context, session, every_s=1, record_key="spellnote", gas_limit=100_000)
    assert (first.record_key, second.record_key, second.gas_limit) == ("notice", "spellnote", 100_000)
    runs = {sid: _wait_for_runs(session, sid, successes=2) for sid in (first.script_id, second.script_id)}
    for script_id, key in ((first.script_id, "notice"), (second.script_id, "spellnote")):
        sent = [r.result for r in runs[script_id] if r.ok]
        assert sent
        for outcome in sent:
            assert _set_text_key(env, outcome["tx_hash"]) == (key, outcome["value"])
        assert env.ens.text(signer_name, key)
    gas = env.client.rpc("eth_getTransactionByHash", [sent[0]["tx_hash"]])["gas"]
    assert int(gas, 16) == 100_000  # the second interval's own gas limit
    scripts = {s["id"]: s for s in session.call("deploy.aqua", "list_scripts")}
    assert json.loads(scripts[first.script_id]["args_json"])["record_key"] == "notice"
    assert json.loads(scripts[second.script_id]["args_json"])["record_key"] == "spellnote"
    for started in (first, second):
        stop_interval(session, started.script_id)


def test_an_interval_for_a_name_without_resolver_fails_at_that_step(stack) -> None:
    """setText sent to the zero address "succeeds" on chain and changes nothing: the run must fail, naming why."""
    context, session, _env = stack
    publish(context)
    deploy_signer(context, session)
    started = start_interval(context, session, every_s=1, signer_name="nobody.eth")
    peer = session.network.relay
    deadline = time.monotonic() + 30
    runs: list = []
    while time.monotonic() < deadline and not runs:
        session.network.run_for(0.2)
        runs = [r for r in peer.scheduler.get(started.script_id).history if r.ok is not None]
    stop_interval(session, started.script_id)
    assert runs and runs[0].outcome == "failed", runs
    assert runs[0].step == "find the resolver" and "no resolver is set for nobody.eth" in (runs[0].error or "")


KNOWN_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")


def test_the_signer_key_never_leaves_the_module(ens_env, tmp_path, require, caplog, capfd) -> None:
    """With a key the test knows (fed through WASI random_get, the module's only entropy source), nothing the
    whole flow produces holds it: results, status, run history, every log line, every file written by the
    peer, IPFS and the devnet, and everything printed."""
    import logging

    from eth_account import Account

    from fluence_dao.flows.status import status

    require(shutil.which("node"), "node is not installed")
    require(shutil.which("curl"), "curl is not installed")
    caplog.set_level(logging.DEBUG)
    devnet = ens_env.devnet
    context = FlowContext(devnet.settings, ipfs_repo=tmp_path / "ipfs")
    config = context.peer_config(module_random_source=lambda n: (KNOWN_KEY * (n // 32 + 1))[:n])
    network = LocalNetwork(1, base_dir=tmp_path / "net", config=config)
    session = PeerSession(network)
    try:
        outputs = [publish(context).to_dict()]
        deployed = deploy_signer(context, session)
        assert deployed.address == Account.from_key(KNOWN_KEY).address  # the key really is the known one
        outputs.append(deployed.to_dict())
        started = start_interval(context, session, every_s=1)
        runs = _wait_for_runs(session, started.script_id, successes=2)
        outputs += [to_json(r) for r in runs]
        outputs.append(status(context, session).to_dict())
        stop_interval(session, started.script_id)
    finally:
        network.stop()
        context.close()

    needles = [KNOWN_KEY, KNOWN_KEY.hex().encode(), KNOWN_KEY.hex().upper().encode()]
    haystacks = {"outputs": json.dumps(outputs, default=str).encode()}
    haystacks["log records"] = "\n".join(r.getMessage() for r in caplog.records).encode()
    printed = capfd.readouterr()
    haystacks["stdout+stderr"] = (printed.out + printed.err).encode()
    for root in (tmp_path, devnet.state_dir):
        for path in root.rglob("*"):
            if path.is_file():
                haystacks[str(path)] = path.read_bytes()
    assert len(haystacks) > 10
    assert deployed.address.encode() in haystacks["outputs"]  # positive control: the scan sees what is there
    assert any(deployed.address[2:].lower().encode() in data.lower() for data in haystacks.values() if data)
    leaks = [name for name, data in haystacks.items() if any(needle in data for needle in needles)]
    assert leaks == []


def _call_test_aqua(session: PeerSession, function: str, args: list) -> dict:
    """Run a function of tests/aqua/signer_calls.aqua on the peer as `session`'s client identity."""
    from pathlib import Path

    from fluence_dao.aqua import compile_aqua
    from fluence_dao.peer import call_function

    compiled = compile_aqua(Path(__file__).resolve().parents[1] / "aqua" / "signer_calls.aqua")
    if session.client is None:
        session.client = session.network.client()
    return call_function(session.network, compiled.function(function), args, client=session.client)


def test_replace_moves_the_controller_and_retires_the_old_signer(stack) -> None:
    context, session, env = stack
    signer_name = context.settings.ens.signer_name
    publish(context)
    first = deploy_signer(context, session)
    aliases = dict(session.network.relay.services.aliases)
    second = deploy_signer(context, session, replace=True)
    after = session.network.relay.services.aliases
    assert {after["ens"], after["curl_adapter"]}.isdisjoint({aliases["ens"], aliases["curl_adapter"]})  # redeployed
    assert second.created and second.address != first.address
    assert second.replaced_service_id == first.service_id
    assert env.ens.owner(signer_name).lower() == second.address.lower()
    assert env.ens.text(context.settings.ens.project_name, "signer.address") == second.address
    old = session.call("deploy.aqua", "signer_status", [first.service_id])
    assert old["exists"] is False  # the old service, and the key in its memory, are gone
    assert session.call("deploy.aqua", "signer_status", [second.service_id])["address"] == second.address


def test_a_module_whose_bytes_do_not_match_its_cid_is_refused(stack) -> None:
    from fluence_dao.errors import AquaCallError
    from fluence_dao.ipfs import Cid

    context, session, env = stack
    published = {a.key: a.cid for a in publish(context).artifacts}
    signer_cid = published["wasm.signer"]
    path = context.ipfs.store.path_of(Cid.parse(signer_cid))  # the module is one block (< 256 KiB)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(AquaCallError) as failure:
        deploy_signer(context, session)
    assert "fetch signer" in str(failure.value) and signer_cid in str(failure.value)
    assert env.ens.text(context.settings.ens.project_name, "signer.service") == ""


def test_an_unauthorised_peer_cannot_sign_and_nothing_is_sent(stack) -> None:
    context, session, env = stack
    publish(context)
    deployed = deploy_signer(context, session)
    stranger = PeerSession(session.network)  # another client identity on the same peer
    tx = '{"nonce":0,"gas":21000,"gasPrice":1,"to":null}'
    result = _call_test_aqua(stranger, "sign_tx", [deployed.service_id, tx, 31337])
    assert result["success"] is False
    assert stranger.client.peer_id in result["error"]
    assert env.client.rpc("eth_getTransactionCount", [deployed.address, "pending"]) == "0x0"
    own = _call_test_aqua(session, "sign_message", [deployed.service_id, "hello"])
    assert own["success"] is True  # the creator may sign: the refusal above was about who asked


def test_publish_propose_writes_a_safe_batch_that_does_the_job(stack, tmp_path) -> None:
    """--propose sends nothing; executing the batch's transactions (as the DAO's Safe would) sets every record,
    and publishing again then has nothing left to propose."""
    context, _session, env = stack
    project = context.settings.ens.project_name
    batch_file = tmp_path / "batch.json"
    proposed = publish(context, propose_to=batch_file)
    assert proposed.proposal == batch_file
    assert all(env.ens.text(project, a.key) == "" for a in proposed.artifacts)  # nothing was sent
    batch = json.loads(batch_file.read_text())
    assert batch["chainId"] == str(env.devnet.info["chain_id"])
    assert len(batch["transactions"]) == 4
    for tx in batch["transactions"]:  # the DAO executes the batch
        env.gov.send_and_wait(tx["to"], tx["data"], value=int(tx["value"]))
    assert {a.key: env.ens.text(project, a.key) for a in proposed.artifacts} == {
        a.key: a.cid for a in proposed.artifacts
    }
    again = publish(context, propose_to=tmp_path / "again.json")
    assert not any(a.changed for a in again.artifacts) and again.proposal is None
