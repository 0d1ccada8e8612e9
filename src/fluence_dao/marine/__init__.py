"""The wasmtime host for Marine-ABI modules ("the harness").

`MarineModule.load(wasm, ModuleConfig(...))` loads one module (compiled once, cached on disk) and
`module.call(fn, args, call_parameters=...)` calls it with Python values; `MarineService` links several
modules by import namespace, as Marine does, and calls the facade (the last module).
"""

from fluence_dao.marine._abi import GuestMemory, Lifter, Lowerer, scalar_from_wasm, scalar_to_wasm
from fluence_dao.marine._config import (
    BinaryResult,
    CallParameters,
    HostBinary,
    ModuleConfig,
    ParticleParameters,
    SecurityTetraplet,
)
from fluence_dao.marine._engine import alternative_engine, forget_compiled_modules, wasmtime_version
from fluence_dao.marine._fastcall import CoreFunc, MemoryView
from fluence_dao.marine.module import MarineModule, ModuleDescription, describe_module
from fluence_dao.marine.service import MarineService
from fluence_dao.util.marine_interface import (
    Argument,
    FunctionSignature,
    ImportSignature,
    MarineValue,
    ModuleInterface,
    MType,
    RecordField,
    RecordType,
    parse_interface,
)

__all__ = [
    "Argument",
    "BinaryResult",
    "CallParameters",
    "CoreFunc",
    "FunctionSignature",
    "GuestMemory",
    "HostBinary",
    "ImportSignature",
    "Lifter",
    "Lowerer",
    "MType",
    "MarineModule",
    "MarineService",
    "MarineValue",
    "MemoryView",
    "ModuleConfig",
    "ModuleDescription",
    "ModuleInterface",
    "ParticleParameters",
    "RecordField",
    "RecordType",
    "SecurityTetraplet",
    "alternative_engine",
    "describe_module",
    "forget_compiled_modules",
    "parse_interface",
    "scalar_from_wasm",
    "scalar_to_wasm",
    "wasmtime_version",
]
