"""Zig toolchain for Marine-ABI modules: wasm/<module>/{interface.toml, main.zig} -> target/wasm/<module>.wasm.

`build_native()` builds the host's native libraries (native/ -> target/native/, see _native.py).
`build_modules()` compiles with Zig from PyPI (`ziglang`), generates the ABI glue from interface.toml
(wasm/lib/marine.zig holds the guest-side runtime and documents the memory rules), and appends the custom
sections Fluence runtimes read: `__m_generated_section__*` JSON, `__fluence_sdk_version` and `interface-types`.
"""

from fluence_dao.build._builder import (
    SDK_VERSION,
    BuiltModule,
    add_sections,
    build_module,
    build_modules,
    check_sources,
    default_out_dir,
    discover_modules,
    linked_cache_key,
    wasm_function_exports,
    wasm_source_dir,
    write_glue,
    zig_build_args,
    zig_command,
    zig_test,
)
from fluence_dao.build._interface import interface_zig, load_interface, parse_interface, parse_rust_type, root_zig
from fluence_dao.build._interface_types import generate_interface_types
from fluence_dao.build._native import (
    NATIVE_LIBRARIES,
    BuiltNative,
    build_native,
    native_out_dir,
    native_supported_host,
)
from fluence_dao.util.marine_interface import ModuleInterface

__all__ = [
    "NATIVE_LIBRARIES",
    "SDK_VERSION",
    "BuiltModule",
    "BuiltNative",
    "ModuleInterface",
    "add_sections",
    "build_module",
    "build_modules",
    "build_native",
    "check_sources",
    "default_out_dir",
    "discover_modules",
    "generate_interface_types",
    "interface_zig",
    "linked_cache_key",
    "load_interface",
    "native_out_dir",
    "native_supported_host",
    "parse_interface",
    "parse_rust_type",
    "root_zig",
    "wasm_function_exports",
    "wasm_source_dir",
    "write_glue",
    "zig_build_args",
    "zig_command",
    "zig_test",
]
