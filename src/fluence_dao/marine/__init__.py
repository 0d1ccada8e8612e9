"""The wasmtime host for Marine-ABI modules ("the harness").

`MarineModule.load(wasm, ModuleConfig(...))` loads one module (compiled once, cached on disk) and
`module.call(fn, args, call_parameters=...)` calls it with Python values; `MarineService` links several
modules by import namespace, as Marine does, and calls the facade (the last module).
"""

from fluence_dao.marine._config import (
    BinaryResult,
    CallParameters,
    HostBinary,
    ModuleConfig,
    ParticleParameters,
    SecurityTetraplet,
)
from fluence_dao.marine._sections import (
    Argument,
    FunctionSignature,
    ImportSignature,
    ModuleInterface,
    MType,
    RecordField,
    RecordType,
    parse_interface,
)
from fluence_dao.marine.module import MarineModule, describe_module
from fluence_dao.marine.service import MarineService

__all__ = [
    "Argument",
    "BinaryResult",
    "CallParameters",
    "FunctionSignature",
    "HostBinary",
    "ImportSignature",
    "MType",
    "MarineModule",
    "MarineService",
    "ModuleConfig",
    "ModuleInterface",
    "ParticleParameters",
    "RecordField",
    "RecordType",
    "SecurityTetraplet",
    "describe_module",
    "parse_interface",
]
