"""`status` from the peer's run records (fluence_dao.flows.status, the CLI's text): failures the AIR caught count,
nonces and blocks are decimal, times local, aggregate runs show their root instead of `tx None block None`, and
`--check` fails on the last N runs failing, on no interval, and on the signer's key being gone."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fluence_dao.cli.flows_cmd import status_text
from fluence_dao.flows.status import (
    ChainStatus,
    IntervalStatus,
    PeerStatus,
    SignerStatus,
    Status,
    UnreadInterval,
    check,
    interval_status,
    local_time,
    notes_for,
    problems,
    quantity,
)
from fluence_dao.peer.scheduler import SKIP_OVERLAP, ScriptRun
from fluence_dao.util.json_types import to_json

T0 = 1_764_000_000_000  # wall-clock ms


def _peer_run(seq: int, result: Any, *, error: str | None = None, skipped: int = 0) -> dict[str, Any]:
    """A run record as the peer's `script.runs` returns it."""
    run = ScriptRun(f"p{seq}", seq=seq, due_ms=T0 + seq * 1000, started_ms=T0 + seq * 1000 + 2, result=result)
    if skipped:
        run.skipped, run.error = skipped, SKIP_OVERLAP
    else:
        run.error = error
        run.complete(avm_ok=error is None or not error.startswith("AquaVM"))
    return run.to_aqua()


def _info(**counts: int) -> dict[str, Any]:
    args = {"record_key": "notice", "signer_name": "alpha.example.eth", "gas_limit": "120000"}
    return {"id": "s1", "interval": "1", "args_json": json.dumps(args), "started_ms": T0, "next_ms": T0 + 9000,
            "running": False, **counts}  # fmt: skip


SENT = {"success": True, "error": "", "value": "17", "tx_hash": "0xab", "nonce": "0x1f", "block_number": "0x2a"}
CAUGHT = {
    "success": False,
    "error": "Local service error, ret_code is 1, error message is '\"pending nonce: refused\"'",
}


def _status(intervals: list[IntervalStatus], **signer: Any) -> Status:
    peer = PeerStatus(reachable=True, peer_id="12D3KooW")
    chain = ChainStatus(reachable=True, rpc_url="http://127.0.0.1:8545")
    result = Status(peer, chain, SignerStatus("alpha.example.eth", **signer), {}, scripts=list(intervals))
    result.notes = notes_for(result)
    return result


def test_runs_read_as_people_read_them() -> None:
    runs = [_peer_run(0, SENT), _peer_run(1, None, skipped=2), _peer_run(3, CAUGHT), _peer_run(4, CAUGHT)]
    interval = interval_status("script", _info(runs=3, ok=1, failed=2, skipped=2), runs, 5)
    assert interval.args["record_key"] == "notice" and interval.every_s == 1.0
    sent, skipped, failed = interval.runs[0], interval.runs[1], interval.runs[-1]
    assert (sent.nonce, sent.block_number, sent.tx_hash, sent.ok) == (31, 42, "0xab", True)
    assert sent.time is not None and datetime.fromisoformat(sent.time).timestamp() * 1000 == T0 + 2
    assert (skipped.outcome, skipped.skipped, skipped.ok) == ("skipped", 2, None)
    assert (failed.outcome, failed.ok, failed.step) == ("failed", False, "pending nonce")
    assert failed.error == "pending nonce: refused"  # AquaVM's wrapper taken off
    assert interval.failed_in_a_row == 2 and interval.last_finished == ["ok", "failed", "failed"]
    text = status_text(_status([interval]))
    assert "nonce 31  block 42" in text and "0x1f" not in text and "0x2a" not in text
    assert "skipped 2 runs: the previous run was still going" in text
    assert "FAILED at 'pending nonce': refused" in text
    assert "runs 3: ok 1, failed 2, skipped 2" in text


def test_aggregate_runs_show_their_root_not_tx_none() -> None:
    outcome = {"success": True, "error": "", "root": "bafyroot", "cursor": "0x10", "tx_hashes": ["0x1", "0x2"]}
    empty = {"success": True, "error": "", "root": "bafyroot", "cursor": "0x10", "tx_hashes": []}
    interval = interval_status("script", _info(runs=2, ok=2), [_peer_run(0, outcome), _peer_run(1, empty)], 5)
    text = status_text(_status([interval]))
    assert "None" not in text
    assert "tx 0x2" in text and "root bafyroot" in text and "cursor 16" in text and "2 transactions" in text


