"""MarineModule on small hand-written WAT modules (tests/fixtures/wat/, regenerate with make_wat.py)."""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path

import pytest
import wasmtime

from fluence_dao.errors import AbiError, FunctionNotFoundError, ModuleLoadError, ModuleTrapError
from fluence_dao.marine import (
    CallParameters,
    MarineModule,
    ModuleConfig,
    ParticleParameters,
    SecurityTetraplet,
    forget_compiled_modules,
)

WAT = Path(__file__).resolve().parents[2] / "fixtures" / "wat"

INNER = {"id": 7, "label": "ï"}
OUTER = {
    "flag": True,
    "small": -128,
    "ushort": 65535,
    "short": -2,
    "big": 2**64 - 1,
    "signed": -(2**63),
    "ratio": 1.5,
    "precise": math.pi,
    "name": "name ✓",
    "data": b"\x00\xff",
    "inner": INNER,
    "inners": [INNER, {"id": 0, "label": ""}],
    "words": ["a", "", "bc"],
    "matrix": [[1, 2**32 - 1], [], [3]],
}


@pytest.fixture(scope="module")
def abi() -> MarineModule:
    return MarineModule.load(WAT / "abi.wat", ModuleConfig(name="abi", max_call_seconds=2.0))


@pytest.mark.parametrize(
    ("function", "value"),
    [
        ("echo_string", "héllo wörld"),
        ("echo_string", ""),
        ("echo_str", "by ref"),
        ("echo_bytes", b"\x00\x01\xfe\xff"),
        ("echo_vec_bool", [True, False, True]),
        ("echo_vec_i8", [-128, 0, 127]),
        ("echo_vec_u16", [0, 65535]),
        ("echo_vec_i32", [-(2**31), 2**31 - 1]),
        ("echo_vec_u64", [0, 2**64 - 1]),
        ("echo_vec_i64", [-(2**63), 2**63 - 1]),
        ("echo_vec_f32", [1.5, -0.25]),
        ("echo_vec_f64", [math.e, -1e300]),
        ("echo_vec_string", ["a", "", "ü"]),
        ("echo_vec_vec_u8", [b"ab", b"", b"\xff"]),
        ("echo_vec_vec_string", [["a", "b"], [], ["c"]]),
        ("echo_vec_record", [INNER, {"id": 2**32 - 1, "label": "x"}]),
        ("echo_vec_vec_record", [[INNER], [], [INNER, INNER]]),
        ("echo_record", OUTER),
        ("echo_pair", {"0": 255, "1": "tuple"}),
        ("id_bool", True),
        ("id_bool", False),
        ("id_i8", -128),
        ("id_u8", 255),
        ("id_i16", -32768),
        ("id_u16", 65535),
        ("id_i32", -(2**31)),
        ("id_u32", 2**32 - 1),
        ("id_i64", -(2**63)),
        ("id_u64", 2**64 - 1),
        ("id_f32", 0.5),
        ("id_f64", math.pi),
    ],
)
def test_values_round_trip_through_guest_memory(abi: MarineModule, function: str, value: object) -> None:
    assert abi.call(function, [value]) == value


def test_inputs_accepted_in_other_forms(abi: MarineModule) -> None:
    assert abi.call("echo_bytes", [[1, 2, 3]]) == b"\x01\x02\x03"
    assert abi.call("echo_bytes", [bytearray(b"xy")]) == b"xy"
    assert abi.call("echo_pair", [[1, "list"]]) == {"0": 1, "1": "list"}
    assert abi.call("echo_string", {"value": "by name"}) == "by name"


def test_the_guest_sees_the_sdk_layout(abi: MarineModule) -> None:
    assert abi.call("first_string_len", [["four", "x"]]) == 4
    assert abi.call("first_string_len", [[]]) == -1
    assert abi.call("record_value", [{"flag": True, "value": 0x0102030405060708, "name": "n"}]) == 0x0102030405060708
    assert abi.call("static_strings") == ["ab", "cde"]
    assert abi.call("nothing") is None


def test_allocate_requests_match_the_guest_vec_types(abi: MarineModule) -> None:
    abi.call("reset_alloc_log")
    abi.call("echo_vec_string", [["ab", "c"]])
    assert abi.call("alloc_log") == [2, 1, 1, 1, 4, 3]  # two u8 buffers, then 2n u32 for the pairs
    abi.call("reset_alloc_log")
    abi.call("echo_vec_record", [[INNER]])
    assert abi.call("alloc_log") == [2, 1, 12, 1, 1, 3]  # label bytes, the 12-byte record, 1 pointer


