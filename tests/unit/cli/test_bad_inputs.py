"""Every command on bad input: the documented exit code, a message naming what was wrong, no traceback, and with
`--json` exactly one JSON document on stdout.

Cases run in this process through `fluence_dao.cli.main.run` (the console script's own mapping), in a temporary
working directory with no FLUENCE_DAO_* variables but the state dir. Nothing here opens a socket or starts a process:
services that are down are in tests/integration/test_cli_failures.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from _helpers import CliOutcome, cli_here, cli_sandbox
from fluence_dao.cli import main

UNWRITABLE = "/proc/fluence-dao-test/sub"  # nobody, root included, can create anything below /proc
CID = "QmZLRFWaz9Kypt2ACNMDzA5uzACDRiCqwdkNSP1UZsu56D"
BAD_KEY = "0x" + "g" * 64


@dataclass
class Paths:
    tmp: Path
    file: Path = field(init=False)
    dir: Path = field(init=False)
    garbage: Path = field(init=False)
    broken: Path = field(init=False)

    def __post_init__(self) -> None:
        self.file = self.tmp / "a-file"
        self.file.write_text("not a directory\n")
        self.dir = self.tmp / "a-dir"
        self.dir.mkdir()
        self.garbage = self.tmp / "garbage.wasm"
        self.garbage.write_bytes(bytes(range(200, 256)) * 4)
        self.broken = self.tmp / "broken-state"
        (self.broken / "devnet").mkdir(parents=True)
        (self.broken / "devnet" / "devnet.json").write_text('{"version": 99}')

    def format(self, text: str) -> str:
        return text.format(
            tmp=self.tmp, file=self.file, dir=self.dir, garbage=self.garbage, broken=self.broken, cid=CID
        )


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    cli_sandbox(monkeypatch, tmp_path)
    return Paths(tmp_path)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    def invoke(*args: str) -> CliOutcome:
        return cli_here(capsys, list(args))

    yield invoke


def _leaf_commands() -> list[tuple[list[str], Any]]:
    import typer.main

    out: list[tuple[list[str], Any]] = []

    def walk(command: Any, path: list[str]) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, child in sorted(children.items()):
                walk(child, [*path, name])
        else:
            out.append((path, command))

    walk(typer.main.get_command(main.app), [])
    return out


def _has_option(command: Any, name: str) -> bool:
    return any(name in getattr(param, "opts", []) for param in command.params)


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int
    says: str  # a fragment the error message holds (formatted with the paths, like args)
    env: tuple[tuple[str, str], ...] = ()
    dotenv: str = ""


CASES = [
    # configuration from the environment or .env
    Case(
        "env-list-not-json",
        ("config", "show"),
        1,
        "FLUENCE_DAO_PEER__MANAGEMENT_PEER_IDS='bad'",
        env=(("FLUENCE_DAO_PEER__MANAGEMENT_PEER_IDS", "bad"),),
    ),
    Case("dotenv-list-not-json", ("config", "show"), 1, "FLUENCE_DAO_PEER__HTTP_ALLOWLIST", dotenv="nope"),
    Case(
        "env-bad-governance-key",
        ("config", "show"),
        1,
        "FLUENCE_DAO_ETH__GOVERNANCE_KEY",
        env=(("FLUENCE_DAO_ETH__GOVERNANCE_KEY", BAD_KEY),),
    ),
    Case("env-bad-number", ("config", "show"), 1, "FLUENCE_DAO_DEVNET__PORT", env=(("FLUENCE_DAO_DEVNET__PORT", "x"),)),
    Case(
        "env-state-dir-is-a-file",
        ("config", "show"),
        1,
        "{file} is a file, not a directory (env FLUENCE_DAO_STATE_DIR)",
        env=(("FLUENCE_DAO_STATE_DIR", "{file}"),),
    ),
    Case(
        "env-state-dir-unwritable",
        ("devnet", "up"),
        1,
        f"{UNWRITABLE}: cannot write there",
        env=(("FLUENCE_DAO_STATE_DIR", UNWRITABLE),),
    ),
    # run
    Case(
        "run-data-file-missing",
        ("run", "-i", "x.aqua", "-f", "f()", "--data", "@{tmp}/missing.json"),
        2,
        "missing.json: no such file",
    ),
    Case(
        "interval-every-not-a-number",
        ("start-interval", "--every", "abc"),
        2,
        "--every': Input should be a valid number, unable to parse string as a number (got 'abc')",
    ),
    Case("status-runs-not-an-integer", ("status", "--runs=x"), 2, "(got 'x')"),
    Case("run-data-file-is-a-dir", ("run", "-i", "x.aqua", "-f", "f()", "--data", "@{dir}"), 2, "is a directory"),
    Case("run-data-not-json", ("run", "-i", "x.aqua", "-f", "f()", "--data", "{{bad"), 2, "not valid JSON"),
    Case("run-data-not-object", ("run", "-i", "x.aqua", "-f", "f()", "--data", "[1]"), 2, "JSON object"),
    Case("run-peers-with-daemon", ("run", "-i", "x.aqua", "-f", "f()", "--peers", "2", "--daemon"), 2, "--peers 2"),
    Case(
        "run-aqua-missing",
        ("run", "-i", "{tmp}/missing.aqua", "-f", "f()", "--local"),
        1,
        "missing.aqua does not exist",
    ),
    # the governed signer
    Case("publish-propose-unwritable", ("publish", "--propose", "{file}/batch.json"), 2, "{file}/batch.json"),
    Case("publish-propose-in-proc", ("publish", "--propose", f"{UNWRITABLE}/b.json"), 2, "cannot write there"),
    Case("deploy-signer-propose-dir", ("deploy-signer", "--propose", "{dir}"), 2, "is a directory"),
    Case("start-interval-as", ("start-interval", "--as", "cron"), 2, "'cron'"),
    Case("stop-interval-no-daemon", ("stop-interval", "x", "--state-dir", "{dir}"), 1, "no peer daemon"),
    Case("status-runs-not-int", ("status", "--runs", "many"), 2, "'--runs'"),
    # aggregation
    Case(
        "aggregate-once-every",
        ("aggregate", "--subgraph-url", "http://127.0.0.1:9", "--once", "--every", "5"),
        2,
        "--every",
    ),
    Case("tree-show-not-a-cid", ("tree", "show", "nocid", "sub"), 2, "'nocid' is not a CID"),
    # devnet and peer
    Case("devnet-up-state-dir-below-file", ("devnet", "up", "--state-dir", "{file}/state"), 2, "{file} is a file"),
    Case("devnet-up-state-dir-unwritable", ("devnet", "up", "--state-dir", UNWRITABLE), 2, "cannot write there"),
    Case("devnet-status-old-version", ("devnet", "status", "--state-dir", "{broken}"), 1, "devnet down --reset"),
    Case("devnet-logs-unknown", ("devnet", "logs", "nosuch", "--state-dir", "{dir}"), 1, "'nosuch'"),
    Case("peer-info-no-daemon", ("peer", "info", "--state-dir", "{dir}"), 1, "no peer daemon answers"),
    # ipfs
    Case(
        "ipfs-car-export-output",
        ("ipfs", "car-export", CID, "-o", "{file}/x.car", "--repo", "{dir}"),
        2,
        "{file}/x.car",
    ),
    Case("ipfs-get-output", ("ipfs", "get", CID, "-o", f"{UNWRITABLE}/x", "--repo", "{dir}"), 2, "cannot write there"),
    Case("ipfs-add-repo-is-a-file", ("ipfs", "add", "{file}", "--repo", "{file}"), 2, "--repo"),
    Case("ipfs-add-repo-unwritable", ("ipfs", "add", "{file}", "--repo", UNWRITABLE), 2, "cannot write there"),
    Case("ipfs-cat-repo-is-a-file", ("ipfs", "cat", CID, "--repo", "{file}"), 2, "is a file"),
    Case("ipfs-cat-bad-cid", ("ipfs", "cat", "QmNotACid", "--repo", "{dir}"), 1, "'QmNotACid'"),
    Case("ipfs-cat-absent-block", ("ipfs", "cat", CID, "--repo", "{dir}"), 1, CID),
    Case("ipfs-dag-put-missing", ("ipfs", "dag-put", "{tmp}/missing.json"), 2, "missing.json"),
    Case("ipfs-car-import-not-car", ("ipfs", "car-import", "{file}", "--repo", "{dir}"), 1, "CAR"),
    Case("ipfs-pin-ls-type", ("ipfs", "pin", "ls", "--type", "some", "--repo", "{dir}"), 2, "'some'"),
    Case(
        "ipfs-serve-token-unwritable", ("ipfs", "serve", "--port", "0", "--auth-token-file", "{file}/t"), 2, "{file}/t"
    ),
    Case(
        "ipfs-serve-exclusive",
        ("ipfs", "serve", "--auth-token-file", "{tmp}/t", "--allow-unauthenticated-writes"),
        2,
        "exclude",
    ),
    # aqua, build, modules
    Case("aqua-compile-out-unwritable", ("aqua", "compile", "{tmp}/x.aqua", "-o", "{file}/out"), 2, "{file}/out"),
    Case("aqua-compile-missing", ("aqua", "compile", "{tmp}/missing.aqua"), 1, "missing.aqua does not exist"),
    Case("build-out-unwritable", ("build", "signer", "--out", "{file}/wasm"), 2, "{file}/wasm"),
    Case("module-inspect-garbage", ("module", "inspect", "{garbage}"), 1, "{garbage} is neither a wasm binary"),
    Case("module-inspect-missing", ("module", "inspect", "{tmp}/missing.wasm"), 2, "missing.wasm"),
    Case("module-call-args-not-json", ("module", "call", "{garbage}", "f", "not json"), 2, "ARGS_JSON"),
    Case("module-call-env-pair", ("module", "call", "{garbage}", "f", "--env", "NOEQUALS"), 2, "NAME=VALUE"),
    # subgraph
    Case(
        "subgraph-start-block-not-int",
        ("subgraph", "serve", "{dir}", "--start-block", "Governance=abc"),
        2,
        "Governance=abc",
    ),
    Case(
        "subgraph-address-not-hex", ("subgraph", "serve", "{dir}", "--address", "Governance=0xnothex"), 2, "'0xnothex'"
    ),
    Case("subgraph-address-no-value", ("subgraph", "serve", "{dir}", "--address", "Governance"), 2, "NAME=VALUE"),
    Case(
        "subgraph-serve-not-built", ("subgraph", "serve", "{dir}", "--port", "0"), 1, "run `fluence-dao subgraph build`"
    ),
    Case("subgraph-build-no-manifest", ("subgraph", "build", "{dir}"), 1, "no subgraph.yaml in {dir}"),
    Case("subgraph-status-no-db", ("subgraph", "status", "{dir}"), 1, "no subgraph database"),
    # chain commands without a chain configured
    Case("ens-empty-name", ("ens", "get", "", "k"), 2, "the ENS name is empty"),
    Case("ens-no-devnet", ("ens", "get", "a.eth", "k", "--state-dir", "{dir}"), 1, "run `fluence-dao devnet up`"),
    Case("dao-address-not-hex", ("dao", "propose", "x", "--address", "0xnothex"), 2, "'0xnothex'"),
    Case("dao-weight-not-int", ("dao", "vote", "1", "--weight", "abc"), 2, "--weight"),
    Case("dao-no-devnet", ("dao", "list", "--state-dir", "{dir}"), 1, "run `fluence-dao devnet up`"),
    # usage
    Case("unknown-command", ("no-such-command",), 2, "No such command 'no-such-command'"),
    Case("unknown-option", ("devnet", "up", "--no-such-option"), 2, "--no-such-option"),
    Case("missing-argument", ("ipfs", "cat"), 2, "Missing argument"),
]


def _command_of(args: tuple[str, ...]) -> Any:
    leaves = {tuple(path): command for path, command in _leaf_commands()}
    for length in range(len(args), 0, -1):
        if tuple(args[:length]) in leaves:
            return leaves[tuple(args[:length])]
    return None


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_with_its_code_and_names_the_problem(
    case: Case, paths: Paths, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in case.env:
        monkeypatch.setenv(key, paths.format(value))
    if case.dotenv:
        (paths.tmp / ".env").write_text(f"FLUENCE_DAO_PEER__HTTP_ALLOWLIST={case.dotenv}\n")
    args = [paths.format(a) for a in case.args]
    says = paths.format(case.says)

    plain = cli(*args)
    assert plain.code == case.code, plain.stderr
    assert says in plain.stderr, plain.stderr
    assert "Traceback" not in plain.stderr
    assert BAD_KEY[2:] not in plain.stderr + plain.stdout  # a key never shows, not even a malformed one
    if case.code != 0:
        assert plain.stdout == "", "a failure writes no result"

    command = _command_of(case.args)
    if command is None or not _has_option(command, "--json"):
        return
    with_json = cli(*args, "--json")
    assert with_json.code == case.code, with_json.stderr
    error = with_json.document()["error"]
    assert error["type"] == ("UsageError" if case.code == 2 else error["type"])
    assert error["type"] != "InternalError"
    assert says in error["message"] or says in json.dumps(error), error
    assert says in with_json.stderr  # the same line on stderr for a person watching


def test_every_state_dir_option_refuses_a_file(paths: Paths, cli: Any) -> None:
    checked = []
    for path, command in _leaf_commands():
        if not _has_option(command, "--state-dir"):
            continue
        outcome = cli(*path, "--state-dir", str(paths.file))
        assert outcome.code == 2, (path, outcome.stderr)
        assert f"{paths.file}: is a file, not a directory" in outcome.stderr, (path, outcome.stderr)
        if _has_option(command, "--json"):
            document = cli(*path, "--state-dir", str(paths.file), "--json").document()
            assert document["error"]["type"] == "UsageError" and document["error"]["param"] == "--state-dir"
        checked.append(" ".join(path))
    # the commands the issue named, among all that take a state dir
    for name in ("dao propose", "dao list", "subgraph status", "tree show", "devnet up", "status", "run"):
        assert name in checked


def test_every_json_command_answers_a_usage_error_with_one_document(paths: Paths, cli: Any) -> None:
    commands = [(path, command) for path, command in _leaf_commands() if _has_option(command, "--json")]
    assert len(commands) > 30
    for path, _command in commands:
        outcome = cli(*path, "--no-such-option", "--json")
        assert outcome.code == 2, path
        error = outcome.document()["error"]
        assert error["type"] == "UsageError" and error["command"] == "fluence-dao " + " ".join(path)
        assert error["message"].startswith("No such option: --no-such-option")  # click may add "Possible options"
        assert "Error: No such option: --no-such-option" in outcome.stderr


def test_usage_error_before_the_command_still_answers_json(paths: Paths, cli: Any) -> None:
    outcome = cli("no-such-command", "--json")
    assert outcome.code == 2
    assert outcome.document()["error"]["type"] == "UsageError"
    assert cli("--json").code == 2  # the root takes no --json: still one document, a usage error
    assert cli("ipfs").code == 2  # a group without a command shows its help on stderr
    assert cli("--version").stdout.startswith("fluence-dao ")


def test_a_bug_is_exit_3_with_a_traceback_and_one_json_document(
    paths: Paths, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fake bug (nothing real in fluence-dao is known to raise one): load_settings raising RuntimeError."""
    import fluence_dao.config

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("fake bug for the test")

    monkeypatch.setattr(fluence_dao.config, "load_settings", broken)
    plain = cli("config", "show")
    assert plain.code == 3
    assert "Traceback" in plain.stderr and "this is a bug in fluence-dao" in plain.stderr
    assert plain.stdout == ""
    with_json = cli("config", "show", "--json")
    assert with_json.code == 3
    assert with_json.document() == {
        "error": {
            "type": "InternalError",
            "exception": "RuntimeError",
            "message": "internal error (a bug in fluence-dao): RuntimeError: fake bug for the test",
        }
    }


