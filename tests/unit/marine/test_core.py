"""marine.core: core modules with a host ABI of their own, on the marine engine and store limits."""

from __future__ import annotations

import time

import pytest
import wasmtime

from fluence_dao.errors import ModuleLoadError, ModuleTrapError
from fluence_dao.marine.core import CoreModule, StoreLimits

WAT = """
(module
  (import "host" "twice" (func $twice (param i32) (result i32)))
  (memory (export "memory") 1)
  (global (export "counter") (mut i32) (i32.const 0))
  (func (export "call_host") (param i32) (result i32) (call $twice (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "divide") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1)))
  (func (export "spin") (loop $l (br $l))))
"""


class HostBoom(Exception):
    pass


def _module(limits: StoreLimits | None = None, keep: set[str] | None = None) -> CoreModule:
    def resolve(namespace: str, name: str, params: list[str], results: list[str]) -> object:
        assert (namespace, name, params, results) == ("host", "twice", ["i32"], ["i32"])

        def twice(x: int) -> int:
            if x < 0:
                raise HostBoom("negative")
            return 2 * x

        return twice

    return CoreModule(bytes(wasmtime.wat2wasm(WAT)), "test", resolve, keep_exports=keep, limits=limits)  # type: ignore[arg-type]


def test_calls_host_functions_and_memory() -> None:
    instance = _module().instantiate()
    assert instance.call("call_host", 21) == 42
    view = instance.memory()
    assert len(view) == 65536
    instance.call("store", 100, 7)
    assert instance.memory()[100] == 7
    view[200] = 9  # the view writes into the guest
    assert instance.call("grow", 1) == 1 and len(instance.memory()) == 2 * 65536  # a fresh view after growth
    assert instance.memory()[200] == 9


def test_host_exceptions_pass_through_and_traps_are_named() -> None:
    instance = _module().instantiate()
    with pytest.raises(HostBoom):
        instance.call("call_host", -1)
    with pytest.raises(ModuleTrapError) as err:
        instance.call("divide", 1, 0)
    assert err.value.details["function"] == "divide"
    assert "divide by zero" in err.value.details["trap"] and not err.value.details["interrupted"]
    with pytest.raises(ModuleTrapError, match="exports no function 'nope'"):
        instance.call("nope")


def test_time_bound_interrupts_a_runaway_guest() -> None:
    instance = _module(StoreLimits(max_call_seconds=0.2)).instantiate()
    started = time.monotonic()
    with pytest.raises(ModuleTrapError) as err:
        instance.call("spin")
    assert err.value.details["interrupted"] is True
    assert "time bound of 0.2 s" in err.value.message
    assert time.monotonic() - started < 5


def test_memory_ceiling() -> None:
    instance = _module(StoreLimits(max_memory_bytes=2 * 65536)).instantiate()
    assert instance.call("grow", 1) == 1
    assert instance.call("grow", 1) == -1  # beyond the ceiling: memory.grow fails inside the guest
    assert len(instance.memory()) == 2 * 65536


def test_keep_exports_and_fresh_instances() -> None:
    module = _module(keep={"memory", "call_host"})
    assert set(module.exports) == {"memory", "call_host"}
    first, second = module.instantiate(), module.instantiate()
    first.memory()[5] = 1
    assert second.memory()[5] == 0  # each instance has its own store and memory
    assert not first.has("grow")


def test_missing_import_and_bad_limits() -> None:
    with pytest.raises(ModuleLoadError, match=r"imports host\.twice, which this host does not provide"):
        CoreModule(bytes(wasmtime.wat2wasm(WAT)), "test", lambda *_: None)
    with pytest.raises(ModuleLoadError, match="must be positive"):
        _module(StoreLimits(max_memory_bytes=0))


def test_calls_from_host_functions_share_the_outer_time_bound() -> None:
    """A host function calling back into the guest does not restart the clock of the call it runs in."""
    wat = """
    (module
      (import "host" "tick" (func $tick))
      (func (export "noop"))
      (func (export "spin_with_host") (loop $l (call $tick) (br $l))))
    """
    holder: dict[str, object] = {}
    started = time.monotonic()

    def tick() -> None:
        if time.monotonic() - started > 5:
            raise HostBoom("still running after 5 s: the nested calls restarted the clock")
        holder["instance"].call("noop")  # type: ignore[attr-defined]

    module = CoreModule(
        bytes(wasmtime.wat2wasm(wat)), "nested", lambda *_: tick, limits=StoreLimits(max_call_seconds=0.3)
    )
    instance = holder["instance"] = module.instantiate()
    with pytest.raises(ModuleTrapError) as err:
        instance.call("spin_with_host")
    assert err.value.details["interrupted"] is True
