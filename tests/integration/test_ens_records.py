"""ENS on a real anvil with the real ENS contracts: records, owners, failures, nonces, and the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from eth_account import Account

from _helpers import in_threads, invoke_cli
from fluence_dao.cli import console
from fluence_dao.errors import EnsError, RpcUnavailableError, TransactionFailedError
from fluence_dao.eth import EthClient, NonceManager, TxSender, namehash, transaction_json

pytestmark = pytest.mark.integration

PROJECT = "public-record.eth"
ALPHA = "alpha.public-record.eth"
ETHER = 10**18


@pytest.fixture(autouse=True)
def _plain_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """CLI runs see no .env from the checkout, and --json mode never leaks into the next test."""
    monkeypatch.chdir(tmp_path)
    console.set_json(False)
    yield
    console.set_json(False)


def _cli(env, *args: str):
    return invoke_cli(args, env)


# --- records and owners


def test_set_and_read_a_text_record(ens_env) -> None:
    receipt = ens_env.ens.set_text(PROJECT, "wasm.signer", "bafy-first", ens_env.gov)
    assert receipt.status == 1 and receipt.tx_hash.startswith("0x")
    assert ens_env.ens.text(PROJECT, "wasm.signer") == "bafy-first"
    ens_env.ens.set_text(PROJECT, "wasm.signer", "bafy-second", ens_env.gov)
    assert ens_env.ens.text(PROJECT, "wasm.signer") == "bafy-second"
    assert ens_env.ens.text(PROJECT, "never-set") == ""


def test_reads_agree_with_web3(ens_env) -> None:
    """Owner, resolver, namehash and text agree with web3.py's own ENS and contract calls."""
    from ens import ENS
    from ens.utils import normal_name_to_hash
    from web3 import Web3

    from fluence_dao.devnet import RESOLVER_ARTIFACT, load_artifact

    sub = "deep.alpha.public-record.eth"
    ens_env.ens.set_subnode_record(ALPHA, "deep", ens_env.gov.address, ens_env.devnet.resolver, ens_env.gov)
    ens_env.ens.set_text(sub, "k", "v-deep", ens_env.gov)

    w3 = Web3(Web3.HTTPProvider(ens_env.devnet.rpc_url))
    web3_ens = ENS.from_web3(w3, addr=ens_env.devnet.registry)
    resolver_abi, _ = load_artifact(*RESOLVER_ARTIFACT)
    resolver = w3.eth.contract(address=ens_env.devnet.resolver, abi=resolver_abi)
    for name in (PROJECT, ALPHA, sub, "Deep.Alpha.Public-Record.ETH"):
        assert namehash(name) == bytes(normal_name_to_hash(name.lower()))
        assert ens_env.ens.owner(name) == web3_ens.owner(name)
        assert ens_env.ens.resolver(name) == ens_env.devnet.resolver
    assert ens_env.ens.text(sub, "k") == resolver.functions.text(normal_name_to_hash(sub), "k").call() == "v-deep"
    # the subdomain's record lives on its own node, not on its parent's
    assert ens_env.ens.text(ALPHA, "k") == ""


def test_moving_alpha_gives_the_new_owner_and_only_it_the_records(ens_env) -> None:
    new_account, new_sender = ens_env.new_account(fund_wei=ETHER)
    ens_env.ens.set_text(ALPHA, "status", "before", ens_env.gov)

    ens_env.ens.set_owner(ALPHA, new_account.address, ens_env.gov)

    assert ens_env.ens.owner(ALPHA) == new_account.address
    ens_env.ens.set_text(ALPHA, "status", "by-new-owner", new_sender)
    assert ens_env.ens.text(ALPHA, "status") == "by-new-owner"
    with pytest.raises(TransactionFailedError) as failed:
        ens_env.ens.set_text(ALPHA, "status", "by-old-owner", ens_env.gov)
    assert failed.value.details["reason"] == "reverted"
    assert new_account.address in failed.value.message  # the hint names the real owner
    assert ens_env.ens.text(ALPHA, "status") == "by-new-owner"
    # governance still owns the parent and can take the name back
    ens_env.ens.set_owner(ALPHA, ens_env.gov.address, ens_env.gov)
    assert ens_env.ens.owner(ALPHA) == ens_env.gov.address


def test_set_owner_by_a_stranger_is_refused_before_sending(ens_env) -> None:
    _, stranger = ens_env.new_account(fund_wei=ETHER)
    before = ens_env.client.pending_nonce(stranger.address)
    with pytest.raises(EnsError, match=re.escape("cannot change the owner of alpha.public-record.eth")):
        ens_env.ens.set_owner(ALPHA, stranger.address, stranger)
    assert ens_env.client.pending_nonce(stranger.address) == before
    assert ens_env.ens.owner(ALPHA) == ens_env.gov.address


