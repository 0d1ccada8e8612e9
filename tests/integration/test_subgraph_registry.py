"""The runner on a second subgraph (tests/subgraphs/registry): a data source template created with a context,
BigDecimal arithmetic, crypto.keccak256, ethereum.encode/decode, ethereum.call, store.loadRelated and
@derivedFrom; and a mapping that calls an unimplemented host function or traps. Expected entities are computed
here from what the test sent (Python's decimal, eth_abi, eth_hash), never by the runner."""

from __future__ import annotations

import functools
import json
from decimal import ROUND_HALF_UP, Context, Decimal
from pathlib import Path
from typing import Any

import pytest

from _helpers import evm_snapshot, require_graph_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "tests" / "subgraphs" / "registry"


@pytest.fixture(scope="module")
def artifacts() -> dict[str, Any]:
    require_graph_cli()
    from fluence_dao.eth import compile_contracts

    return compile_contracts(REGISTRY / "contracts" / "Registry.sol")


@pytest.fixture(scope="module")
def registry_build(artifacts: dict[str, Any]) -> Path:
    """ABIs from solc, then graph codegen + build of tests/subgraphs/registry."""
    from fluence_dao.subgraph import build_subgraph

    abis = REGISTRY / "abis"
    abis.mkdir(exist_ok=True)
    for name in ("Registry", "Vault"):
        (abis / f"{name}.json").write_text(json.dumps(artifacts[name]["abi"]))
    return build_subgraph(REGISTRY)


def _deploy_registry(w3: Any, artifacts: dict[str, Any]) -> tuple[Any, int]:
    from fluence_dao.eth import EthClient, TxSender, deploy_contract

    sender = TxSender.unlocked(EthClient(w3.provider.endpoint_uri), w3.eth.accounts[0])
    receipt = deploy_contract(sender, artifacts["Registry"], what="deploy Registry")
    return w3.eth.contract(address=receipt.contract_address, abi=artifacts["Registry"]["abi"]), receipt.block_number


def _send(w3: Any, call: Any, sender: str) -> Any:
    receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}))
    assert receipt["status"] == 1
    return receipt


def _indexer(build: Path, db: Path, devnet: Any, registry: Any, start: int) -> Any:
    from fluence_dao.subgraph import EthRpc, Indexer, IndexerConfig, Store

    return Indexer(
        build,
        Store(db),
        EthRpc(devnet.rpc_url),
        addresses={"Registry": registry.address},
        start_blocks={"Registry": start},
        config=IndexerConfig(handler_timeout_s=1),
    )


def _query(indexer: Any, query: str) -> dict[str, Any]:
    import httpx

    from fluence_dao.subgraph import SubgraphServer

    with SubgraphServer(indexer, 0, index=False) as server:
        return dict(httpx.post(server.url, json={"query": query}, timeout=30).json())


EXACT = Context(prec=200)


def _big_decimal(value: Decimal) -> str:
    """graph-node's BigDecimal string: at most 34 significant digits, no exponent, no trailing zeros."""
    context = Context(prec=34, rounding=ROUND_HALF_UP)
    rounded = context.normalize(context.plus(value))
    return format(rounded, "f")


_Deposit = tuple[int, str, str, Any]  # amount, memo, sender, receipt
VAULTS_QUERY = """{ vaults(orderBy: name) { id name nameHash encoded decodedName decimals network totalRaw total
       onChainTotal loadedDeposits deposits(first: 100) { amount amountDecimal third memo contextName from gasUsed receiptStatus receiptLogs receiptTopic0 } }
     blockTicks(first: 1000, orderBy: number) { id kind number hash timestamp }
     _meta { hasIndexingErrors block { number } } }"""


def test_template_bigdecimal_keccak_call_loadrelated(
    registry_build: Path, artifacts: dict[str, Any], devnet: Any, w3: Any, tmp_path: Path
) -> None:
    with evm_snapshot(w3):
        registry, start = _deploy_registry(w3, artifacts)
        vaults = _create_vaults(w3, registry, [("Alpha vault", 6), ("Βήτα ✓ vault", 18)])
        deposits = _deposit(w3, artifacts, vaults)

        indexer = _indexer(registry_build, tmp_path / "registry.sqlite", devnet, registry, start)
        indexer.sync()
        assert indexer.store.error() is None
        assert {ds.address for ds in indexer.store.data_sources()} == set(vaults)
        reply = _query(indexer, VAULTS_QUERY)
        assert "errors" not in reply, reply
        got = {v["id"]: v for v in reply["data"]["vaults"]}
        assert set(got) == set(vaults)
        for address, (name, decimals) in vaults.items():
            _check_vault(got[address], name, decimals, deposits[address])
        assert reply["data"]["_meta"]["hasIndexingErrors"] is False
        # Block handlers: `once` at the start block, `polling` every 3 blocks from it, with the chain's hashes.
        head = reply["data"]["_meta"]["block"]["number"]
        expected_ticks = [("once", start)] + [("polling", n) for n in range(start, head + 1, 3)]
        ticks = reply["data"]["blockTicks"]
        assert sorted((t["kind"], int(t["number"])) for t in ticks) == sorted(expected_ticks)
        for t in ticks:
            block = w3.eth.get_block(int(t["number"]))
            assert t["hash"] == block["hash"].to_0x_hex() and t["timestamp"] == str(block["timestamp"])


