"""wasm/conformance built from source and driven through the real host (`fluence_dao.marine.MarineModule`):
randomised round trips of every Marine type, values computed inside the module, unit results, module state,
call parameters and logging; each failure case raises a clear error and the next call on the same module
works. Also the two-module pingpong service (`MarineService`): records and strings crossing the link; and the
same modules in marine-js (Fluence's runtime compiled to wasm), which must give the same results."""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluence_dao.build import build_module, wasm_source_dir
from fluence_dao.errors import AbiError, FunctionNotFoundError, ModuleTrapError
from fluence_dao.marine import (
    CallParameters,
    MarineModule,
    MarineService,
    ModuleConfig,
    ParticleParameters,
    SecurityTetraplet,
)

pytestmark = pytest.mark.integration

EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
MAX_MEMORY = 32 * 2**20


def ints(bits: int, signed: bool) -> st.SearchStrategy[int]:
    if signed:
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return st.integers(0, 2**bits - 1)


def f32s() -> st.SearchStrategy[float]:
    return st.floats(width=32, allow_nan=False)


def f64s() -> st.SearchStrategy[float]:
    return st.floats(allow_nan=False)


SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "bool": st.booleans(),
    "i8": ints(8, True),
    "i16": ints(16, True),
    "i32": ints(32, True),
    "i64": ints(64, True),
    "u8": ints(8, False),
    "u16": ints(16, False),
    "u32": ints(32, False),
    "u64": ints(64, False),
    "f32": f32s(),
    "f64": f64s(),
}
texts = st.text(max_size=40)
blobs = st.binary(max_size=64)
inners = st.fixed_dictionaries({"flag": st.booleans(), "n": ints(16, True), "label": texts})
outers = st.fixed_dictionaries(
    {"inner": inners, "id": ints(64, False), "tags": st.lists(texts, max_size=4), "data": blobs}
)
trees = st.fixed_dictionaries(
    {
        "name": texts,
        "children": st.lists(outers, max_size=3),
        "matrix": st.lists(st.lists(inners, max_size=3), max_size=3),
        "leaf": inners,
    }
)
vectors = st.fixed_dictionaries(
    {
        "bools": st.lists(st.booleans(), max_size=8),
        "i8s": st.lists(ints(8, True), max_size=8),
        "i16s": st.lists(ints(16, True), max_size=8),
        "i32s": st.lists(ints(32, True), max_size=8),
        "i64s": st.lists(ints(64, True), max_size=8),
        "u8s": blobs,
        "u16s": st.lists(ints(16, False), max_size=8),
        "u32s": st.lists(ints(32, False), max_size=8),
        "u64s": st.lists(ints(64, False), max_size=8),
        "f32s": st.lists(f32s(), max_size=8),
        "f64s": st.lists(f64s(), max_size=8),
        "strings": st.lists(texts, max_size=5),
        "byte_vectors": st.lists(blobs, max_size=5),
    }
)


@pytest.fixture(scope="module")
def conformance_wasm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build_module("conformance", tmp_path_factory.mktemp("wasm")).read_bytes()


def load(wasm: bytes, **config: Any) -> MarineModule:
    config.setdefault("max_memory_bytes", MAX_MEMORY)
    return MarineModule.load(wasm, ModuleConfig(name="conformance", **config))


@pytest.fixture(scope="module")
def module(conformance_wasm: bytes) -> MarineModule:
    return load(conformance_wasm, max_call_seconds=2.0)


@pytest.fixture
def fresh(conformance_wasm: bytes) -> Iterator[MarineModule]:
    yield load(conformance_wasm, max_call_seconds=1.0)


# --- scalars -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_name", list(SCALARS))
def test_scalar_round_trip(module: MarineModule, type_name: str) -> None:
    @EXAMPLES
    @given(value=SCALARS[type_name])
    def check(value: Any) -> None:
        assert module.call(f"echo_{type_name}", [value]) == value

    check()


