"""The public surface of `fluence_dao.eth` and `fluence_dao.devnet`: sorted `__all__`, every name importable."""

from __future__ import annotations

import importlib

import pytest


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("module_name", ["fluence_dao.eth", "fluence_dao.devnet", "fluence_dao.config"])
def test_all_is_sorted_and_complete(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key)
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == []
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", "").startswith(module_name + "._")
    }
    assert public <= set(exported), f"public names not in __all__: {sorted(public - set(exported))}"
