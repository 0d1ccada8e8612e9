"""`fluence-dao dashboard` in a real headless Chromium, checked against the chain and IPFS.

The stack is brought up as a user does, through the CLI in a private state dir (`devnet up`, `publish`,
`deploy-signer`, one aggregation run, `start-interval --every 1`), plus a second interval that writes a name the
signer does not control, so its runs fail. The dashboard runs as `fluence-dao dashboard --port 0`; the page is
read from the DOM and compared with what the chain says: the signer, balances at the block the page names, each
run's transaction, nonce and block, the ENS records and every change in their history, and the tree under
`ipld-tip`. Screenshots go to the pytest tmp dir (their paths are printed).
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _chromium import Chromium, Page, chromium_binary
from _helpers import Stack, require, run_cli, user_stack

pytestmark = pytest.mark.integration

PROJECT = "public-record.eth"
ALPHA = "alpha.public-record.eth"
PROPOSALS = ("Fund pinning", "Rotate the signer")
TEXT_CHANGED = "0xd8c9334b1a9c2f9da342a0a2b32629c1a229b6445dad78947f674b44444a7550"  # the 2019 resolver's event

# what the page shows, read from its DOM
SIGNER_JS = """(() => {
  const text = (id) => document.getElementById(id).textContent;
  return {address: text('signer-address'), wei: document.getElementById('signer-balance').dataset.wei,
          peer: text('signer-peer'), service: text('signer-service'), name: text('signer-name'),
          owner: text('signer-owner'), controls: document.getElementById('signer-controls').dataset.controls,
          block: Number(document.body.dataset.block)};
})()"""
INTERVALS_JS = """[...document.querySelectorAll('.interval')].map((node) => ({
  id: node.dataset.id,
  head: node.querySelector('.interval-head').textContent,
  cells: [...node.querySelectorAll('.timeline .run')].map((c) => ({...c.dataset})),
  rows: [...node.querySelectorAll('tr.run-row')].map((r) => ({...r.dataset,
    detail: r.querySelector('td.detail').title})),
}))"""
RECORDS_JS = """[...document.querySelectorAll('#records tr.record')].map((row) => ({
  name: row.dataset.name, key: row.dataset.key, value: row.querySelector('td.value').textContent,
  changes: [...row.querySelectorAll('li.change')].map((li) => ({tx: li.dataset.tx, block: Number(li.dataset.block),
    value: li.querySelector('.change-value').textContent})),
}))"""
MODULES_JS = """Object.fromEntries([...document.querySelectorAll('#modules tr.module')].map((row) =>
  [row.dataset.key, row.querySelectorAll('td')[1].textContent]))"""
TREE_JS = """(() => {
  const card = document.getElementById('tree-card');
  return {state: card.dataset.state, root: card.dataset.root, path: card.dataset.path,
          links: Object.fromEntries([...document.querySelectorAll('#tree button.link')].map((b) =>
            [b.dataset.path, b.dataset.cid])),
          text: document.getElementById('tree').textContent};
})()"""


# ---- the stack, the dashboard and the browser --------------------------------------------------------------------


def _wait_until_indexed(status_url: str, block: int, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    synced = None
    while time.monotonic() < deadline:
        synced = httpx.get(status_url, timeout=5).json().get("synced_block")
        if isinstance(synced, dict) and int(synced.get("number") or 0) >= block:
            return
        time.sleep(0.3)
    raise AssertionError(f"the devnet's subgraph did not index block {block} in {timeout_s} s (at {synced})")


@pytest.fixture(scope="module")
def aggregated() -> dict[str, Any]:
    return {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, aggregated: dict[str, Any]) -> Iterator[Stack]:
    """The user's stack with one aggregation run before the interval starts (the signer is idle then), and a
    second interval whose setText on the project name (governance's, not the signer's) reverts every 2 s."""

    def aggregate_once(stack: Stack) -> None:
        subgraph = stack.devnet.get("subgraph") or {}
        assert subgraph, "devnet up served no subgraph"
        stack.cli("aggregate-publish", "--json")
        for description in PROPOSALS:
            stack.cli("dao", "propose", description, "--address", subgraph["governance"], "--json")
        _wait_until_indexed(subgraph["status_url"], int(stack.rpc("eth_blockNumber", []), 16))
        aggregated.update(json.loads(stack.cli("aggregate", "--once", "--subgraph-url", subgraph["url"],
                                               "--contract", subgraph["governance"], "--json").stdout))  # fmt: skip

    with user_stack(tmp_path_factory.mktemp("dashboard") / "state", before_interval=aggregate_once) as started:
        failing = json.loads(started.cli("start-interval", "--every", "2", "--name", PROJECT, "--json").stdout)
        aggregated["failing_script_id"] = failing["script_id"]
        yield started


@pytest.fixture(scope="module")
def dashboard(stack: Stack) -> Iterator[str]:
    """`fluence-dao dashboard --port 0 --refresh 1 --json`: its URL; stopped with SIGINT (exit code 130) after."""
    process = stack.start("dashboard", "--port", "0", "--refresh", "1", "--json")
    assert process.stdout is not None
    printed, deadline = b"", time.monotonic() + 60
    url = None
    while url is None and time.monotonic() < deadline:
        if select.select([process.stdout], [], [], 0.5)[0]:
            chunk = os.read(process.stdout.fileno(), 65536)  # the fd itself: nothing else reads this pipe
            assert chunk, f"the dashboard exited {process.wait(5)} before printing its URL"
            printed += chunk
            try:
                url = json.loads(printed)["url"]
            except ValueError:
                continue
    assert url is not None, f"no URL printed within 60 s: {printed!r}"
    assert url.startswith("http://127.0.0.1:")
    try:
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(20)
        assert code == 130, f"the dashboard exited {code} on Ctrl-C"


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    binary = chromium_binary()
    require(binary, "chromium is not installed (apt-get install chromium)")
    assert binary is not None
    browser = Chromium.launch(binary, tmp_path_factory.mktemp("chromium"))
    tab = browser.page()
    try:
        yield tab
    finally:
        tab.close()
        browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard-screenshots")


def _shoot(page: Page, directory: Path, name: str) -> Path:
    path = page.screenshot(directory / f"{name}.png")
    print(f"screenshot: {path}")
    return path


@pytest.fixture(scope="module")
def ens(stack: Stack) -> Any:
    from fluence_dao.eth import EnsClient, EthClient

    return EnsClient(EthClient(stack.rpc_url), stack.devnet["ens"]["registry"])


@pytest.fixture(scope="module")
def loaded(page: Page, dashboard: str) -> Page:
    """The page opened once, after its first snapshot with a finished run of the main interval."""
    page.goto(dashboard)
    page.wait_for("document.getElementById('live').dataset.state === 'live'", timeout_s=60)
    page.wait_for("document.querySelector('.run-row[data-outcome=ok]') !== null", timeout_s=60)
    return page


def _text_at(ens: Any, name: str, key: str, block: int) -> str:
    from fluence_dao.eth import RESOLVER_ABI, namehash

    resolver = ens.client.w3.eth.contract(address=ens.resolver(name), abi=RESOLVER_ABI)
    return str(resolver.functions.text(namehash(name), key).call(block_identifier=block))


# ---- the page against the chain ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_signer_as_the_chain_has_it(loaded: Page, stack: Stack, ens: Any, screenshots: Path) -> None:
    shown = loaded.evaluate(SIGNER_JS)
    assert shown["address"] == stack.signer_address == ens.text(PROJECT, "signer.address")
    assert shown["peer"] == stack.peer_id == ens.text(PROJECT, "signer.peer")
    assert shown["service"] == stack.signer_service == ens.text(PROJECT, "signer.service")
    assert shown["name"] == ALPHA
    assert shown["owner"] == ens.owner(ALPHA) == stack.signer_address and shown["controls"] == "true"
    # the balance was read at or a little before the block the page names (the signer spends every second)
    block = shown["block"]
    balances = {
        int(stack.rpc("eth_getBalance", [stack.signer_address, hex(b)]), 16)
        for b in range(max(0, block - 5), block + 1)
    }
    assert int(shown["wei"]) in balances, (shown["wei"], block, balances)
    _shoot(loaded, screenshots, "overview")


@pytest.mark.slow
def test_each_run_as_the_chain_has_it_and_the_timeline_moves(
    loaded: Page, stack: Stack, aggregated: dict[str, Any], screenshots: Path
) -> None:
    loaded.wait_for("document.querySelector('.run-row[data-outcome=failed]') !== null", timeout_s=30)
    intervals = {i["id"]: i for i in loaded.evaluate(INTERVALS_JS)}
    assert set(intervals) == {stack.script_id, aggregated["failing_script_id"]}
    main, failing = intervals[stack.script_id], intervals[aggregated["failing_script_id"]]
    assert f"writes {ALPHA} notice" in main["head"] and f"writes {PROJECT} notice" in failing["head"]

    # the table shows the newest runs of the timeline, newest first
    assert [r["seq"] for r in main["rows"]] == [c["seq"] for c in main["cells"]][::-1][: len(main["rows"])]
    ok = [c for c in main["cells"] if c["outcome"] == "ok"]
    assert len(ok) >= 2
    for cell in ok[-5:]:
        tx = stack.rpc("eth_getTransactionByHash", [cell["tx"]])
        receipt = stack.rpc("eth_getTransactionReceipt", [cell["tx"]])
        assert tx["from"].lower() == stack.signer_address.lower() and int(tx["nonce"], 16) == int(cell["nonce"])
        if cell["block"]:  # else the run ended with its transaction sent and the receipt pending (it says so)
            assert int(tx["blockNumber"], 16) == int(cell["block"]) and int(receipt["status"], 16) == 1
    nonces = [int(c["nonce"]) for c in ok]
    assert nonces == sorted(set(nonces))

    # a failed run says so, with the peer's reason; the reverted transaction it names is the signer's, on chain
    failed = [r for r in failing["rows"] if r["outcome"] == "failed"]
    assert failed and all(r["detail"] for r in failed)
    named = [h for r in failed for h in re.findall(r"0x[0-9a-f]{64}", r["detail"])]
    for tx_hash in named[:3]:
        receipt = stack.rpc("eth_getTransactionReceipt", [tx_hash])
        assert int(receipt["status"], 16) == 0 and receipt["from"].lower() == stack.signer_address.lower()

    # live: new runs appear without a reload
    generation = int(loaded.evaluate("document.body.dataset.generation"))
    newest = max(int(c["seq"]) for c in main["cells"])
    loaded.wait_for(
        f"Number(document.body.dataset.generation) > {generation} && "
        f"[...document.querySelectorAll('.interval[data-id=\"{stack.script_id}\"] .run[data-outcome=ok]')]"
        f".some((c) => Number(c.dataset.seq) > {newest})",
        timeout_s=30,
    )
    _shoot(loaded, screenshots, "runs")


@pytest.mark.slow
def test_ens_records_and_their_history_as_the_chain_has_them(loaded: Page, stack: Stack, ens: Any) -> None:
    from fluence_dao.eth import namehash

    # one evaluation, one snapshot: the page refreshes meanwhile, and the checks below take seconds of RPC calls
    view = loaded.evaluate(
        f"({{records: {RECORDS_JS}, intervals: {INTERVALS_JS}, block: Number(document.body.dataset.block), "
        "historyTo: Number(document.body.dataset.historyTo)})"
    )
    rows = {(r["name"], r["key"]): r for r in view["records"]}
    block = int(view["block"])
    expected = {(PROJECT, k) for k in ("wasm.signer", "wasm.ens", "wasm.curl_adapter", "air.interval")}
    expected |= {(PROJECT, k) for k in ("signer.address", "signer.peer", "signer.service", "air.aggregate")}
    expected |= {(ALPHA, "ipld-tip"), (ALPHA, "notice")}
    assert expected <= set(rows), sorted(expected - set(rows))
    for (name, key), row in rows.items():
        if (name, key) == (ALPHA, "notice"):  # rewritten every second: the value at the page's block
            assert row["value"] in {_text_at(ens, name, key, b) for b in range(block - 5, block + 1)}
        else:
            assert row["value"] == ens.text(name, key), (name, key)
        if row["value"]:  # set at least once (the failing interval's record never is)
            assert row["changes"], f"no history shown for {name} {key}"
            assert row["changes"][0]["value"] == row["value"] or (name, key) == (ALPHA, "notice")

    # every change shown: its transaction emitted TextChanged for that name, and the record then held the value
    resolver = ens.resolver(PROJECT).lower()
    notice = rows[(ALPHA, "notice")]["changes"]
    assert len(notice) >= 2
    checked = [(ALPHA, "notice", c) for c in notice[:4]]
    checked += [(PROJECT, "wasm.signer", c) for c in rows[(PROJECT, "wasm.signer")]["changes"]]
    for name, key, change in checked:
        receipt = stack.rpc("eth_getTransactionReceipt", [change["tx"]])
        assert int(receipt["blockNumber"], 16) == change["block"]
        assert any(
            log["address"].lower() == resolver and log["topics"][:2] == [TEXT_CHANGED, "0x" + namehash(name).hex()]
            for log in receipt["logs"]
        )
        assert _text_at(ens, name, key, change["block"]) == change["value"]

    # the interval's transactions are the notice's history
    history_to = int(view["historyTo"])
    runs = [c for i in view["intervals"] if i["id"] == stack.script_id for c in i["cells"]]
    settled = [c["tx"] for c in runs if c["outcome"] == "ok" and int(c["block"]) <= history_to]
    assert settled and settled[-1] in {c["tx"] for c in notice}

    # governed modules: the CIDs in ENS
    modules = loaded.evaluate(MODULES_JS)
    assert {"wasm.signer", "wasm.ens", "wasm.curl_adapter", "air.interval", "wasm.ipld", "air.aggregate"} <= set(
        modules
    )
    for key, cid in modules.items():
        assert cid == ens.text(PROJECT, key), key


def _links(value: Any, path: str) -> dict[str, str]:
    """{path: cid} of every link in a `tree show` value."""
    if isinstance(value, dict) and set(value) == {"/"} and isinstance(value["/"], str):
        return {path: value["/"]}
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found: dict[str, str] = {}
    for key, child in items:
        found.update(_links(child, f"{path}/{key}" if path else str(key)))
    return found


@pytest.mark.slow
def test_browsing_the_tree_from_ipld_tip(
    loaded: Page, stack: Stack, ens: Any, aggregated: dict[str, Any], screenshots: Path
) -> None:
    loaded.wait_for("document.getElementById('tree-card').dataset.state === 'loaded'")
    shown = loaded.evaluate(TREE_JS)
    assert shown["root"] == ens.text(ALPHA, "ipld-tip") == aggregated["root"]
    assert shown["path"] == ""
    for _ in range(8):  # follow the first link down to an item
        expected = json.loads(stack.cli("tree", "show", shown["root"], shown["path"], "--json").stdout)["value"]
        assert shown["links"] == _links(expected, shown["path"])
        if not shown["links"]:
            break
        target = next(iter(shown["links"]))
        loaded.click(f'#tree button.link[data-path="{target}"]')
        loaded.wait_for(
            f"document.getElementById('tree-card').dataset.path === {json.dumps(target)} && "
            "document.getElementById('tree-card').dataset.state === 'loaded'"
        )
        shown = loaded.evaluate(TREE_JS)
    assert not shown["links"] and "description" in expected
    assert expected["description"] in PROPOSALS and json.dumps(expected["description"]) in shown["text"]
    _shoot(loaded, screenshots, "tree")
    loaded.click('#tree-path button[data-path=""]')
    loaded.wait_for("document.getElementById('tree-card').dataset.path === ''")


@pytest.mark.slow
def test_no_secret_reaches_the_page_and_only_loopback_names_are_served(
    loaded: Page, dashboard: str, stack: Stack
) -> None:
    from fluence_dao.config import load_settings

    token = (stack.state_dir / "ipfs" / "api-token").read_text().strip()
    settings = load_settings({"state_dir": stack.state_dir}, env_file=None)
    key_hex = settings.eth.effective_governance_key(stack.rpc_url).get_secret_value().removeprefix("0x")
    assert len(token) >= 16 and len(key_hex) == 64
    pages = [
        httpx.get(dashboard + "api/state").text,
        httpx.get(dashboard + "api/tree").text,
        loaded.evaluate("document.documentElement.outerHTML"),
    ]
    for text in pages:
        assert token not in text and key_hex.lower() not in text.lower()

    assert httpx.get(dashboard, headers={"Host": "dashboard.example"}).status_code == 400  # DNS rebinding
    assert httpx.post(dashboard + "api/state").status_code == 405  # read-only
    answer = httpx.get(dashboard)
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert loaded.errors == [], loaded.errors


def test_a_taken_port_is_named_in_the_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(tmp_path / "state", "dashboard", "--port", str(port), "--json", check=False, timeout=60)
    assert done.returncode == 1, done.stderr
    error = json.loads(done.stdout)["error"]
    assert f"127.0.0.1:{port}" in error["message"] and "--port 0" in error["message"] and error["port"] == port
