"""The signer's and ens module's interface.toml: every function returns a {success, error, value} record and
is documented in the module's README with its arguments (no subprocess: the wasm is tested in integration)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fluence_dao.build import load_interface

WASM = Path(__file__).resolve().parents[3] / "wasm"
SIGNER_FUNCTIONS = {"initiate", "address", "sign_tx", "sign_message", "authorize", "revoke"}


@pytest.mark.parametrize("module", ["signer", "ens"])
def test_every_function_returns_a_result_record_and_is_documented(module: str) -> None:
    interface = load_interface(WASM / module / "interface.toml", module)
    readme = (WASM / module / "README.md").read_text()
    records = interface.records
    assert interface.functions
    for fn in interface.functions.values():
        assert fn.output is not None and fn.output.kind == "Record", fn.name
        record = records[str(fn.output.record)]
        assert [f.name for f in record.fields] == ["success", "error", "value"], record.name
        assert [f.ty.describe() for f in record.fields][:2] == ["bool", "String"]
        documented = re.search(rf"\b{fn.name}\(([^)]*)\)", readme)
        assert documented, f"{fn.name} is not documented in wasm/{module}/README.md"
        documented_args = [a.split(":")[0].strip() for a in documented.group(1).split(",") if a.strip()]
        assert documented_args == [a.name for a in fn.arguments], fn.name


def test_signer_exports_nothing_but_its_documented_functions() -> None:
    interface = load_interface(WASM / "signer" / "interface.toml", "signer")
    assert set(interface.functions) == SIGNER_FUNCTIONS
    assert not interface.imports