def test_a_name_without_resolver_is_a_clear_error(ens_env) -> None:
    with pytest.raises(EnsError, match=re.escape("nobody.eth has no resolver")):
        ens_env.ens.text("nobody.eth", "k")


# --- failures


def test_a_reverted_transaction_is_a_clear_error_with_its_hash(ens_env) -> None:
    _, stranger = ens_env.new_account(fund_wei=ETHER)
    request = ens_env.ens.set_text_request(PROJECT, "k", "v")
    # with a gas limit given there is no estimate: the transaction is mined and reverts on chain
    with pytest.raises(TransactionFailedError) as failed:
        stranger.send_and_wait(request.to, request.data, gas=200_000)
    err = failed.value
    assert err.details["reason"] == "reverted"
    tx_hash = err.details["tx_hash"]
    assert tx_hash in err.message
    assert ens_env.client.w3.eth.get_transaction_receipt(tx_hash)["status"] == 0
    # without a gas limit the estimate already refuses it, and nothing is sent
    nonce = ens_env.client.pending_nonce(stranger.address)
    with pytest.raises(TransactionFailedError, match="would fail") as estimated:
        stranger.send_and_wait(request.to, request.data)
    assert estimated.value.details["reason"] == "reverted"
    assert ens_env.client.pending_nonce(stranger.address) == nonce


def test_out_of_gas_is_reported_as_such(ens_env) -> None:
    request = ens_env.ens.set_text_request(PROJECT, "k", "a value long enough to need storage")
    with pytest.raises(TransactionFailedError) as failed:
        ens_env.gov.send_and_wait(request.to, request.data, gas=30_000)
    assert failed.value.details["reason"] == "out_of_gas"
    assert failed.value.details["tx_hash"]


def test_an_underfunded_sender_gets_a_clear_error_and_no_nonce_gap(ens_env) -> None:
    poor_account, poor = ens_env.new_account()
    request = ens_env.ens.set_text_request(PROJECT, "k", "v")
    with pytest.raises(TransactionFailedError) as failed:
        poor.send_and_wait(ens_env.gov.address, b"", value=1, gas=21_000)
    err = failed.value
    assert err.details["reason"] == "insufficient_funds"
    assert err.details["tx_hash"] and err.details["tx_hash"] in err.message
    assert poor_account.address in err.message
    with pytest.raises(TransactionFailedError) as estimated:
        poor.send_and_wait(request.to, request.data, value=ETHER)
    assert estimated.value.details["reason"] == "insufficient_funds"
    # once funded, the same sender's next transaction uses nonce 0: the failures left no gap
    ens_env.gov.transfer(poor_account.address, ETHER)
    receipt = poor.transfer(ens_env.gov.address, 1)
    assert ens_env.client.w3.eth.get_transaction(receipt.tx_hash)["nonce"] == 0


def test_an_underpriced_transaction_is_rejected_clearly(ens_env) -> None:
    with pytest.raises(TransactionFailedError) as failed:
        ens_env.gov.send_and_wait(ens_env.gov.address, b"", gas=21_000, fees={"gasPrice": 1})
    assert failed.value.details["reason"] == "underpriced"
    assert failed.value.details["tx_hash"]


def test_a_dead_rpc_endpoint_names_the_url(ens_env) -> None:
    from fluence_dao.util.net import free_port

    url = f"http://127.0.0.1:{free_port()}"
    client = EthClient(url, timeout_s=2.0)
    with pytest.raises(RpcUnavailableError) as failed:
        client.chain_id()
    assert url in failed.value.message and failed.value.details["rpc_url"] == url
    sender = TxSender(client, Account.create().key.hex())
    with pytest.raises(RpcUnavailableError, match=url):
        sender.transfer(ens_env.gov.address, 1)


# --- nonces


def test_concurrent_sends_get_consecutive_nonces(ens_env) -> None:
    start = ens_env.client.pending_nonce(ens_env.gov.address)
    receipts = in_threads(lambda i: ens_env.gov.transfer(Account.create().address, i + 1), 6)
    nonces = sorted(int(ens_env.client.w3.eth.get_transaction(r.tx_hash)["nonce"]) for r in receipts)
    assert nonces == list(range(start, start + 6))


