"""`fluence-dao build [MODULE...]`: compile the Zig modules of wasm/ into Marine-ABI wasm files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fluence_dao.cli import _paths, console
from fluence_dao.cli._options import JsonOption

app = typer.Typer()


@app.command("build")
def build(
    modules: Annotated[
        list[str] | None, typer.Argument(help="Modules to build (directories of wasm/); all when omitted.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output directory (default: target/wasm in the project).")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Build wasm/<module>/ (interface.toml + main.zig) with Zig into <out>/<module>.wasm.

    Without MODULES, also the host's native libraries (native/ -> target/native/, x86-64 Linux only).
    Prints module, path, size and sha256 of each; progress goes to stderr.
    """
    from fluence_dao.build import build_modules, build_native  # lazy: importlib.metadata etc. cost ~90 ms of start-up

    if out is not None:
        _paths.writable_dir(out, "--out")
    built = build_modules(modules or None, out, progress=console.info)
    native = [] if modules else build_native(progress=console.info)
    rows = [m.to_dict() for m in built]
    listed = [(m.name, m.size, m.sha256, m.path) for m in built] + [(n.name, n.size, n.sha256, n.path) for n in native]
    width = max((len(name) for name, *_ in listed), default=0)
    lines = [f"{name:<{width}}  {size:>8}  {sha256}  {path}" for name, size, sha256, path in listed]
    console.emit({"modules": rows, "native": [n.to_dict() for n in native]}, "\n".join(lines))
