"""Zig toolchain for Marine-ABI modules: wasm/<module>/{interface.toml, main.zig} -> target/wasm/<module>.wasm.

`build_native()` builds the host's native libraries (native/ -> target/native/, see _native.py).
`build_modules()` compiles with Zig from PyPI (`ziglang`), generates the ABI glue from interface.toml
(wasm/lib/marine.zig holds the guest-side runtime and documents the memory rules), and appends the custom
sections Fluence runtimes read: `__m_generated_section__*` JSON, `__fluence_sdk_version` and `interface-types`.
"""

from fluence_dao.build._builder import (
    SDK_VERSION,
    BuiltModule,
    build_module,
    build_modules,
    default_out_dir,
    discover_modules,
    wasm_function_exports,
    wasm_source_dir,
    zig_test,
)
from fluence_dao.build._interface import (
    BUILTIN_RECORDS,
    ModuleInterface,
    load_interface,
    parse_interface,
    parse_type,
)
from fluence_dao.build._interface_types import generate_interface_types
from fluence_dao.build._native import NATIVE_LIBRARIES, BuiltNative, build_native, native_out_dir

__all__ = [
    "BUILTIN_RECORDS",
    "NATIVE_LIBRARIES",
    "SDK_VERSION",
    "BuiltModule",
    "BuiltNative",
    "ModuleInterface",
    "build_module",
    "build_modules",
    "build_native",
    "default_out_dir",
    "discover_modules",
    "generate_interface_types",
    "load_interface",
    "native_out_dir",
    "parse_interface",
    "parse_type",
    "wasm_function_exports",
    "wasm_source_dir",
    "zig_test",
]
