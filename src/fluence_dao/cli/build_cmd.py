"""`fluence-dao build [MODULE...]`: compile the Zig modules of wasm/ into Marine-ABI wasm files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fluence_dao.cli import _output
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

    Prints module, path, size and sha256 of each; progress goes to stderr.
    """
    from fluence_dao.build import build_modules

    built = build_modules(modules or None, out, progress=_output.info)
    rows = [m.to_dict() for m in built]
    width = max((len(m.name) for m in built), default=0)
    text = "\n".join(f"{m.name:<{width}}  {m.size:>8}  {m.sha256}  {m.path}" for m in built)
    _output.emit({"modules": rows}, text)
