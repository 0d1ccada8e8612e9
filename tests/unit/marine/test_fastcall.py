"""CoreFunc (exports called through wasmtime_func_call_unchecked with a reused buffer) and MemoryView (guest
memory with the base address cached until memory grows), on small WAT modules in plain wasmtime."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import wasmtime

from fluence_dao.marine import CoreFunc, MemoryView

WAT = """
(module
  (import "host" "call_back" (func $call_back (param i32) (result i32)))
  (import "host" "fail" (func $fail))
  (memory (export "memory") 1)
  (func (export "mix") (param i32 i64) (result i64)
    (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1)))
  (func (export "neg") (param i32) (result i32) (i32.sub (i32.const 0) (local.get 0)))
  (func (export "fadd") (param f64 f64) (result f64) (f64.add (local.get 0) (local.get 1)))
  (func (export "boom") (unreachable))
  (func (export "host_fails") (call $fail))
  ;; rec(n) = n == 0 ? 0 : call_back(n) + n: the host calls rec(n - 1) again from inside
  (func (export "rec") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $call_back (local.get 0)) (local.get 0)))))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
)
"""


@pytest.fixture()
def instance() -> tuple[wasmtime.Store, dict[str, Any], list[Callable[..., Any]]]:
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, WAT)
    funcs: dict[str, Any] = {}

    def call_back(n: int) -> int:
        return int(funcs["rec"](n - 1))

    def fail() -> None:
        raise ValueError("the host function failed")

    i32 = wasmtime.ValType.i32()
    imports = [
        wasmtime.Func(store, wasmtime.FuncType([i32], [i32]), call_back),
        wasmtime.Func(store, wasmtime.FuncType([], []), fail),
    ]
    exports = wasmtime.Instance(store, module, imports).exports(store)
    for name in ("mix", "neg", "fadd", "boom", "host_fails", "rec", "grow"):
        item = exports[name]
        assert isinstance(item, wasmtime.Func)
        funcs[name] = CoreFunc(store, item)
    memory = exports["memory"]
    assert isinstance(memory, wasmtime.Memory)
    funcs["memory"] = MemoryView(store, memory)
    return store, funcs, imports


def test_integer_arguments_and_results_keep_their_sign(instance: Any) -> None:
    _, f, _ = instance
    assert f["mix"].unchecked and f["neg"].unchecked
    assert f["mix"](-5, 2**40) == 2**40 - 5
    assert f["mix"](2**32 - 1, 0) == -1  # an unsigned 32-bit value is the same bits as -1
    assert f["neg"](5) == -5
    assert f["neg"](-(2**31)) == -(2**31)
    assert f["mix"](1, 2**63 - 1) == -(2**63)  # i64 wraps


def test_floats_take_the_typed_path(instance: Any) -> None:
    _, f, _ = instance
    assert not f["fadd"].unchecked
    assert f["fadd"](1.25, 2.5) == 3.75


def test_wrong_argument_count_is_refused(instance: Any) -> None:
    _, f, _ = instance
    with pytest.raises(wasmtime.WasmtimeError, match="expected 2 parameters, got 1"):
        f["mix"](1)


def test_a_trap_is_raised_every_time_and_the_function_stays_usable(instance: Any) -> None:
    _, f, _ = instance
    for _ in range(3):
        with pytest.raises(wasmtime.Trap, match="unreachable"):
            f["boom"]()
        assert f["neg"](3) == -3


def test_a_host_functions_exception_wins_over_its_trap(instance: Any) -> None:
    _, f, _ = instance
    with pytest.raises(ValueError, match="the host function failed"):
        f["host_fails"]()
    assert f["neg"](1) == -1


def test_reentrant_calls_do_not_share_the_argument_buffer(instance: Any) -> None:
    _, f, _ = instance
    assert f["rec"](10) == sum(range(11))
    assert f["rec"](1) == 1


def test_memory_reads_and_writes_are_bounds_checked(instance: Any) -> None:
    _, f, _ = instance
    view: MemoryView = f["memory"]
    assert view.size() == 65536
    assert view.write(100, b"hello")
    assert view.read(100, 5) == b"hello"
    assert view.read(65536, 0) == b""
    assert view.read(65530, 7) is None
    assert view.read(-1, 1) is None
    assert not view.write(65534, b"abc")
    assert not view.write(-4, b"a")


def test_memory_growth_is_seen_without_a_new_view(instance: Any) -> None:
    _, f, _ = instance
    view: MemoryView = f["memory"]
    assert view.write(10, b"before")
    assert not view.write(70000, b"x")
    assert f["grow"](3) == 1
    assert view.size() == 4 * 65536
    assert view.write(70000, b"after growth")
    assert view.read(70000, 12) == b"after growth"
    assert view.read(10, 6) == b"before"