def test_check_fails_on_the_last_n_runs_failing_and_on_a_gone_key() -> None:
    failing = interval_status("script", _info(), [_peer_run(0, SENT), *(_peer_run(k, CAUGHT) for k in (1, 2, 3))], 5)
    recovering = interval_status("script", _info(), [_peer_run(0, CAUGHT), _peer_run(1, CAUGHT), _peer_run(2, SENT)], 5)
    assert problems(_status([failing]), last=3) == ["the last 3 runs of script s1 failed"]
    assert problems(_status([failing]), last=4) == []
    assert problems(_status([recovering]), last=2) == []
    assert problems(_status([]), last=3) == ["no interval runs on the peer"]
    gone = _status([recovering], service_id="svc", on_this_peer=True, service_exists=False, live_on_peer=False)
    assert problems(gone) == ["the signer's key is gone (no signer service on the peer)"]
    assert any("deploy-signer --replace" in note and "start-interval" in note for note in gone.notes)
    down = Status(PeerStatus(False), ChainStatus(False, error="refused"), SignerStatus("n"), {})
    down.notes = notes_for(down)
    assert problems(down) == ["the peer is not reachable"]
    assert any("devnet up" in note for note in down.notes) and any("chain does not answer" in n for n in down.notes)


def test_helpers() -> None:
    assert quantity("0x1f") == 31 and quantity("12") == 12 and quantity("") is None and quantity("x") is None
    assert local_time(0) is None and local_time(T0) is not None


def test_the_json_document_has_a_key_only_for_what_was_read() -> None:
    """`--json` is `to_json(status)`: the keys and values `status` always wrote (a fact not read has no key)."""
    sent = interval_status("script", _info(runs=1, ok=1), [_peer_run(0, SENT)], 5)
    result = _status(
        [sent], address="0xsigner", address_read=True, balance_wei=10**18, controls_name=True, owner="0xsigner"
    )
    verdict = check(result, last=3)
    document = to_json(result)
    assert isinstance(document, dict) and set(document) == {
        "peer", "chain", "signer", "records", "scripts", "spells", "notes", "check"
    }  # fmt: skip
    assert document["peer"] == {"reachable": True, "peer_id": "12D3KooW"}
    assert document["chain"] == {"reachable": True, "rpc_url": "http://127.0.0.1:8545"}
    assert document["signer"] == {
        "name": "alpha.example.eth", "address": "0xsigner", "balance_wei": 10**18, "controls_name": True,
        "owner": "0xsigner",
    }  # fmt: skip
    assert document["check"] == {"last": 3, "ok": verdict.ok, "problems": verdict.problems}
    (script,) = document["scripts"]
    assert script["counts"] == {"runs": 1, "ok": 1, "failed": 0, "skipped": 0}
    assert set(script) == {
        "id", "kind", "every_s", "args", "counts", "running", "started_at", "next_at", "failed_in_a_row",
        "last_finished", "runs",
    }  # fmt: skip
    (run,) = script["runs"]
    assert run["value"] == "17" and run["nonce"] == 31 and run["error"] is None
    assert not {"root", "cursor", "tx_hashes", "note", "replaced"} & set(run)
    unread = to_json(UnreadInterval("sp1", "spell", "no such spell"))
    assert unread == {"id": "sp1", "kind": "spell", "error": "no such spell", "runs": [], "args": {}, "counts": {}}
    down = to_json(Status(PeerStatus(False), ChainStatus(False, error="refused"), SignerStatus("n"), {}))
    assert isinstance(down, dict) and down["peer"] == {"reachable": False} and "check" not in down
    assert down["chain"] == {"reachable": False, "error": "refused"}
    assert down["signer"] == {"name": "n"}  # no address key: the chain did not answer


def test_the_signer_keys_say_what_was_read_and_what_is_unset() -> None:
    assert to_json(SignerStatus("n", address_read=True)) == {"name": "n", "address": None}  # read: none recorded
    hosted = to_json(SignerStatus("n", address_read=True, service_id="svc", on_this_peer=False))
    assert hosted == {"name": "n", "address": None, "service_id": "svc", "peer_id": None, "on_this_peer": False}


def test_an_unread_spell_is_shown_and_not_counted_as_failing() -> None:
    result = _status([])
    result.spells = [UnreadInterval("sp1", "spell", "no such spell")]
    result.notes = notes_for(result)
    assert "spell     sp1  ERROR no such spell" in status_text(result)
    assert problems(result) == []


def test_a_chain_that_answers_as_another_is_not_called_unreachable() -> None:
    wrong = ChainStatus(False, rpc_url="http://127.0.0.1:8545", error="is chain 31337, but chain 1 is configured")
    wrong.answers = True
    down = ChainStatus(False, rpc_url="http://127.0.0.1:8545", error="connection refused")
    texts, notes = [], []
    for chain in (wrong, down):
        result = Status(PeerStatus(False), chain, SignerStatus("n"), {})
        texts.append(status_text(result))
        notes.append(" ".join(notes_for(result)))
    assert "NOT USABLE: is chain 31337" in texts[0] and "NOT REACHABLE" not in texts[0]
    assert "answers, but not as configured" in notes[0] and "The chain does not answer" not in notes[0]
    assert "NOT REACHABLE: connection refused" in texts[1] and "The chain does not answer" in notes[1]
