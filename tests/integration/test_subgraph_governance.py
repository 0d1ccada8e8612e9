"""The demo referendum subgraph, built from source by graph-cli, indexed from a real anvil chain by the runner
and queried over HTTP GraphQL. Expected values are computed independently from the chain's logs (decoded by
web3 with the solc ABI), never by the runner."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _helpers import evm_snapshot, require_graph_cli

DevnetSession = Any  # the `devnet` session fixture of tests/integration/conftest.py


pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NON_ASCII = "Förslag: ändra avgiften — 提案 ✓ (ünïcödé)"


@pytest.fixture(scope="module")
def demo_build() -> Path:
    """subgraph/ built from source (codegen + build) by the project's graph-cli."""
    require_graph_cli()
    from fluence_dao.subgraph import build_subgraph

    out = build_subgraph(ROOT / "subgraph")
    assert (out / "Governance" / "Governance.wasm").is_file()
    return out


def _senders(w3: Any) -> list[Any]:
    """TxSenders for anvil's dev accounts (the node signs for them)."""
    from fluence_dao.eth import EthClient, TxSender

    client = EthClient(w3.provider.endpoint_uri)
    return [TxSender.unlocked(client, a) for a in w3.eth.accounts]


@pytest.fixture(scope="module")
def activity(w3: Any, demo_build: Path) -> Iterator[dict[str, Any]]:
    """Governance deployed, 5 proposals (one non-ASCII), weighted votes (some above 2**64), closes."""
    from fluence_dao.eth import GovernanceContract

    with evm_snapshot(w3):
        accounts = _senders(w3)
        gov, deploy_block = GovernanceContract.deploy(accounts[0])
        descriptions = ["Raise the fee", NON_ASCII, "Fund the IPFS pinning", "Rotate the signer", "Sunset v1"]
        ids = [gov.propose(d, 200, sender=accounts[1 + i % 3]) for i, d in enumerate(descriptions)]
        weights = [2**64 + 1, 7, 3 * 2**70, 10**18, 2**200 + 12345, 1]
        for n, pid in enumerate(ids[:3]):
            for k, voter in enumerate(accounts[2:8]):
                gov.vote(pid, (n + k) % 3 != 0, weights[k] * (n + 1), sender=voter)
        mid_block = w3.eth.block_number
        for k, voter in enumerate(accounts[2:6]):
            gov.vote(ids[3], k % 2 == 0, weights[(k + 2) % len(weights)], sender=voter)
        gov.vote(ids[4], False, 2**96, sender=accounts[9])
        gov.close(ids[0])
        gov.close(ids[3])
        yield {
            "gov": gov,
            "deploy_block": deploy_block,
            "mid_block": mid_block,
            "end_block": w3.eth.block_number,
            "ids": ids,
        }


def expected_from_logs(w3: Any, gov: Any, from_block: int, to_block: int) -> dict[str, Any]:
    """Totals from the chain's logs, decoded by web3 with the compiled ABI."""
    c = gov.contract
    proposals: dict[str, dict[str, Any]] = {}
    for ev in c.events.ProposalCreated().get_logs(from_block=from_block, to_block=to_block):
        a = ev["args"]
        proposals[str(a["id"])] = {
            "id": str(a["id"]),
            "description": a["description"],
            "endBlock": str(a["endBlock"]),
            "proposer": {"id": a["proposer"].lower()},
            "forVotes": 0,
            "againstVotes": 0,
            "voteCount": 0,
            "closed": False,
            "passed": None,
        }
    voters: dict[str, int] = defaultdict(int)
    votes = 0
    for ev in c.events.VoteCast().get_logs(from_block=from_block, to_block=to_block):
        a = ev["args"]
        p = proposals[str(a["id"])]
        p["forVotes" if a["support"] else "againstVotes"] += a["weight"]
        p["voteCount"] += 1
        voters[a["voter"].lower()] += a["weight"]
        votes += 1
    for ev in c.events.ReferendumClosed().get_logs(from_block=from_block, to_block=to_block):
        a = ev["args"]
        p = proposals[str(a["id"])]
        p["closed"], p["passed"] = True, a["passed"]
    for p in proposals.values():
        p["forVotes"], p["againstVotes"] = str(p["forVotes"]), str(p["againstVotes"])
    return {"proposals": proposals, "voters": {k: str(v) for k, v in voters.items()}, "votes": votes}


