"""`fluence-dao aqua compile FILE [-o DIR]`: Aqua -> AIR files and a JSON of function signatures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fluence_dao.cli import _paths, console
from fluence_dao.cli._options import JsonOption

app = typer.Typer(help="Compile Aqua with the project's @fluencelabs/aqua-api.", no_args_is_help=True)


@app.command("compile")
def compile_cmd(
    file: Annotated[Path, typer.Argument(help="The .aqua file to compile.")],
    out: Annotated[
        Path | None, typer.Option("-o", "--out", help="Output directory (default: the file's directory).")
    ] = None,
    imports: Annotated[
        list[Path] | None, typer.Option("--import", "-m", help="Extra import directory (repeatable).")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Write <stem>.<function>.air for every exported function and <stem>.functions.json with their signatures."""
    import json as json_lib

    from fluence_dao.aqua import compile_aqua

    if out is not None:
        _paths.writable_dir(out, "--out")
    with console.status(f"compiling {file}"):
        compiled = compile_aqua(file, imports or None)
    target = out or _paths.writable_dir(compiled.file.parent, "FILE's directory (give -o DIR)")
    stem = compiled.file.stem
    functions = {}
    for name, function in sorted(compiled.functions.items()):
        air_path = target / f"{stem}.{name}.air"
        air_path.write_text(function.script)
        functions[name] = {"air": str(air_path), **function.signature()}
    signatures = target / f"{stem}.functions.json"
    signatures.write_text(
        json_lib.dumps(
            {name: {**f.signature(), "funcDef": f.func_def} for name, f in compiled.functions.items()}, indent=2
        )
    )
    for warning in compiled.warnings:
        console.info(f"warning: {warning}")
    result = {"file": str(compiled.file), "functions": functions, "signatures": str(signatures)}
    text = "\n".join(f"{name}  {f['air']}" for name, f in functions.items()) + f"\n{signatures}"
    console.emit(result, text)