@pytest.mark.parametrize(
    ("type_name", "bad"),
    [("i8", 128), ("i8", -129), ("u8", 256), ("u8", -1), ("i64", 2**63), ("u64", 2**64), ("u32", -1), ("bool", 1)],
)
def test_out_of_range_scalars_are_abi_errors(module: MarineModule, type_name: str, bad: Any) -> None:
    with pytest.raises(AbiError):
        module.call(f"echo_{type_name}", [bad])
    assert module.call("echo_u8", [7]) == 7


def test_float_specials(module: MarineModule) -> None:
    for value in (math.inf, -math.inf, -0.0, 5e-324):
        assert module.call("echo_f64", [value]) == value
    assert math.copysign(1.0, module.call("echo_f64", [-0.0])) == -1.0
    assert math.isnan(module.call("echo_f64", [math.nan]))
    assert math.isnan(module.call("echo_f32", [math.nan]))


def _describe(s: dict[str, Any]) -> str:
    x_bits = struct.unpack("<I", struct.pack("<f", s["x"]))[0]
    y_bits = struct.unpack("<Q", struct.pack("<d", s["y"]))[0]
    ints_text = " ".join(str(s[k]) for k in "abcdefgh")
    return f"{'true' if s['flag'] else 'false'} {ints_text} {x_bits:08x} {y_bits:016x}"


