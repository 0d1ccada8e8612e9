"""MarineService (modules linked by import namespace) and mounted binaries (real subprocesses)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fluence_dao.errors import ModuleLoadError, ModuleTrapError, MountedBinaryError
from fluence_dao.marine import MarineModule, MarineService, ModuleConfig

pytestmark = pytest.mark.integration

WAT = Path(__file__).resolve().parents[1] / "fixtures" / "wat"


def _binary(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is part of every POSIX system"
    return path


def _mounts(binary: str, max_call_seconds: float = 10.0) -> ModuleConfig:
    """Both imports of mounted.wat (`host.echo`, `host.echo_text`) mapped to one binary."""
    binaries = {"echo": binary, "echo_text": binary}
    return ModuleConfig(name="curl_adapter", mounted_binaries=binaries, max_call_seconds=max_call_seconds)


@pytest.fixture(scope="module")
def service() -> MarineService:
    return MarineService(
        [(ModuleConfig(name="callee"), WAT / "callee.wat"), (ModuleConfig(name="facade"), WAT / "facade.wat")]
    )


def test_facade_calls_across_modules(service: MarineService) -> None:
    assert service.facade.name == "facade"
    assert service.call("relay", ["héllo from the facade"]) == "héllo from the facade"
    assert service.call("relay", [""]) == ""
    assert service.call("relay_len", ["four"]) == 4
    assert service.call("relay_record", ["nm"]) == {"flag": True, "value": 42, "name": "nm"}
    assert "relay" in service.interface.functions


def test_callee_trap_fails_the_facade_call_and_both_recover(service: MarineService) -> None:
    with pytest.raises(ModuleTrapError, match=r"module 'facade' function 'relay_crash': module 'callee' function "
                                              r"'crash' trapped"):  # fmt: skip
        service.call("relay_crash")
    assert service.call("relay", ["still works"]) == "still works"
    assert service.module("callee").call("strlen", ["abc"]) == 3


def test_imports_must_name_an_earlier_module() -> None:
    with pytest.raises(ModuleLoadError, match="no module 'callee' before it"):
        MarineService([(ModuleConfig(name="facade"), WAT / "facade.wat")])
    with pytest.raises(ModuleLoadError, match="named 'callee'"):
        MarineService([(ModuleConfig(name="callee"), WAT / "callee.wat")] * 2)


def test_mounted_binary_runs_an_allowed_binary() -> None:
    echo = _binary("echo")
    module = MarineModule.load(WAT / "mounted.wat", _mounts(echo))
    result = module.call("run_echo", [["hello", "mounted world", "$HOME;|"]])
    assert result == {"ret_code": 0, "error": "", "stdout": b"hello mounted world $HOME;|\n", "stderr": b""}
    text = module.call("run_echo_text", [["as", "text"]])  # declared as MountedBinaryStringResult
    assert text == {"ret_code": 0, "error": "", "stdout": "as text\n", "stderr": ""}


def test_mounted_binary_reports_exit_codes_and_timeouts() -> None:
    failing = MarineModule.load(WAT / "mounted.wat", _mounts(_binary("false")))
    assert failing.call("run_echo", [[]])["ret_code"] == 1
    slow = MarineModule.load(WAT / "mounted.wat", _mounts(_binary("sleep"), max_call_seconds=1.5))
    result = slow.call("run_echo", [["5"]])
    assert result["ret_code"] == 100005 and "timed out" in result["error"]
    assert slow.call("run_echo", [["0"]])["ret_code"] == 0


def test_mounted_binary_not_allowed_is_refused_at_load() -> None:
    with pytest.raises(MountedBinaryError, match=r"imports host.echo, a mounted binary its config does not allow"):
        MarineModule.load(WAT / "mounted.wat", ModuleConfig(name="m"))
    with pytest.raises(MountedBinaryError, match="absolute path"):
        MarineModule.load(WAT / "mounted.wat", _mounts("echo"))
    with pytest.raises(MountedBinaryError, match=r"host\.echo_text.*allowed: \['echo'\]"):
        MarineModule.load(WAT / "mounted.wat", ModuleConfig(name="m", mounted_binaries={"echo": _binary("echo")}))


def test_a_host_implemented_binary_is_called_instead_of_a_process() -> None:
    """A HostBinary (e.g. the peer's HTTP effector) gets the guest's arguments; its answer, or its failure as
    ret_code 100001, goes back to the guest."""
    calls: list[list[str]] = []

    def shout(args: list[str]) -> dict[str, object]:
        calls.append(args)
        if args == ["boom"]:
            raise RuntimeError("host binary broke")
        return {"ret_code": 3, "error": "", "stdout": " ".join(args).upper().encode(), "stderr": b"warn"}

    module = MarineModule.load(WAT / "mounted.wat", ModuleConfig(name="m", mounted_binaries={"echo": shout,
                                                                                               "echo_text": shout}))  # fmt: skip
    assert module.call("run_echo", [["a", "$HOME;|"]]) == {"ret_code": 3, "error": "", "stdout": b"A $HOME;|",
                                                           "stderr": b"warn"}  # fmt: skip
    assert module.call("run_echo_text", [["x"]]) == {"ret_code": 3, "error": "", "stdout": "X", "stderr": "warn"}
    failed = module.call("run_echo", [["boom"]])
    assert failed["ret_code"] == 100001 and "host binary broke" in failed["error"]
    assert calls == [["a", "$HOME;|"], ["x"], ["boom"]]
    with pytest.raises(MountedBinaryError, match="absolute path or a host-implemented binary"):
        MarineModule.load(WAT / "mounted.wat", ModuleConfig(name="m", mounted_binaries={"echo": 42, "echo_text": 42}))  # type: ignore[dict-item]
