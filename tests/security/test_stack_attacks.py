"""Attacks on the stack `devnet up` + `publish` + `deploy-signer` + `start-interval --every 1` from a fresh client
key (finding 1, 2 and the builtin review of issue 14). Each test states the attack, then what must hold."""

from __future__ import annotations

import pytest

from fluence_dao.errors import FluenceDaoError
from fluence_dao.peer import call_function

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _call(stack, key, attacks, function: str, *args):
    with stack.network(key) as net:
        return call_function(net, attacks.function(function), list(args), ttl_ms=20_000)


def _refused(stack, key, attacks, function: str, *args) -> str:
    with pytest.raises(FluenceDaoError) as info:
        _call(stack, key, attacks, function, *args)
    return info.value.message


def test_attacker_cannot_read_the_management_key_through_curl_adapter(stack, attacks, attacker_key) -> None:
    """Was: curl_adapter.curl_raw(["-s", "file://<state>/client/key"]) returned the management key."""
    key_file = stack.state_dir / "client" / "key"
    message = _refused(stack, attacker_key, attacks, "http_request", "GET", f"file://{key_file}", [], "", 5000)
    assert "Forbidden" in message and attacker_key.peer_id in message
    assert key_file.read_text().strip() not in message
    message = _refused(stack, attacker_key, attacks, "eth_rpc", stack.rpc_url, "eth_chainId", "[]")
    assert "Forbidden" in message  # not even the allowlisted chain RPC: the effector is not for strangers


def test_even_the_operator_reads_no_file_and_reaches_no_origin_outside_the_allowlist(stack, attacks) -> None:
    management = stack.management_key()
    key_file = stack.state_dir / "client" / "key"
    secret = key_file.read_text().strip()
    for url in (f"file://{key_file}", "http://127.0.0.1:9/", "gopher://127.0.0.1:70/"):
        result = _call(stack, management, attacks, "http_request", "GET", url, [], "", 5000)
        assert result["success"] is False, url
        assert secret not in str(result)
    ok = _call(stack, management, attacks, "eth_rpc", stack.rpc_url, "eth_chainId", "[]")
    assert ok["error"] == "" and int(ok["result"], 16) == 31337  # the allowlisted chain RPC works


def test_raw_curl_arguments_are_no_longer_a_function(stack) -> None:
    """Was: `-o PATH` wrote any file as the daemon's user. The adapter has no raw-argument function left."""
    from pathlib import Path

    from fluence_dao.aqua import compile_aqua

    target = stack.state_dir / "written-by-curl"
    compiled = compile_aqua(Path(__file__).with_name("raw_curl.aqua"))
    with pytest.raises(FluenceDaoError) as info, stack.network(stack.management_key()) as net:
        call_function(net, compiled.function("try_raw"), [["-s", "-o", str(target), stack.rpc_url]], ttl_ms=20_000)
    assert "curl_request" in info.value.message
    assert not target.exists()


def test_attacker_cannot_sign(stack, attacks, attacker_key) -> None:
    tx = '{"to":"0x0000000000000000000000000000000000000001","value":"0xde0b6b3a7640000","nonce":"0x0","gas":"0x5208","max_fee_per_gas":"0x1","max_priority_fee_per_gas":"0x1"}'
    result = _call(stack, attacker_key, attacks, "sign_tx", stack.signer_service, tx, 31337)
    assert result["success"] is False and result["value"] == ""
    assert "not authori" in result["error"]


def test_attacker_cannot_push_fee_state(stack, attacks, attacker_key) -> None:
    """Was: 30 calls of operator.replacement_fees made the next replacement pay ~1,262x the gas price."""
    args = ("0x77359400", "0x3b9aca00", "0x12a05f200", "0x3b9aca00")
    first = _call(stack, attacker_key, attacks, "replacement_fees", *args)
    for _ in range(30):
        _call(stack, attacker_key, attacks, "replacement_fees", *args)
    assert _call(stack, attacker_key, attacks, "replacement_fees", *args) == first
    # and a run after it pays normal fees: at most the peer's cap (4 x the gas price)
    count = len(stack.signer_updates())
    stack.wait_for_updates(count)
    latest = stack.signer_updates()[-1]
    gas_price = int(stack.rpc("eth_gasPrice", []), 16)
    assert int(latest["maxFeePerGas"], 16) <= 4 * gas_price


def test_attacker_cannot_touch_peer_wide_ipfs_state(stack, attacks, attacker_key) -> None:
    assert "Forbidden" in _refused(stack, attacker_key, attacks, "ipfs_set_timeout", 1)
    put = _call(stack, attacker_key, attacks, "ipfs_put", "x" * 1000)
    assert put["success"] is False and "Forbidden" in put["error"]
    cat = _call(stack, attacker_key, attacks, "ipfs_cat_from", "bafkqaaa", "/ip4/127.0.0.1/tcp/9")
    assert cat["success"] is False and "Forbidden" in cat["error"]


def test_attacker_cannot_read_state_files_through_ids(stack, attacks, attacker_key) -> None:
    """Was: dist.get_blueprint("../../peer/daemon") read <state>/peer/daemon.json."""
    message = _refused(stack, attacker_key, attacks, "get_blueprint", "../../peer/daemon")
    assert "wasn't found" in message and stack.peer_id not in message


def test_the_interval_outlives_every_attack(stack) -> None:
    """Last in this file: after everything above, the loop still sends from consecutive nonces, no gap."""
    before = len(stack.signer_updates())
    stack.wait_for_updates(before + 1, timeout_s=60)
    nonces = [int(tx["nonce"], 16) for tx in stack.signer_updates()]
    assert nonces == list(range(len(nonces)))
