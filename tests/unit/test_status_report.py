"""`status` from the peer's run records (fluence_dao.flows.status, the CLI's text): failures the AIR caught count,
nonces and blocks are decimal, times local, aggregate runs show their root instead of `tx None block None`, and
`--check` fails on the last N runs failing, on no interval, and on the signer's key being gone."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fluence_dao.cli.flows_cmd import _status_text
from fluence_dao.flows.status import Status, _interval, _notes, local_time, problems, quantity
from fluence_dao.peer.scheduler import SKIP_OVERLAP, ScriptRun

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


def _status(intervals: list[dict[str, Any]], **signer: Any) -> Status:
    peer = {"reachable": True, "peer_id": "12D3KooW"}
    chain = {"reachable": True, "rpc_url": "http://127.0.0.1:8545"}
    result = Status(peer, chain, {"name": "alpha.example.eth", **signer}, {}, scripts=intervals)
    result.notes = _notes(result)
    return result


def test_runs_read_as_people_read_them() -> None:
    runs = [_peer_run(0, SENT), _peer_run(1, None, skipped=2), _peer_run(3, CAUGHT), _peer_run(4, CAUGHT)]
    interval = _interval("script", _info(runs=3, ok=1, failed=2, skipped=2), runs, 5)
    assert interval["args"]["record_key"] == "notice" and interval["every_s"] == 1.0
    sent, skipped, failed = interval["runs"][0], interval["runs"][1], interval["runs"][-1]
    assert (sent["nonce"], sent["block_number"], sent["tx_hash"], sent["ok"]) == (31, 42, "0xab", True)
    assert datetime.fromisoformat(sent["time"]).timestamp() * 1000 == T0 + 2
    assert (skipped["outcome"], skipped["skipped"], skipped["ok"]) == ("skipped", 2, None)
    assert (failed["outcome"], failed["ok"], failed["step"]) == ("failed", False, "pending nonce")
    assert failed["error"] == "pending nonce: refused"  # AquaVM's wrapper taken off
    assert interval["failed_in_a_row"] == 2 and interval["last_finished"] == ["ok", "failed", "failed"]
    text = _status_text({**_status([interval]).to_dict(), "check": None})
    assert "nonce 31  block 42" in text and "0x1f" not in text and "0x2a" not in text
    assert "skipped 2 runs: the previous run was still going" in text
    assert "FAILED at 'pending nonce': refused" in text
    assert "runs 3: ok 1, failed 2, skipped 2" in text


def test_aggregate_runs_show_their_root_not_tx_none() -> None:
    outcome = {"success": True, "error": "", "root": "bafyroot", "cursor": "0x10", "tx_hashes": ["0x1", "0x2"]}
    empty = {"success": True, "error": "", "root": "bafyroot", "cursor": "0x10", "tx_hashes": []}
    interval = _interval("script", _info(runs=2, ok=2), [_peer_run(0, outcome), _peer_run(1, empty)], 5)
    text = _status_text({**_status([interval]).to_dict(), "check": None})
    assert "None" not in text
    assert "tx 0x2" in text and "root bafyroot" in text and "cursor 16" in text and "2 transactions" in text


def test_check_fails_on_the_last_n_runs_failing_and_on_a_gone_key() -> None:
    failing = _interval("script", _info(), [_peer_run(0, SENT), *(_peer_run(k, CAUGHT) for k in (1, 2, 3))], 5)
    recovering = _interval("script", _info(), [_peer_run(0, CAUGHT), _peer_run(1, CAUGHT), _peer_run(2, SENT)], 5)
    assert problems(_status([failing]), last=3) == ["the last 3 runs of script s1 failed"]
    assert problems(_status([failing]), last=4) == []
    assert problems(_status([recovering]), last=2) == []
    assert problems(_status([]), last=3) == ["no interval runs on the peer"]
    gone = _status([recovering], service_id="svc", on_this_peer=True, service_exists=False, live_on_peer=False)
    assert problems(gone) == ["the signer's key is gone (no signer service on the peer)"]
    assert any("deploy-signer --replace" in note and "start-interval" in note for note in gone.notes)
    down = Status({"reachable": False}, {"reachable": False, "error": "refused"}, {"name": "n"}, {})
    down.notes = _notes(down)
    assert problems(down) == ["the peer is not reachable"]
    assert any("devnet up" in note for note in down.notes) and any("chain does not answer" in n for n in down.notes)


def test_helpers() -> None:
    assert quantity("0x1f") == 31 and quantity("12") == 12 and quantity("") is None and quantity("x") is None
    assert local_time(0) is None and local_time(T0) is not None
