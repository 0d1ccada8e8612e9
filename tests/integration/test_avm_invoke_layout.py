"""AquaVM's fixed-layout invoke (MarineModule.call_lowered) gives exactly what the generic Marine call gives."""

from __future__ import annotations

import os

import pytest

from fluence_dao.errors import AbiError, AvmError
from fluence_dao.peer.avm import AquaVM, CallResult, InterpreterOutcome, RunParameters
from fluence_dao.peer.particle import KeyPair, now_ms
from fluence_dao.util import paths

pytestmark = pytest.mark.integration

SCRIPT = """
(seq
    (seq
        (call %init_peer_id% ("svc" "first") ["a" 1] x)
        (call %init_peer_id% ("svc" "second") [x] y))
    (seq
        (call "{other}" ("op" "noop") [y])
        (call %init_peer_id% ("svc" "last") [y])))
"""


@pytest.fixture(scope="module")
def machines() -> tuple[AquaVM, AquaVM]:
    if not paths.avm_wasm_path().is_file():
        if os.environ.get("CI"):
            pytest.fail("avm.wasm missing in CI: run `npm ci`")
        pytest.skip("avm.wasm missing: run `npm ci`")
    fixed, generic = AquaVM(), AquaVM()
    generic._fixed_layout = False
    return fixed, generic


def _params(key: KeyPair, particle_id: str, timestamp: int, **limits: object) -> RunParameters:
    return RunParameters(
        init_peer_id=key.peer_id,
        current_peer_id=key.peer_id,
        timestamp_ms=timestamp,
        ttl_ms=60_000,
        particle_id=particle_id,
        secret_key_bytes=key.secret_seed(),
        **limits,  # type: ignore[arg-type]
    )


def _same(a: InterpreterOutcome, b: InterpreterOutcome) -> None:
    assert (a.ret_code, a.error_message, a.next_peer_pks, a.call_requests, a.limits_exceeded) == (
        b.ret_code,
        b.error_message,
        b.next_peer_pks,
        b.call_requests,
        b.limits_exceeded,
    )
    # AquaVM's data is the same up to the order of its hash maps (seeded per instance from random_get)
    assert len(a.data) == len(b.data)


def test_the_shipped_avm_takes_the_fixed_layout(machines: tuple[AquaVM, AquaVM]) -> None:
    fixed, generic = machines
    assert fixed._fixed_layout and not generic._fixed_layout


def test_a_whole_particle_gives_the_same_outcomes(machines: tuple[AquaVM, AquaVM]) -> None:
    fixed, generic = machines
    key, other = KeyPair.generate(), KeyPair.generate()
    script = SCRIPT.format(other=other.peer_id)
    params = _params(key, "particle-1", now_ms())
    prev, results = b"", {}
    steps = []
    for _ in range(6):
        a = fixed.invoke(script, prev, b"", params, results)
        b = generic.invoke(script, prev, b"", params, results)
        _same(a, b)
        if results:  # each one continues from the other's data as from its own
            _same(fixed.invoke(script, b.data, b"", params), generic.invoke(script, a.data, b"", params))
        steps.append(a)
        prev = a.data
        results = {cid: CallResult(0, f"{req.function_name}-result") for cid, req in a.call_requests.items()}
        if not results:
            break
    assert [next(iter(s.call_requests.values())).function_name for s in steps[:2]] == ["first", "second"]
    assert steps[1].call_requests[next(iter(steps[1].call_requests))].arguments == ["first-result"]
    assert steps[2].next_peer_pks == [other.peer_id]  # the hop to the other peer


def test_errors_and_limits_give_the_same_outcomes(machines: tuple[AquaVM, AquaVM]) -> None:
    fixed, generic = machines
    key = KeyPair.generate()
    params = _params(key, "particle-2", now_ms())
    _same(fixed.invoke("(seq (null)", b"", b"", params), generic.invoke("(seq (null)", b"", b"", params))
    for hard in (True, False):
        limited = _params(key, "particle-3", now_ms(), air_size_limit=10, hard_limit_enabled=hard)
        a = fixed.invoke(SCRIPT.format(other=key.peer_id), b"", b"", limited)
        _same(a, generic.invoke(SCRIPT.format(other=key.peer_id), b"", b"", limited))
        assert (a.ret_code != 0, a.limits_exceeded[0]) == (hard, not hard)
    _same(fixed.invoke("(null)", b"not data", b"", params), generic.invoke("(null)", b"not data", b"", params))


def test_a_number_out_of_range_is_refused_and_the_vm_goes_on(machines: tuple[AquaVM, AquaVM]) -> None:
    fixed, _ = machines
    key = KeyPair.generate()
    bad = _params(key, "particle-4", 2**64)
    with pytest.raises(AvmError, match="timestamp") as caught:
        fixed.invoke("(null)", b"", b"", bad)
    assert isinstance(caught.value.__cause__, AbiError)
    assert fixed.invoke("(null)", b"", b"", _params(key, "particle-5", now_ms())).ret_code == 0
