"""`fluence-dao tree show` over a tree in the state dir's embedded IPFS store, and `aggregate` argument errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fluence_dao.cli.main import app
from fluence_dao.errors import FluenceDaoError
from fluence_dao.ipfs import LocalIpfs

pytestmark = pytest.mark.integration


def _tree(repo: Path) -> tuple[str, str]:
    node = LocalIpfs(repo)
    item = node.dag_put({"id": "7", "description": "Fund pinning", "forVotes": "12"})
    protocol = node.dag_put({"items": {"7": item}})
    template = node.dag_put({"protocols": {"0xabc": protocol}})
    root = node.dag_put({"templates": {"governance": template}})
    return str(root), str(item)


def test_tree_show_walks_links(tmp_path: Path, isolated_env: Any) -> None:
    root, item = _tree(tmp_path / "ipfs")
    runner = CliRunner()
    out = runner.invoke(app, ["tree", "show", root, "templates/governance/protocols/0xabc/items", "--json",
                              "--state-dir", str(tmp_path)])  # fmt: skip
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["root"] == root and doc["value"] == {"7": {"/": item}}
    out = runner.invoke(app, ["tree", "show", root, "templates/governance/protocols/0xabc/items/7",
                              "--state-dir", str(tmp_path)])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["description"] == "Fund pinning"
    missing = runner.invoke(app, ["tree", "show", root, "templates/nope", "--state-dir", str(tmp_path)])
    assert missing.exit_code == 1  # main() maps FluenceDaoError to exit code 1 and prints it
    assert isinstance(missing.exception, FluenceDaoError) and "nope" in str(missing.exception)


def test_aggregate_rejects_once_with_every(tmp_path: Path, isolated_env: Any) -> None:
    out = CliRunner().invoke(
        app,
        ["aggregate", "--subgraph-url", "http://127.0.0.1:9/g", "--once", "--every", "5", "--state-dir", str(tmp_path)],
    )
    assert out.exit_code == 2 and "--once and --every" in out.output


@pytest.mark.slow
def test_aggregate_demo_on_the_daemon(tmp_path: Path, isolated_env: Any, require: Any) -> None:
    """`demo --aggregate`: devnet up with the peer daemon, the pipeline through the CLI's client; the demo itself
    checks every item under the root in ENS against the subgraph; here the counts of items and blocks."""
    import shutil

    require(shutil.which("node"), "node is not installed")
    require(shutil.which("curl"), "curl is not installed")
    state = str(tmp_path / "state")
    runner = CliRunner()
    try:
        out = runner.invoke(app, ["demo", "--aggregate", "--keep", "--state-dir", state, "--json"])
        assert out.exit_code == 0, (out.output, out.exception)
        doc = json.loads(out.stdout)
        assert doc["items"] == 7
        first, second = doc["runs"]
        assert len(first["items"]) == 5 and first["blocks_written"] == 5 + 3 and len(first["tx_hashes"]) == 2
        assert len(second["items"]) == 2 and second["blocks_written"] == 2 + 3
        assert second["old_root"] == first["root"]

        # `aggregate --once` on the same stack: nothing new, so no transaction and the same root
        again = runner.invoke(app, ["aggregate", "--once", "--subgraph-url", doc["subgraph_url"],
                                    "--contract", doc["contract"], "--state-dir", state, "--json"])  # fmt: skip
        assert again.exit_code == 0, (again.output, again.exception)
        idle = json.loads(again.stdout)
        assert idle["tx_hashes"] == [] and idle["root"] == second["root"] and idle["items"] == []

        # `tree show` defaults to the root in ENS
        shown = runner.invoke(app, ["tree", "show", "", "templates/governance", "--state-dir", state, "--json"])
        assert shown.exit_code == 0, (shown.output, shown.exception)
        tree = json.loads(shown.stdout)
        assert tree["root"] == second["root"] and list(tree["value"]["protocols"]) == [doc["contract"].lower()]
    finally:
        runner.invoke(app, ["devnet", "down", "--state-dir", state])