def _create_vaults(w3: Any, registry: Any, specs: list[tuple[str, int]]) -> dict[str, tuple[str, int]]:
    """Vaults created through the registry (each a data source from the template): address -> (name, decimals)."""
    vaults: dict[str, tuple[str, int]] = {}
    for name, decimals in specs:
        receipt = _send(w3, registry.functions.createVault(name, decimals), w3.eth.accounts[0])
        event = registry.events.VaultCreated().process_receipt(receipt)[0]
        vaults[event["args"]["vault"].lower()] = (name, decimals)
    return vaults


def _deposit(w3: Any, artifacts: dict[str, Any], vaults: dict[str, tuple[str, int]]) -> dict[str, list[_Deposit]]:
    """Deposits of awkward amounts into every vault, each from another account."""
    accounts = w3.eth.accounts
    deposits: dict[str, list[_Deposit]] = {a: [] for a in vaults}
    amounts = [1_500_000, 1, 2**100 + 7, 10**18 + 1]
    for n, (address, _) in enumerate(sorted(vaults.items())):
        vault = w3.eth.contract(address=w3.to_checksum_address(address), abi=artifacts["Vault"]["abi"])
        for k, amount in enumerate(amounts[n:] + amounts[:n]):
            memo = f"deposit {k} ✓"
            receipt = _send(w3, vault.functions.deposit(amount, memo), accounts[1 + k])
            deposits[address].append((amount, memo, accounts[1 + k].lower(), receipt))
    return deposits


def _check_vault(v: dict[str, Any], name: str, decimals: int, sent: list[_Deposit]) -> None:
    """One vault entity against what was sent: keccak, ABI encoding, ethereum.call, loadRelated, BigDecimal."""
    import eth_abi
    from eth_hash.auto import keccak

    total = sum(a for a, *_ in sent)
    scale = Decimal(10) ** decimals
    assert v["name"] == v["decodedName"] == name
    assert v["nameHash"] == "0x" + keccak(name.encode()).hex()
    assert v["encoded"] == "0x" + eth_abi.encode(["(string,uint8)"], [(name, decimals)]).hex()
    assert v["decimals"] == decimals and v["network"] == "anvil"
    assert v["totalRaw"] == str(total) == v["onChainTotal"]  # ethereum.call agrees with the events
    assert v["loadedDeposits"] == len(sent)  # loadRelated saw every deposit, this block's included
    expected_total = functools.reduce(EXACT.add, (EXACT.divide(Decimal(a), scale) for a, *_ in sent), Decimal(0))
    assert v["total"] == _big_decimal(expected_total)
    want = sorted(
        (
            str(a),
            _big_decimal(EXACT.divide(Decimal(a), scale)),
            _big_decimal(EXACT.divide(Decimal(_big_decimal(EXACT.divide(Decimal(a), scale))), Decimal(3))),
            memo,
            name,
            sender,
            str(receipt["gasUsed"]),
            str(receipt["status"]),
            len(receipt["logs"]),
            "0x" + bytes(receipt["logs"][0]["topics"][0]).hex(),
        )
        for a, memo, sender, receipt in sent
    )
    # GraphQL answers fields in the order the query selects them: the same order as `want`
    have = sorted(tuple(d.values()) for d in v["deposits"])
    assert have == want


@pytest.mark.parametrize(
    ("kind", "function", "text"),
    [
        (1, "ipfs.cat", "failed in host function ipfs.cat: unsupported host function ipfs.cat"),
        (
            2,
            "src/registry/handleFault",
            "trapped in wasm function src/registry/handleFault: wasm trap: integer divide by zero",
        ),
        (3, "src/registry/handleFault", "trapped in wasm function src/registry/handleFault: wasm trap: interrupt"),
    ],
)
def test_failing_handler_stops_indexing(
    registry_build: Path,
    artifacts: dict[str, Any],
    devnet: Any,
    w3: Any,
    tmp_path: Path,
    kind: int,
    function: str,
    text: str,
) -> None:
    from typer.testing import CliRunner

    from fluence_dao.cli.main import app

    with evm_snapshot(w3):
        registry, start = _deploy_registry(w3, artifacts)
        _send(w3, registry.functions.createVault("before the fault", 2), w3.eth.accounts[0])
        fault_block = _send(w3, registry.functions.fault(kind), w3.eth.accounts[0])["blockNumber"]
        _send(w3, registry.functions.createVault("after the fault", 2), w3.eth.accounts[0])

        db = tmp_path / "fault.sqlite"
        indexer = _indexer(registry_build, db, devnet, registry, start)
        indexer.sync()
        error = indexer.store.error()
        assert error is not None
        assert text in error["message"] and "handleFault" in error["message"]
        assert f"at block {fault_block}" in error["message"]
        assert error["handler"] == "handleFault" and error["block"] == fault_block
        assert error["function"] == function
        assert indexer.store.cursor().number == fault_block - 1  # the failed block is not committed
        indexer.sync()  # a failed subgraph stays failed
        assert indexer.store.cursor().number == fault_block - 1

        reply = _query(indexer, "{ vaults { name } _meta { hasIndexingErrors block { number } } }")
        assert reply["data"]["_meta"]["hasIndexingErrors"] is True
        assert reply["data"]["_meta"]["block"]["number"] == fault_block - 1
        assert [v["name"] for v in reply["data"]["vaults"]] == ["before the fault"]
        indexer.close()

        result = CliRunner().invoke(app, ["subgraph", "status", str(REGISTRY), "--db", str(db), "--json"])
        assert result.exit_code == 0, result.output
        status = json.loads(result.stdout)
        assert status["failed"] is True and text in status["error"]["message"]
        assert status["synced_block"]["number"] == fault_block - 1
