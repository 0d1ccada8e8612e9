"""Progress on stderr (plain lines off a terminal, in --json mode too, nothing with --quiet), values without Python
reprs, and what -v / -vv switch on."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from fluence_dao.cli import console, main


@pytest.fixture(autouse=True)
def fresh_modes() -> Iterator[None]:
    console.reset()
    yield
    console.reset()


def test_info_goes_to_stderr_in_json_mode_too(capsys: pytest.CaptureFixture[str]) -> None:
    console.set_json(True)
    console.info("building signer")
    console.emit({"ok": True})
    captured = capsys.readouterr()
    assert captured.err == "building signer\n"
    assert captured.out == '{\n  "ok": true\n}\n'


def test_quiet_silences_progress_but_not_results(capsys: pytest.CaptureFixture[str]) -> None:
    console.set_quiet(True)
    console.info("building signer")
    with console.status("starting the devnet", loggers=("fluence_dao.test_progress",)):
        logging.getLogger("fluence_dao.test_progress").info("anvil started (pid 1)")
        time.sleep(1.1)
    console.emit("0xabc")
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == "0xabc\n"


def test_plain_progress_waits_a_second_then_says_how_long(capsys: pytest.CaptureFixture[str]) -> None:
    with console.status("quick"):
        pass
    assert capsys.readouterr().err == ""  # sub-second work prints nothing off a terminal
    with console.status("compiling x.aqua"):
        time.sleep(1.2)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "compiling x.aqua ..."
    assert lines[1].startswith("compiling x.aqua: done in 1.")


def test_log_lines_of_the_named_loggers_are_progress_lines_once(capsys: pytest.CaptureFixture[str]) -> None:
    main._configure_logging(0)
    try:
        with console.status("starting the devnet", loggers=("fluence_dao.test_progress",)):
            logging.getLogger("fluence_dao.test_progress").info("anvil started (pid 7)")
            logging.getLogger("fluence_dao.test_other").info("not progress")
    finally:
        logging.getLogger().removeHandler(main._log_handler)  # type: ignore[arg-type]
        main._log_handler = None
    lines = capsys.readouterr().err.splitlines()
    assert lines[:2] == ["starting the devnet ...", "anvil started (pid 7)"]  # announced at the first line, once
    assert lines[2].startswith("starting the devnet: done in ") and len(lines) == 3
    assert logging.getLogger("fluence_dao.test_progress").level == logging.NOTSET  # restored


def test_failed_operation_prints_no_done_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), console.status("slow"):
        time.sleep(1.1)
        raise RuntimeError("x")
    assert capsys.readouterr().err == "slow ...\n"


def test_plain_values_have_no_python_reprs() -> None:
    assert console.plain(None) == "-"
    assert console.plain(None, "none") == "none"
    assert console.plain(["a", "b"]) == "a, b"
    assert console.plain([]) == "(none)"
    assert console.plain(True) == "yes"
    assert console.plain({"a": 1}) == '{"a": 1}'


def test_a_second_error_document_is_never_written(capsys: pytest.CaptureFixture[str]) -> None:
    console.set_json(True)
    console.emit({"url": "http://127.0.0.1:1"})
    console.emit_error({"type": "Interrupted", "message": "interrupted"})
    assert capsys.readouterr().out.count("{\n") == 1


@pytest.mark.parametrize(("verbose", "ours", "theirs"), [(0, False, False), (1, True, False), (2, True, True)])
def test_verbose_levels(verbose: int, ours: bool, theirs: bool) -> None:
    """-v: fluence-dao's debug lines; web3's (it logs whole RPC responses, e.g. the registry's bytecode) need -vv."""
    main._configure_logging(verbose)
    try:
        assert logging.getLogger("fluence_dao.eth").isEnabledFor(logging.DEBUG) is ours
        assert logging.getLogger("web3.providers.HTTPProvider").isEnabledFor(logging.DEBUG) is theirs
        assert logging.getLogger("urllib3").isEnabledFor(logging.DEBUG) is theirs
    finally:
        logging.getLogger().removeHandler(main._log_handler)  # type: ignore[arg-type]
        main._log_handler = None
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("fluence_dao").setLevel(logging.NOTSET)
