"""Issue 10 fault "malformed log data": a contract emitting Governance's ProposalCreated event (same topic0) with
the id not indexed (no topics[1]). The pipeline's decode step refuses the log and names it; nothing is written to
ENS and the signer sends no transaction; the next run, on the real Governance contract, succeeds.

Real anvil, the MalformedEvents contract compiled from tests/contracts at test time with the project's solc, the
Zig events module built from source, aqua/aggregate.aqua on the peer (the `stack` fixture of test_aggregate_flow)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import test_aggregate_flow as flow  # tests/integration is on sys.path (pytest's rootdir-less import mode)

from fluence_dao.errors import FluenceDaoError
from fluence_dao.flows.aggregate import GOVERNANCE_EVENTS, aggregate_once, event_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SOURCE = Path(__file__).resolve().parents[1] / "contracts" / "MalformedEvents.sol"
stack = flow.stack  # the fixture: anvil + ENS + Governance + subgraph + peer with the published modules


def test_malformed_logs_fail_the_decode_step_and_leave_ens_untouched(stack: flow.Stack) -> None:
    from fluence_dao.eth import compile_contracts, deploy_contract

    w3 = stack.gov.client.w3
    artifact = compile_contracts(SOURCE)["MalformedEvents"]
    [abi_event] = [e for e in artifact["abi"] if e.get("type") == "event"]
    signature = f"{abi_event['name']}({','.join(i['type'] for i in abi_event['inputs'])})"
    assert signature == GOVERNANCE_EVENTS[0]  # the same event signature as Governance's, so the same topic0
    bad = deploy_contract(stack.gov.sender, artifact, what="deploy MalformedEvents")
    contract = w3.eth.contract(address=bad.contract_address, abi=artifact["abi"])
    receipt = w3.eth.wait_for_transaction_receipt(contract.functions.emitMalformed(7, "malformed").transact())
    [log] = receipt["logs"]
    assert ["0x" + t.hex().removeprefix("0x") for t in log["topics"]] == [event_topics()[0]]  # no topics[1]
    stack.indexer.sync()  # the subgraph's indexed block (the range's end) covers the malformed log

    tip, cursor, nonce = stack.tip(), stack.cursor(), flow._nonce(stack)
    with pytest.raises(FluenceDaoError, match=r"decode events: log 0 has no indexed id \(topics\[1\]\)"):
        aggregate_once(stack.session, replace(stack.config, contract=bad.contract_address))
    assert (stack.tip(), stack.cursor()) == (tip, cursor)
    assert flow._nonce(stack) == nonce  # the signer sent no transaction

    # the next run, with good data (the real Governance contract, one proposal), succeeds
    pid = stack.gov.propose("After the malformed run", 100)
    stack.indexer.sync()
    good = aggregate_once(stack.session, stack.config)
    assert good.items == [str(pid)] and good.root and stack.tip() == good.root != tip
    assert stack.cursor() == good.cursor != cursor and len(good.tx_hashes) == 2
    assert flow._nonce(stack) == nonce + 2