def test_nonce_too_low_is_reported_and_resync_recovers(ens_env) -> None:
    """Another process takes our reserved nonce: the raw send fails clearly; resync gives the next free one."""
    key = ens_env.devnet.settings.eth.effective_governance_key(ens_env.devnet.rpc_url).get_secret_value()
    account = Account.from_key(key)
    manager = NonceManager(ens_env.client, account.address)
    nonce = manager.reserve()
    ens_env.gov.transfer(Account.create().address, 1)  # the "other process" uses that nonce first
    fields = {"to": account.address, "value": 0, "gas": 21_000, "chainId": 31337, "nonce": nonce}
    raw = account.sign_transaction({**fields, **ens_env.client.fee_fields()}).raw_transaction
    with pytest.raises(TransactionFailedError) as failed:
        ens_env.client.send_raw_transaction(bytes(raw), sender=account.address, nonce=nonce)
    assert failed.value.details["reason"] == "nonce_too_low"
    assert failed.value.details["tx_hash"] in failed.value.message
    manager.resync()
    assert manager.reserve() == nonce + 1


class StaleOnceNonceManager(NonceManager):
    """Simulates a lost race: the first reservation returns a nonce another process has just used."""

    def __init__(self, *args, stale: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._stale: int | None = stale

    def reserve(self) -> int:
        if self._stale is not None:
            stale, self._stale = self._stale, None
            return stale
        return super().reserve()


def test_sender_retries_once_after_nonce_too_low(ens_env) -> None:
    used = ens_env.client.pending_nonce(ens_env.gov.address)
    ens_env.gov.transfer(Account.create().address, 1)  # nonce `used` is now taken
    key = ens_env.devnet.settings.eth.effective_governance_key(ens_env.devnet.rpc_url)
    manager = StaleOnceNonceManager(ens_env.client, ens_env.gov.address, stale=used)
    sender = TxSender(ens_env.client, key, nonce_manager=manager)
    receipt = sender.transfer(Account.create().address, 1)
    assert ens_env.client.w3.eth.get_transaction(receipt.tx_hash)["nonce"] == used + 1


def test_released_nonces_are_reused(ens_env) -> None:
    manager = NonceManager(ens_env.client, ens_env.gov.address)
    first, second, third = manager.reserve(), manager.reserve(), manager.reserve()
    assert [second, third] == [first + 1, first + 2]
    manager.release(second)
    manager.release(third)
    manager.release(first)
    assert manager.reserve() == first


# --- the CLI


def test_cli_set_get_owner_and_set_owner(ens_env) -> None:
    env = ens_env.devnet.cli_env()
    result = _cli(env, "ens", "set", PROJECT, "wasm.ens", "bafy-cli")
    assert result.exit_code == 0, result.output
    tx_hash = result.stdout.strip()
    assert ens_env.client.w3.eth.get_transaction_receipt(tx_hash)["status"] == 1

    result = _cli(env, "ens", "get", PROJECT, "wasm.ens", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"name": PROJECT, "key": "wasm.ens", "value": "bafy-cli"}
    console.set_json(False)

    new_account, _ = ens_env.new_account(fund_wei=ETHER)
    result = _cli(env, "ens", "set-owner", ALPHA, new_account.address, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["owner"] == new_account.address
    console.set_json(False)
    result = _cli(env, "ens", "owner", ALPHA)
    assert result.stdout.strip() == new_account.address

    # the new owner (its key from the environment) can write; the governance key no longer can
    result = _cli({**env, "FLUENCE_DAO_ETH__GOVERNANCE_KEY": new_account.key.hex()}, "ens", "set", ALPHA, "k", "v")
    assert result.exit_code == 0, result.output
    result = _cli(env, "ens", "set", ALPHA, "k", "v2")
    assert result.exit_code == 1
    assert isinstance(result.exception, TransactionFailedError)
    assert ens_env.ens.text(ALPHA, "k") == "v"


def test_cli_never_prints_the_key(ens_env) -> None:
    account, _ = ens_env.new_account(fund_wei=ETHER)
    key = account.key.hex()
    env = {**ens_env.devnet.cli_env(), "FLUENCE_DAO_ETH__GOVERNANCE_KEY": key}
    for args in (["ens", "set", PROJECT, "k", "v", "--json"], ["config", "show", "--json"], ["config", "show"]):
        result = _cli(env, *args)
        console.set_json(False)
        assert key.removeprefix("0x") not in result.output
        assert key.removeprefix("0x") not in str(result.exception or "")


def test_cli_dead_rpc_is_exit_1_naming_the_url(ens_env) -> None:
    from fluence_dao.util.net import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = _cli(ens_env.devnet.cli_env(), "ens", "get", PROJECT, "k", "--rpc-url", url)
    assert result.exit_code == 1
    assert isinstance(result.exception, RpcUnavailableError)
    assert url in str(result.exception)


def test_cli_underfunded_owner_gets_a_clear_error(ens_env) -> None:
    poor_account, _ = ens_env.new_account()
    ens_env.ens.set_owner(ALPHA, poor_account.address, ens_env.gov)
    env = {**ens_env.devnet.cli_env(), "FLUENCE_DAO_ETH__GOVERNANCE_KEY": poor_account.key.hex()}
    result = _cli(env, "ens", "set", ALPHA, "k", "v")
    assert result.exit_code == 1
    err = result.exception
    assert isinstance(err, TransactionFailedError)
    assert err.details["reason"] == "insufficient_funds"
    assert poor_account.address in err.message and "fund" in err.message


@pytest.mark.slow
def test_cli_error_as_json_through_the_entry_point(ens_env) -> None:
    """The console entry point maps the error to exit code 1 and one JSON document on stdout."""
    import subprocess
    import sys

    from fluence_dao.util.net import free_port

    url = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("FLUENCE_DAO_")}
    env.update(ens_env.devnet.cli_env())
    proc = subprocess.run(
        [sys.executable, "-m", "fluence_dao", "ens", "owner", PROJECT, "--rpc-url", url, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    error = json.loads(proc.stdout)["error"]
    assert error["type"] == "RpcUnavailableError"
    assert error["rpc_url"] == url


def test_resending_the_same_signed_transaction_is_not_an_error(ens_env) -> None:
    key = ens_env.devnet.settings.eth.effective_governance_key(ens_env.devnet.rpc_url).get_secret_value()
    account = Account.from_key(key)
    nonce = ens_env.client.pending_nonce(account.address)
    fields = {"to": account.address, "value": 0, "gas": 21_000, "chainId": 31337, "nonce": nonce}
    raw = bytes(account.sign_transaction({**fields, **ens_env.client.fee_fields()}).raw_transaction)
    ens_env.client.rpc("evm_setAutomine", [False])
    try:
        first = ens_env.client.send_raw_transaction(raw, sender=account.address, nonce=nonce)
        assert ens_env.client.send_raw_transaction(raw, sender=account.address, nonce=nonce) == first
        ens_env.client.rpc("evm_mine", [])
    finally:
        ens_env.client.rpc("evm_setAutomine", [True])
    assert ens_env.client.wait_for_receipt(first, timeout_s=10).status == 1


def test_an_external_signer_sends_through_the_same_path(ens_env) -> None:
    """As the signer module will: only a sign function and an address, no key in the sender."""
    from fluence_dao.errors import EthError

    signer_account = Account.create()
    ens_env.gov.transfer(signer_account.address, ETHER)
    ens_env.ens.set_owner(ALPHA, signer_account.address, ens_env.gov)
    signed: list[int] = []
    selectors: list[str] = []

    def sign(tx: dict) -> bytes:
        """Through JSON and back, as a request to the signer module travels."""
        request = json.loads(transaction_json(tx))
        signed.append(request["nonce"])
        selectors.append(request["data"][:10])
        return bytes(signer_account.sign_transaction(request).raw_transaction)

    sender = TxSender.external(ens_env.client, signer_account.address, sign)
    receipt = ens_env.ens.set_text(ALPHA, "ipld-tip", "bafy-tip", sender)
    assert receipt.sender == signer_account.address and signed == [0]
    assert selectors == ["0x10f13a8c"]  # setText(bytes32,string,string)
    assert ens_env.ens.text(ALPHA, "ipld-tip") == "bafy-tip"

    impostor = Account.create()
    wrong = TxSender.external(
        ens_env.client, signer_account.address, lambda tx: bytes(impostor.sign_transaction(tx).raw_transaction)
    )
    with pytest.raises(EthError, match=f"signed for {impostor.address}, not for {signer_account.address}"):
        ens_env.ens.set_text(ALPHA, "ipld-tip", "bafy-other", wrong)
    assert ens_env.client.pending_nonce(signer_account.address) == 1  # nothing sent, no nonce used
    assert sender.transfer(ens_env.gov.address, 1).status == 1  # and the next nonce is 1: no gap


def test_a_wrong_chain_or_registry_is_a_clear_error(ens_env) -> None:
    from fluence_dao.errors import EthError

    with pytest.raises(EthError, match="is chain 31337, but chain 1 is configured"):
        EthClient(ens_env.devnet.rpc_url, expected_chain_id=1).chain_id()
    nowhere = "0x000000000000000000000000000000000000dEaD"
    result = _cli(ens_env.devnet.cli_env(), "ens", "owner", PROJECT, "--registry", nowhere)
    assert result.exit_code == 1
    assert isinstance(result.exception, EnsError)
    assert f"no ENS registry at {nowhere}" in str(result.exception)