def test_a_failing_disk_is_exit_1_naming_the_path(paths: Paths, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake full disk: the settings' loader raising ENOSPC for a path (an OSError no command checks for)."""
    import errno

    import fluence_dao.config

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device", "/var/full/state")

    monkeypatch.setattr(fluence_dao.config, "load_settings", full)
    outcome = cli("config", "show", "--json")
    assert outcome.code == 1
    assert "error: /var/full/state: No space left on device" in outcome.stderr
    assert outcome.document()["error"]["path"] == "/var/full/state"


def test_devnet_down_reset_removes_a_devnet_json_it_cannot_read(paths: Paths, cli: Any) -> None:
    assert cli("devnet", "down", "--state-dir", str(paths.broken)).code == 1  # the error offers --reset
    outcome = cli("devnet", "down", "--reset", "--state-dir", str(paths.broken), "--json")
    assert outcome.code == 0, outcome.stderr
    assert outcome.document() == {"reset": True, "stopped": []}
    assert not (paths.broken / "devnet" / "devnet.json").exists()
    assert cli("devnet", "status", "--state-dir", str(paths.broken)).code == 0


def test_devnet_status_of_a_stopped_devnet_says_how_to_start_it(paths: Paths, cli: Any) -> None:
    outcome = cli("devnet", "status", "--state-dir", str(paths.dir))
    assert outcome.code == 0
    assert "start it with `fluence-dao devnet up`" in outcome.stdout
    assert "None" not in outcome.stdout and "port" not in outcome.stdout  # no pid/port of processes never started


def test_config_show_prints_values_as_the_environment_takes_them(paths: Paths, cli: Any) -> None:
    lines = cli("config", "show").stdout.splitlines()
    assert "FLUENCE_DAO_PEER__MANAGEMENT_PEER_IDS=[]" in lines
    assert "FLUENCE_DAO_DEVNET__SUBGRAPH=true" in lines
    assert not [line for line in lines if "None" in line or "False" in line or "True" in line]