def test_release_objects_after_every_call(abi: MarineModule) -> None:
    before = abi.call("releases")
    abi.call("echo_string", ["x"])
    abi.call("id_u8", [1])
    assert abi.call("releases") == before + 3


def test_bad_calls_are_clear_errors(abi: MarineModule) -> None:
    with pytest.raises(FunctionNotFoundError, match="did you mean echo_string"):
        abi.call("echo_strin", ["x"])
    with pytest.raises(AbiError, match="takes 1 argument"):
        abi.call("echo_string", [])
    with pytest.raises(AbiError, match="missing field 'matrix'"):
        abi.call("echo_record", [{k: v for k, v in OUTER.items() if k != "matrix"}])
    with pytest.raises(AbiError, match="out of range for u8"):
        abi.call("id_u8", [256])


def test_call_parameters_v3_and_v0_layouts(abi: MarineModule) -> None:
    tetraplet = SecurityTetraplet("12D3KooWpeer", "svc", "fn", ".$.a")
    params = CallParameters(
        particle=ParticleParameters("pid", "12D3KooWinit", 1_700_000_000_000, 7000, "(null)", b"\x01\x02", "tok"),
        service_id="service",
        service_creator_peer_id="creator",
        host_id="host",
        worker_id="worker",
        tetraplets=[[tetraplet], []],
    )
    v3 = abi.call("call_parameters", call_parameters=params)
    assert v3 == {
        "particle": {"id": "pid", "init_peer_id": "12D3KooWinit", "timestamp": 1_700_000_000_000, "ttl": 7000,
                     "script": "(null)", "signature": b"\x01\x02", "token": "tok"},
        "service_id": "service", "service_creator_peer_id": "creator", "host_id": "host", "worker_id": "worker",
        "tetraplets": [[{"peer_pk": "12D3KooWpeer", "service_id": "svc", "function_name": "fn", "lens": ".$.a"}], []],
    }  # fmt: skip
    v0 = abi.call("call_parameters_v0", call_parameters=params)
    assert v0 == {
        "init_peer_id": "12D3KooWinit", "service_id": "service", "service_creator_peer_id": "creator",
        "host_id": "host", "particle_id": "pid",
        "tetraplets": [[{"peer_pk": "12D3KooWpeer", "service_id": "svc", "function_name": "fn", "json_path": ".$.a"}],
                       []],
    }  # fmt: skip
    v1 = abi.call("call_parameters_v1", call_parameters=params)
    assert v1 == {**{k: v for k, v in v0.items() if k != "particle_id"}, "worker_id": "worker", "particle_id": "pid"}
    assert list(v1) == ["init_peer_id", "service_id", "service_creator_peer_id", "host_id", "worker_id",
                        "particle_id", "tetraplets"]  # fmt: skip
    v2 = abi.call("call_parameters_v2", call_parameters=params)
    assert v2["particle"] == v3["particle"] and v2["worker_id"] == "worker"
    assert v2["tetraplets"][0][0]["lambda"] == ".$.a"
    assert abi.call("call_parameters")["service_id"] == ""  # parameters belong to one call only


def test_guest_log_and_stdout_reach_the_logger(abi: MarineModule, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="fluence_dao.marine.guest.abi"):
        MarineModule.load(WAT / "abi.wat", ModuleConfig(name="abi"))  # _initialize logs at info
        abi.call("log_hello", [2])
        assert abi.call("print_hello", [1]) == 0
        assert abi.call("print_hello", [2]) == 0
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "fluence_dao.marine.guest.abi"]
    assert (logging.WARNING, "hello guest") in records
    assert (logging.INFO, "hello guest") in records
    assert (logging.INFO, "[stdout] hello guest") in records
    assert (logging.WARNING, "[stderr] hello guest") in records


def test_random_source_replaces_random_get() -> None:
    fed: list[int] = []

    def source(n: int) -> bytes:
        fed.append(n)
        return bytes(range(n))

    module = MarineModule.load(WAT / "abi.wat", ModuleConfig(name="abi", random_source=source))
    assert module.call("init_random") == bytes(range(8))  # drawn by _initialize at load
    assert module.call("random_bytes", [16]) == bytes(range(16))
    assert fed == [8, 16]
    default = MarineModule.load(WAT / "abi.wat", ModuleConfig(name="abi"))
    first, second = default.call("random_bytes", [32]), default.call("random_bytes", [32])
    assert len(first) == 32 and first != second


