"""The public surface of fluence_dao.marine: a sorted __all__ of names that exist (httpx's check)."""

from __future__ import annotations

import fluence_dao.marine as marine

CONTRACT = {
    "MarineModule", "MarineService", "ModuleConfig", "CallParameters", "ParticleParameters", "SecurityTetraplet",
    "ModuleInterface", "FunctionSignature", "RecordType",
}  # fmt: skip


def test_all_is_sorted_and_complete() -> None:
    assert marine.__all__ == sorted(marine.__all__)
    assert all(hasattr(marine, name) for name in marine.__all__)
    assert set(marine.__all__) >= CONTRACT