@EXAMPLES
@given(
    values=st.tuples(
        *(SCALARS[t] for t in ("bool", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64"))
    )
)
def test_eleven_scalar_arguments_into_a_record_and_back(module: MarineModule, values: tuple[Any, ...]) -> None:
    record = module.call("pack_scalars", list(values))
    assert record == dict(zip(["flag", "a", "b", "c", "d", "e", "f", "g", "h", "x", "y"], values, strict=True))
    assert module.call("describe_scalars", [record]) == _describe(record)


@EXAMPLES
@given(a=ints(64, False), b=ints(64, False))
def test_u64_arithmetic_in_the_module(module: MarineModule, a: int, b: int) -> None:
    assert module.call("add_wrapping_u64", [a, b]) == (a + b) % 2**64


def test_arguments_by_name(module: MarineModule) -> None:
    assert module.call("add_wrapping_u64", {"b": 2, "a": 40}) == 42


# --- strings and byte vectors --------------------------------------------------------------------------


@EXAMPLES
@given(s=st.text(max_size=300))
def test_strings(module: MarineModule, s: str) -> None:
    assert module.call("echo_string", [s]) == s
    assert module.call("echo_str", [s]) == s
    assert module.call("byte_length", [s]) == len(s.encode("utf-8"))


@EXAMPLES
@given(a=texts, sep=texts, b=texts)
def test_three_string_arguments_keep_their_order(module: MarineModule, a: str, sep: str, b: str) -> None:
    assert module.call("concat", [a, sep, b]) == a + sep + b


@EXAMPLES
@given(v=st.binary(max_size=500))
def test_byte_vectors(module: MarineModule, v: bytes) -> None:
    assert module.call("echo_bytes", [v]) == v
    assert module.call("reverse_bytes", [v]) == v[::-1]


def test_byte_vector_inputs_accept_bytearray_and_int_lists(module: MarineModule) -> None:
    assert module.call("echo_bytes", [bytearray(b"\x00\xff")]) == b"\x00\xff"
    assert module.call("echo_bytes", [[1, 2, 255]]) == b"\x01\x02\xff"


# --- vectors -------------------------------------------------------------------------------------------


@EXAMPLES
@given(v=st.lists(texts, max_size=8), sep=texts)
def test_string_vectors(module: MarineModule, v: list[str], sep: str) -> None:
    assert module.call("echo_strings", [v]) == v
    assert module.call("join_strings", [v, sep]) == sep.join(v)


@EXAMPLES
@given(v=st.lists(blobs, max_size=8))
def test_vectors_of_byte_vectors(module: MarineModule, v: list[bytes]) -> None:
    assert module.call("echo_byte_vectors", [v]) == v


@EXAMPLES
@given(v=st.lists(ints(64, False), max_size=50))
def test_u64_vectors(module: MarineModule, v: list[int]) -> None:
    assert module.call("echo_u64s", [v]) == v
    assert module.call("sum_u64s", [v]) == sum(v) % 2**64


@EXAMPLES
@given(v=vectors)
def test_every_vector_element_type_in_one_record(module: MarineModule, v: dict[str, Any]) -> None:
    assert module.call("echo_vectors", [v]) == v


# --- records -------------------------------------------------------------------------------------------


@EXAMPLES
@given(v=outers)
def test_nested_records(module: MarineModule, v: dict[str, Any]) -> None:
    assert module.call("echo_outer", [v]) == v
    inner = v["inner"]
    expected = f"{'true' if inner['flag'] else 'false'}:{inner['n']}:{inner['label']}"
    assert module.call("describe_inner", [inner]) == expected


@EXAMPLES
@given(v=st.lists(inners, max_size=6))
def test_vectors_of_records(module: MarineModule, v: list[dict[str, Any]]) -> None:
    assert module.call("echo_inners", [v]) == v


@EXAMPLES
@given(v=trees)
def test_records_holding_vectors_of_records(module: MarineModule, v: dict[str, Any]) -> None:
    assert module.call("echo_tree", [v]) == v
    expected = len(v["children"]) + sum(len(c["tags"]) + len(c["data"]) for c in v["children"])
    expected += sum(len(row) for row in v["matrix"])
    assert module.call("count_tree", [v]) == expected


def test_record_field_errors_name_the_field(module: MarineModule) -> None:
    inner = {"flag": True, "n": 1, "label": "x"}
    with pytest.raises(AbiError, match="label"):
        module.call("describe_inner", [{"flag": True, "n": 1}])
    with pytest.raises(AbiError, match="extra"):
        module.call("describe_inner", [{**inner, "extra": 1}])
    with pytest.raises(AbiError):
        module.call("describe_inner", [{**inner, "n": 2**15}])
    assert module.call("describe_inner", [inner]) == "true:1:x"


# --- unit results and state ----------------------------------------------------------------------------


def test_unit_results_and_state_across_calls(fresh: MarineModule) -> None:
    assert fresh.call("get_counter", []) == 0
    assert fresh.call("set_counter", [2**64 - 1]) is None
    assert fresh.call("get_counter", []) == 2**64 - 1
    assert fresh.call("nothing", []) is None


def test_unknown_function_lists_the_exports(module: MarineModule) -> None:
    with pytest.raises(FunctionNotFoundError, match="echo_string"):
        module.call("echo_strnig", ["x"])


def test_interface_read_by_the_host_matches_the_module(module: MarineModule) -> None:
    import tomllib

    described = tomllib.loads((wasm_source_dir() / "conformance" / "interface.toml").read_text())["functions"]
    assert sorted(module.functions) == sorted(described)


# --- host facilities -----------------------------------------------------------------------------------

tetraplets = st.fixed_dictionaries({"peer_pk": texts, "service_id": texts, "function_name": texts, "lens": texts}).map(
    lambda d: SecurityTetraplet(**d)
)
call_parameters = st.builds(
    CallParameters,
    particle=st.builds(
        ParticleParameters,
        id=texts,
        init_peer_id=texts,
        timestamp=ints(64, False),
        ttl=ints(32, False),
        script=texts,
        signature=blobs,
        token=texts,
    ),
    service_id=texts,
    service_creator_peer_id=texts,
    host_id=texts,
    worker_id=texts,
    tetraplets=st.lists(st.lists(tetraplets, max_size=3), max_size=3),
)


@EXAMPLES
@given(cp=call_parameters)
def test_call_parameters_reach_the_module(module: MarineModule, cp: CallParameters) -> None:
    got = module.call("call_parameters", [], call_parameters=cp)
    p = cp.particle
    assert got["particle"] == {
        "id": p.id,
        "init_peer_id": p.init_peer_id,
        "timestamp": p.timestamp,
        "ttl": p.ttl,
        "script": p.script,
        "signature": p.signature,
        "token": p.token,
    }
    assert (got["service_id"], got["service_creator_peer_id"], got["host_id"], got["worker_id"]) == (
        cp.service_id,
        cp.service_creator_peer_id,
        cp.host_id,
        cp.worker_id,
    )
    assert got["tetraplets"] == [
        [
            {"peer_pk": t.peer_pk, "service_id": t.service_id, "function_name": t.function_name, "lens": t.lens}
            for t in row
        ]
        for row in cp.tetraplets
    ]


def test_default_call_parameters_are_empty(module: MarineModule) -> None:
    got = module.call("call_parameters", [])
    assert got["service_id"] == "" and got["tetraplets"] == [] and got["particle"]["signature"] == b""


@pytest.mark.parametrize(
    ("level", "python_level"),
    [(1, logging.ERROR), (2, logging.WARNING), (3, logging.INFO), (4, logging.DEBUG), (5, None)],
)
def test_guest_log_lines_reach_python_logging(
    module: MarineModule, caplog: pytest.LogCaptureFixture, level: int, python_level: int | None
) -> None:
    """Levels 1-4 map to error, warning, info, debug; trace (5) lands below DEBUG."""
    caplog.set_level(1, logger="fluence_dao.marine.guest")
    module.call("log_message", [level, f"line at level {level} ✓"])
    records = [r for r in caplog.records if r.name == "fluence_dao.marine.guest.conformance"]
    assert [r.getMessage() for r in records] == [f"line at level {level} ✓"]
    if python_level is None:
        assert records[0].levelno < logging.DEBUG
    else:
        assert records[0].levelno == python_level


# --- failure cases: each raises a clear error, and the module keeps working ----------------------------


def _still_works(module: MarineModule) -> None:
    assert module.call("echo_string", ["still alive"]) == "still alive"
    assert module.call("echo_outer", [OUTER]) == OUTER


OUTER = {"inner": {"flag": False, "n": -3, "label": "in"}, "id": 3, "tags": ["a", "b"], "data": b"\x00\x01"}


def test_trap_is_a_module_trap_error_naming_module_and_function(fresh: MarineModule) -> None:
    with pytest.raises(ModuleTrapError, match=r"conformance.*trap|trap.*conformance"):
        fresh.call("trap", ["on purpose"])
    _still_works(fresh)


def test_endless_loop_is_interrupted(fresh: MarineModule) -> None:
    with pytest.raises(ModuleTrapError, match="loop_forever"):
        fresh.call("loop_forever", [])
    _still_works(fresh)


def test_guest_allocation_beyond_the_memory_ceiling_fails_the_call(fresh: MarineModule) -> None:
    assert fresh.call("allocate_mib", [4]) == 4
    with pytest.raises(ModuleTrapError, match="allocate_mib"):
        fresh.call("allocate_mib", [2 * MAX_MEMORY // 2**20])
    _still_works(fresh)
    assert fresh.memory_bytes() <= MAX_MEMORY


def test_argument_too_big_for_the_guest_is_an_abi_error(fresh: MarineModule) -> None:
    with pytest.raises(AbiError, match="allocate"):
        fresh.call("echo_bytes", [bytes(MAX_MEMORY + 2**20)])
    _still_works(fresh)


def test_error_result_traps_and_is_logged(fresh: MarineModule, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="fluence_dao.marine.guest")
    with pytest.raises(ModuleTrapError, match="fail_with_error"):
        fresh.call("fail_with_error", [])
    assert any("DeliberateFailure" in r.getMessage() for r in caplog.records)
    _still_works(fresh)


def test_wrong_argument_types_and_counts_are_abi_errors(module: MarineModule) -> None:
    with pytest.raises(AbiError):
        module.call("echo_u32", ["7"])
    with pytest.raises(AbiError):
        module.call("echo_string", [7])
    with pytest.raises(AbiError):
        module.call("concat", ["a", "b"])
    _still_works(module)


def test_memory_stays_bounded_over_many_large_calls(fresh: MarineModule) -> None:
    """Arguments and results are freed (release_objects / next call): they do not pile up."""
    big = "x" * 2**21
    for _ in range(40):  # 160 MiB through a module with a 32 MiB ceiling
        assert fresh.call("byte_length", [big]) == 2**21
        assert len(fresh.call("echo_string", [big])) == 2**21
    assert fresh.memory_bytes() < 12 * 2**20


# --- a two-module service: the facade imports from the effector's namespace ----------------------------


@pytest.fixture(scope="module")
def pingpong(tmp_path_factory: pytest.TempPathFactory) -> MarineService:
    out = tmp_path_factory.mktemp("pingpong")
    effector = build_module("pingpong_effector", out).read_bytes()
    facade = build_module("pingpong_facade", out).read_bytes()
    return MarineService(
        [(ModuleConfig(name="pingpong_effector"), effector), (ModuleConfig(name="pingpong_facade"), facade)]
    )


@EXAMPLES
@given(text=texts, shouts=st.lists(texts, max_size=6))
def test_records_and_strings_cross_the_link_between_modules(
    pingpong: MarineService, text: str, shouts: list[str]
) -> None:
    """The facade passes a record and a &str to the effector once per shout and gets a record back."""
    ball = pingpong.call("rally", [text, shouts])
    assert ball == {"text": text + "".join(f" {s}" for s in shouts), "hits": len(shouts), "trail": shouts}


@EXAMPLES
@given(name=texts)
def test_string_results_of_imports_feed_further_imports(pingpong: MarineService, name: str) -> None:
    assert pingpong.call("greet_twice", [name]) == [f"hello, {name}", f"hello, hello, {name}"]


def test_call_parameters_reach_the_facade(pingpong: MarineService) -> None:
    cp = CallParameters(service_id="pingpong-service-id")
    assert pingpong.call("service_id", [], call_parameters=cp) == "pingpong-service-id"


def test_facade_and_effector_memory_stay_bounded(pingpong: MarineService) -> None:
    shouts = ["x" * 4096] * 20
    for _ in range(50):
        assert pingpong.call("rally", ["start", shouts])["hits"] == 20
    for module in pingpong.modules.values():
        assert module.memory_bytes() < 8 * 2**20


# --- the same modules in Fluence's own runtime: marine-js (marine compiled to wasm, run by node) -------


def _jsonable(value: Any) -> Any:
    """Our host's values as marine-js shows them (byte vectors as lists of numbers)."""
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


CROSS_RUNTIME_CALLS: list[tuple[str, list[Any]]] = [
    ("echo_string", ["héllo, wörld ✓"]),
    ("echo_str", [""]),
    ("concat", ["a", "-", "b"]),
    ("byte_length", ["ÿ✓"]),
    ("echo_bool", [True]),
    ("echo_i8", [-128]),
    ("echo_i16", [-32768]),
    ("echo_i32", [-(2**31)]),
    ("echo_i64", [-(2**52)]),
    ("echo_u8", [255]),
    ("echo_u16", [65535]),
    ("echo_u32", [2**31 - 1]),  # marine's i32.from_u32 refuses values above i32::MAX (so does u64 above i64)
    ("echo_u64", [2**52]),
    ("echo_f32", [1.5]),
    ("echo_f64", [-2.25]),
    ("pack_scalars", [True, -1, -2, -3, -4, 5, 6, 7, 8, 1.25, 2.5]),
    ("describe_scalars", [{"flag": False, "a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "x": 0.5, "y": -1.5}]),
    ("reverse_bytes", [[1, 2, 3, 255]]),
    ("echo_strings", [["a", "", "ccc"]]),
    ("join_strings", [["x", "y", "z"], ", "]),
    ("echo_byte_vectors", [[[1, 2], [], [255]]]),
    ("echo_u64s", [[0, 1, 2**40]]),
    ("sum_u64s", [[1, 2, 3]]),
    ("echo_vectors", [{
        "bools": [True, False], "i8s": [-1], "i16s": [-300], "i32s": [7], "i64s": [-(2**40)], "u8s": [1, 2],
        "u16s": [65535], "u32s": [1], "u64s": [2], "f32s": [0.5], "f64s": [0.25], "strings": ["s", ""],
        "byte_vectors": [[9], []],
    }]),
    ("echo_outer", [{"inner": {"flag": True, "n": -5, "label": "lbl"}, "id": 9, "tags": ["t"], "data": [1]}]),
    ("describe_inner", [{"flag": True, "n": -5, "label": "lbl"}]),
    ("echo_inners", [[{"flag": True, "n": 1, "label": "a"}, {"flag": False, "n": 2, "label": ""}]]),
    ("echo_tree", [{
        "name": "root",
        "children": [{"inner": {"flag": True, "n": -3, "label": "l"}, "id": 4, "tags": ["a", "b"], "data": [1, 2]}],
        "matrix": [[{"flag": False, "n": 1, "label": "m"}], []],
        "leaf": {"flag": True, "n": 2, "label": "x"},
    }]),
    ("nothing", []),
]  # fmt: skip


def test_conformance_module_gives_the_same_results_in_marine_js(
    marine_js: Any, conformance_wasm: bytes, module: MarineModule
) -> None:
    calls = [[fn, args] for fn, args in CROSS_RUNTIME_CALLS]
    got = marine_js([("conformance", conformance_wasm)], calls)["results"]
    for (fn, args), result in zip(CROSS_RUNTIME_CALLS, got, strict=True):
        assert result == {"ok": _jsonable(module.call(fn, args))}, fn


def test_marine_js_passes_call_parameters_logs_and_survives_a_trap(marine_js: Any, conformance_wasm: bytes) -> None:
    cp = {
        "particle": {"id": "p", "init_peer_id": "i", "timestamp": 5, "ttl": 7, "script": "s", "signature": [1, 2], "token": "t"},
        "service_id": "svc", "service_creator_peer_id": "c", "host_id": "h", "worker_id": "w",
        "tetraplets": [[{"peer_pk": "pk", "service_id": "s", "function_name": "f", "lens": ".$"}]],
    }  # fmt: skip
    calls = [
        ["call_parameters", [], cp],
        ["log_message", [3, "hello from zig"]],
        ["set_counter", [3]],
        ["trap", ["on purpose"]],
        ["echo_string", ["after the trap"]],
    ]
    out = marine_js([("conformance", conformance_wasm)], calls)
    results = out["results"]
    assert results[0] == {"ok": cp}
    assert results[1] == {"ok": None} and results[2] == {"ok": None}
    assert "trap" in results[3]["error"]
    assert results[4] == {"ok": "after the trap"}
    assert {"level": "info", "message": "hello from zig", "service": "conformance"} in out["logs"]


def test_two_module_service_in_marine_js(marine_js: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """marine-js links the facade's imports to the effector through their interface-types sections."""
    out = tmp_path_factory.mktemp("pingpong-js")
    effector = build_module("pingpong_effector", out).read_bytes()
    facade = build_module("pingpong_facade", out).read_bytes()
    calls = [["rally", ["start", ["a", "bb", ""]]], ["greet_twice", ["zig"]]]
    results = marine_js([("pingpong_effector", effector), ("pingpong_facade", facade)], calls)["results"]
    assert results[0] == {"ok": {"text": "start a bb ", "hits": 3, "trail": ["a", "bb", ""]}}
    assert results[1] == {"ok": ["hello, zig", "hello, hello, zig"]}