def test_wasi_env_and_mapped_dirs(tmp_path: Path) -> None:
    config = ModuleConfig(name="abi", envs={"GREETING": "hi", "EMPTY": ""}, mapped_dirs={"/data": str(tmp_path)})
    module = MarineModule.load(WAT / "abi.wat", config)
    env = module.call("env_blob").split(b"\0")
    assert b"GREETING=hi" in env and b"EMPTY=" in env
    assert module.call("preopen_name") == "/data"
    bare = MarineModule.load(WAT / "abi.wat", ModuleConfig(name="abi"))
    assert bare.call("preopen_name") == ""  # nothing is visible without mapped dirs
    assert not any(item.startswith(b"GREETING") for item in bare.call("env_blob").split(b"\0"))
    with pytest.raises(ModuleLoadError, match="not a directory"):
        MarineModule.load(WAT / "abi.wat", ModuleConfig(name="abi", mapped_dirs={"/x": str(tmp_path / "none")}))


def test_trap_is_reported_and_the_module_keeps_working(abi: MarineModule) -> None:
    abi.call("echo_string", ["state"])
    with pytest.raises(ModuleTrapError, match=r"module 'abi' function 'boom' trapped: .*unreachable"):
        abi.call("boom")
    assert abi.call("echo_string", ["after trap"]) == "after trap"


def test_runaway_guest_is_interrupted() -> None:
    module = MarineModule.load(WAT / "abi.wat", ModuleConfig(name="abi", max_call_seconds=0.2))
    with pytest.raises(ModuleTrapError, match=r"'spin' exceeded its time bound of 0.2 s"):
        module.call("spin")
    assert module.call("id_u32", [5]) == 5


def test_memory_ceiling_fails_the_call_not_the_host() -> None:
    module = MarineModule.load(WAT / "abi.wat", ModuleConfig(name="abi", max_memory_bytes=2 * 2**20))
    assert module.call("grow", [8]) == 9  # within the ceiling
    with pytest.raises(ModuleTrapError, match=r"'grow' trapped: .*ceiling 2.0 MiB"):
        module.call("grow", [1000])
    with pytest.raises(AbiError, match="out of memory"):
        module.call("echo_bytes", [bytes(3 * 2**20)])  # the guest's allocate returns 0
    assert module.call("echo_bytes", [b"ok"]) == b"ok"


def test_fresh_instance_after_trap_drops_state() -> None:
    module = MarineModule.load(WAT / "abi.wat", ModuleConfig(name="abi", fresh_instance_after_trap=True))
    module.call("nothing")
    assert module.call("releases") >= 1
    with pytest.raises(ModuleTrapError):
        module.call("boom")
    assert module.call("releases") == 0  # a new instance counts from zero


def test_non_marine_wasm_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.wat"
    plain.write_text('(module (memory (export "memory") 1))')
    with pytest.raises(ModuleLoadError, match="missing export"):
        MarineModule.load(plain)
    undescribed = tmp_path / "undescribed.wat"
    undescribed.write_text(
        '(module (memory (export "memory") 1) (func (export "allocate") (param i32 i32) (result i32) i32.const 0)'
        ' (func (export "release_objects")) (func (export "get_result_ptr") (result i32) i32.const 0)'
        ' (func (export "get_result_size") (result i32) i32.const 0))'
    )
    with pytest.raises(ModuleLoadError, match="no __m_generated_section__"):
        MarineModule.load(undescribed)
    with pytest.raises(ModuleLoadError, match="must be positive"):
        MarineModule.load(WAT / "callee.wat", ModuleConfig(max_call_seconds=0))
    with pytest.raises(ModuleLoadError, match="cannot read"):
        MarineModule.load(tmp_path / "absent.wasm")
    with pytest.raises(ModuleLoadError, match="not valid wasm"):
        MarineModule.load(b"\x00asm\x01\x00\x00\x00\xff")


def test_compiled_modules_are_cached_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUENCE_DAO_CACHE_DIR", str(tmp_path))
    forget_compiled_modules()
    MarineModule.load(WAT / "callee.wat", ModuleConfig(name="callee"))
    (artifact,) = (tmp_path / "marine").glob("*.cwasm")
    wasm = bytes(wasmtime.wat2wasm((WAT / "callee.wat").read_text()))
    assert artifact.name.startswith(hashlib.sha256(wasm).hexdigest() + "-")  # keyed by the module's bytes
    forget_compiled_modules()
    artifact.write_bytes(b"corrupt")  # an unusable artifact is replaced, not fatal
    module = MarineModule.load(WAT / "callee.wat", ModuleConfig(name="callee"))
    assert module.call("strlen", ["abc"]) == 3
    assert artifact.read_bytes() != b"corrupt"


def test_calls_from_several_threads_are_serialised(abi: MarineModule) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work(worker: int) -> list[str]:
        return [abi.call("echo_string", [f"worker {worker} call {i}"]) for i in range(40)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(4)))
    assert results == [[f"worker {w} call {i}" for i in range(40)] for w in range(4)]