PROPOSALS_QUERY = """
query($block: Int) {
  proposals(first: 1000, orderBy: number, block: {number: $block}) {
    id description endBlock proposer { id } forVotes againstVotes voteCount closed passed
  }
  delegates(first: 1000, where: {voteCount_gt: 0}, block: {number: $block}) { id totalWeight votes { id } }
  _meta(block: {number: $block}) { block { number } hasIndexingErrors }
}"""


def _query(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    import httpx

    reply = httpx.post(url, json={"query": query, "variables": variables or {}}, timeout=30).json()
    assert "errors" not in reply, reply
    return reply["data"]


def _check(data: dict[str, Any], expected: dict[str, Any]) -> None:
    got = {p["id"]: p for p in data["proposals"]}
    assert got == expected["proposals"]
    voters = {d["id"]: d["totalWeight"] for d in data["delegates"]}
    assert voters == expected["voters"]
    assert sum(len(d["votes"]) for d in data["delegates"]) == expected["votes"]


def _indexer(build: Path, db: Path, devnet: DevnetSession, activity: dict[str, Any], rpc: Any = None) -> Any:
    from fluence_dao.subgraph import EthRpc, Indexer, Store

    return Indexer(
        build,
        Store(db),
        rpc or EthRpc(devnet.rpc_url),
        addresses={"Governance": activity["gov"].address},
        start_blocks={"Governance": activity["deploy_block"]},
    )


def test_graphql_totals_equal_logs_and_past_blocks(
    demo_build: Path, devnet: DevnetSession, activity: dict[str, Any], w3: Any, tmp_path: Path
) -> None:
    from fluence_dao.subgraph import SubgraphServer

    indexer = _indexer(demo_build, tmp_path / "demo.sqlite", devnet, activity)
    cursor = indexer.sync()
    assert cursor is not None and cursor.number >= activity["end_block"]
    with SubgraphServer(indexer, 0, index=False) as server:
        assert server.url.startswith("http://127.0.0.1:")
        expected = expected_from_logs(w3, activity["gov"], activity["deploy_block"], activity["end_block"])
        latest = _query(server.url, PROPOSALS_QUERY, {"block": activity["end_block"]})
        _check(latest, expected)
        assert any(p["description"] == NON_ASCII for p in latest["proposals"])
        assert max(int(p["forVotes"]) for p in latest["proposals"]) > 2**64
        assert latest["_meta"] == {"block": {"number": activity["end_block"]}, "hasIndexingErrors": False}

        mid = activity["mid_block"]
        past_meta = _query(
            server.url, "query($b: Int) { _meta(block: {number: $b}) { block { number hash } } }", {"b": mid}
        )
        assert past_meta["_meta"]["block"] == {"number": mid, "hash": w3.eth.get_block(mid)["hash"].to_0x_hex()}
        at_mid = _query(server.url, PROPOSALS_QUERY, {"block": mid})
        _check(at_mid, expected_from_logs(w3, activity["gov"], activity["deploy_block"], mid))
        assert at_mid != latest

        # Filters, ordering, nested and derived fields, checked against the logs' totals.
        data = _query(
            server.url,
            """{ ranked: proposals(orderBy: forVotes, orderDirection: desc, first: 2, where: {voteCount_gt: 0}) { id forVotes }
                 text: proposals(where: {description_contains: "提案"}) { id }
                 nested: votes(where: {proposal_: {closed: true}, weight_gte: "1000"}, first: 1000) { id proposal { id } }
                 either: proposals(where: {or: [{id: "1"}, {id_in: ["5"]}]}) { id }
                 one: proposal(id: "2") { id description votes(first: 1000) { weight } } }""",
        )
        by_for = sorted(expected["proposals"].values(), key=lambda p: -int(p["forVotes"]))
        assert [p["id"] for p in data["ranked"]] == [p["id"] for p in by_for[:2]]
        assert [p["id"] for p in data["text"]] == [
            next(k for k, p in expected["proposals"].items() if p["description"] == NON_ASCII)
        ]
        closed = {k for k, p in expected["proposals"].items() if p["closed"]}
        assert data["nested"] and {v["proposal"]["id"] for v in data["nested"]} <= closed
        assert sorted(p["id"] for p in data["either"]) == ["1", "5"]
        weights = sum(int(v["weight"]) for v in data["one"]["votes"])
        p2 = expected["proposals"]["2"]
        assert weights == int(p2["forVotes"]) + int(p2["againstVotes"])

        import httpx

        err = httpx.post(server.url, json={"query": "{ proposals(block: {number: 999999}) { id } }"}).json()
        assert "has only indexed up to block number" in err["errors"][0]["message"]
        bad = httpx.post(server.url, json={"query": "{ proposalz { id } }"}).json()
        assert "Cannot query field 'proposalz'" in bad["errors"][0]["message"]


class RecordingRpc:
    """The real JSON-RPC client, recording eth_getLogs ranges (to prove a restart resumes at the cursor)."""

    def __init__(self, url: str) -> None:
        from fluence_dao.subgraph import EthRpc

        self._rpc = EthRpc(url)
        self.log_ranges: list[tuple[int, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rpc, name)

    def logs(self, from_block: int, to_block: int, addresses: list[str]) -> Any:
        self.log_ranges.append((from_block, to_block))
        return self._rpc.logs(from_block, to_block, addresses)


def test_restart_resumes_from_cursor(
    demo_build: Path, devnet: DevnetSession, activity: dict[str, Any], w3: Any, tmp_path: Path
) -> None:
    from fluence_dao.subgraph import SubgraphServer

    mid = activity["mid_block"]
    first = _indexer(demo_build, tmp_path / "restart.sqlite", devnet, activity)
    assert first.sync(until=mid).number == mid
    first.store.close()

    rpc = RecordingRpc(devnet.rpc_url)
    second = _indexer(demo_build, tmp_path / "restart.sqlite", devnet, activity, rpc)
    second.sync(until=activity["end_block"])
    assert rpc.log_ranges and rpc.log_ranges[0][0] == mid + 1  # nothing before the cursor is fetched again

    straight = _indexer(demo_build, tmp_path / "straight.sqlite", devnet, activity)
    straight.sync(until=activity["end_block"])
    # The same entity versions as an uninterrupted run: no event lost, none applied twice.
    assert second.store.version_count() == straight.store.version_count()
    with SubgraphServer(second, 0, index=False) as server:
        _check(
            _query(server.url, PROPOSALS_QUERY, {"block": activity["end_block"]}),
            expected_from_logs(w3, activity["gov"], activity["deploy_block"], activity["end_block"]),
        )


def test_reorg_is_followed(
    demo_build: Path, devnet: DevnetSession, activity: dict[str, Any], w3: Any, tmp_path: Path
) -> None:
    from fluence_dao.subgraph import SubgraphServer

    gov = activity["gov"]
    accounts = _senders(w3)  # fresh nonce managers: this test reverts the chain
    indexer = _indexer(demo_build, tmp_path / "reorg.sqlite", devnet, activity)
    with evm_snapshot(w3):
        base = w3.eth.block_number
        snap = w3.provider.make_request("evm_snapshot", [])["result"]
        orphan_id = gov.propose("orphaned by the reorg", 50, sender=accounts[1])
        gov.vote(orphan_id, True, 2**80, sender=accounts[2])
        orphan_head = w3.eth.block_number
        assert indexer.sync().number == orphan_head
        assert indexer.store.get("Proposal", str(orphan_id)) is not None

        assert w3.provider.make_request("evm_revert", [snap])["result"] is True
        new_id = gov.propose("the canonical proposal", 50, sender=accounts[3])
        gov.vote(new_id, False, 5, sender=accounts[4])
        for _ in range(3):  # the new branch is longer than the orphaned one
            w3.provider.make_request("evm_mine", [])
        head = w3.eth.block_number
        assert head > orphan_head and new_id == orphan_id  # same id, different content: a real fork

        assert indexer.sync().number == head
        expected = expected_from_logs(w3, gov, activity["deploy_block"], head)
        with SubgraphServer(indexer, 0, index=False) as server:
            data = _query(server.url, PROPOSALS_QUERY, {"block": head})
            _check(data, expected)
            descriptions = {p["description"] for p in data["proposals"]}
            assert "the canonical proposal" in descriptions and "orphaned by the reorg" not in descriptions
            assert base < head


def test_committed_abi_matches_solc() -> None:
    """subgraph/abis/Governance.json (what graph-cli builds from) is exactly what solc makes of Governance.sol."""
    import json

    require_graph_cli()
    from fluence_dao.eth import governance_artifact

    committed = json.loads((ROOT / "subgraph" / "abis" / "Governance.json").read_text())
    assert committed == governance_artifact()["abi"]
