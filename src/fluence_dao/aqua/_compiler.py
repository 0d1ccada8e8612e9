"""Compile Aqua to AIR with node and @fluencelabs/aqua-api (the shipped `compile.mjs` does the call).

Results are cached in `cache_dir()/aqua/` by a hash of the compiler version, the source, every `.aqua` file it
imports (resolved the way the compiler resolves them, best effort) and the import paths, so a repeated compile
of an unchanged file costs no node start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, TypeGuard

from fluence_dao.errors import AquaCompileError, ToolNotFoundError
from fluence_dao.util import paths
from fluence_dao.util.json_types import JsonObject, JsonValue

logger = logging.getLogger(__name__)

AQUA_API_PACKAGE = "@fluencelabs/aqua-api"
_SCRIPT = Path(__file__).with_name("compile.mjs")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ERROR_LOCATION = re.compile(r"---- (?:Syntax )?[Ee]rror: (?P<file>.+?):(?P<line>\d+):(?P<column>\d+)")
_IMPORT = re.compile(r'^\s*(?:import|use)\b[^"\n]*"(?P<path>[^"]+)"', re.MULTILINE)
_SCALA_FIELD = re.compile(r"^L[\w$]*?__f_")
_COMPILE_TIMEOUT_S = 180.0


class AquaProduct(TypedDict, total=False):
    """An arrow's domain or codomain in funcDef: `labeledProduct` (fields by name) or `unlabeledProduct` (items)."""

    tag: str
    fields: dict[str, JsonObject]
    items: list[JsonObject]


class AquaArrow(TypedDict):
    domain: AquaProduct
    codomain: AquaProduct


class FuncDef(TypedDict):
    """The parts of the compiler's funcDef read here (Aqua types stay JSON)."""

    arrow: AquaArrow
    names: dict[str, str]


class _CompiledFunction(TypedDict):
    script: str
    funcDef: JsonObject  # Scala.js field names: see `normalize_scala_fields`


class _CompileResult(TypedDict):
    """One file's entry in compile.mjs's reply (and in the compile cache)."""

    filePath: str
    errors: list[str]
    warnings: list[str]
    functions: dict[str, _CompiledFunction]
    services: JsonObject


@dataclass(frozen=True)
class AquaFunction:
    """One exported Aqua function: its AIR and its signature as the compiler describes it (funcDef)."""

    name: str
    script: str
    func_def: FuncDef = field(repr=False)

    @property
    def arg_names(self) -> list[str]:
        return list(self.func_def["arrow"]["domain"].get("fields", {}).keys())

    @property
    def arg_types(self) -> dict[str, JsonObject]:
        return dict(self.func_def["arrow"]["domain"].get("fields", {}))

    @property
    def return_types(self) -> list[JsonObject]:
        codomain = self.func_def["arrow"]["codomain"]
        return list(codomain.get("items", [])) if codomain.get("tag") == "unlabeledProduct" else []

    @property
    def names(self) -> dict[str, str]:
        """Service names the generated AIR calls on the client: relay, getDataSrv, callbackSrv, ..."""
        return dict(self.func_def["names"])

    def signature(self) -> JsonObject:
        return {"name": self.name, "arguments": self.arg_types, "returns": self.return_types}


@dataclass(frozen=True)
class CompiledAqua:
    file: Path
    functions: dict[str, AquaFunction]
    warnings: list[str]

    def function(self, name: str) -> AquaFunction:
        try:
            return self.functions[name]
        except KeyError:
            exported = ", ".join(sorted(self.functions)) or "none"
            raise AquaCompileError(
                f"no exported function {name!r} in {self.file} (exported: {exported}); "
                "is it listed in the file's `export` line?",
                file=str(self.file),
                function=name,
            ) from None


def default_imports() -> list[str]:
    """Import paths every compile gets: the project's node_modules (for @fluencelabs/aqua-lib/...) and, when it
    exists, the project's `aqua/` directory (for `script.aqua` and other builtin helpers)."""
    imports = [str(paths.node_modules())]
    project_aqua = paths.project_root() / "aqua"
    if project_aqua.is_dir():
        imports.append(str(project_aqua))
    return imports


def compile_aqua(
    file: str | Path,
    imports: Sequence[str | Path] | None = None,
    *,
    constants: Sequence[str] = (),
    use_cache: bool = True,
) -> CompiledAqua:
    """Compile one .aqua file to AIR; AquaCompileError (with file and line) when the compiler rejects it."""
    return compile_many([file], imports, constants=constants, use_cache=use_cache)[0]


def compile_many(
    files: Iterable[str | Path],
    imports: Sequence[str | Path] | None = None,
    *,
    constants: Sequence[str] = (),
    use_cache: bool = True,
) -> list[CompiledAqua]:
    """Compile several files with one node process (cached ones skip the compiler)."""
    import_paths = [str(Path(p).resolve()) for p in (imports or [])] + default_imports()
    resolved = [Path(f).resolve() for f in files]
    for path in resolved:
        if not path.is_file():
            raise AquaCompileError(f"Aqua file {path} does not exist", file=str(path))
    keys = [_cache_key(path, import_paths, constants) for path in resolved]
    cache = paths.cache_dir() / "aqua"
    raw: dict[Path, _CompileResult] = {}
    missing: list[Path] = []
    for path, key in zip(resolved, keys, strict=True):
        entry = cache / f"{key}.json"
        if use_cache and entry.is_file():
            raw[path] = json.loads(entry.read_text())
        else:
            missing.append(path)
    if missing:
        for path, result in zip(missing, _run_compiler(missing, import_paths, constants), strict=True):
            raw[path] = result
    results: list[CompiledAqua] = []
    for path, key in zip(resolved, keys, strict=True):
        result = raw[path]
        if result.get("errors"):
            raise compile_error(path, result["errors"])
        if path in missing:
            cache.mkdir(parents=True, exist_ok=True)
            tmp = cache / f"{key}.json.tmp"
            tmp.write_text(json.dumps(result))
            tmp.replace(cache / f"{key}.json")
        functions = {
            name: AquaFunction(name=name, script=fn["script"], func_def=_func_def(path, name, fn["funcDef"]))
            for name, fn in result["functions"].items()
        }
        results.append(CompiledAqua(file=path, functions=functions, warnings=[_strip(w) for w in result["warnings"]]))
    return results


def _run_compiler(files: list[Path], import_paths: list[str], constants: Sequence[str]) -> list[_CompileResult]:
    node = shutil.which("node")
    if node is None:
        raise ToolNotFoundError("node is not on PATH: install Node.js 20 to compile Aqua", tool="node")
    api = paths.node_package_file(AQUA_API_PACKAGE, "index.js")
    request = {
        "apiPath": str(api),
        "files": [{"filePath": str(f), "imports": import_paths, "constants": list(constants)} for f in files],
    }
    logger.debug("compiling %d Aqua file(s) with %s", len(files), api)
    try:
        proc = subprocess.run(
            [node, str(_SCRIPT)],
            input=json.dumps(request).encode(),
            capture_output=True,
            timeout=_COMPILE_TIMEOUT_S,
            cwd=str(paths.project_root()),
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise AquaCompileError(
            f"the Aqua compiler did not finish within {_COMPILE_TIMEOUT_S:.0f} s", file=str(files[0])
        ) from err
    try:
        reply = json.loads(proc.stdout.decode() or "{}")
    except json.JSONDecodeError as err:
        raise AquaCompileError(
            f"the Aqua compiler gave no JSON (exit {proc.returncode}): {proc.stderr.decode()[-2000:]}",
            file=str(files[0]),
        ) from err
    if "fatal" in reply or "results" not in reply:
        raise AquaCompileError(
            f"the Aqua compiler crashed: {reply.get('fatal', '')[:2000]} {proc.stderr.decode()[-1000:]}",
            file=str(files[0]),
        )
    results: list[_CompileResult] = reply["results"]
    return results


def compile_error(path: Path, errors: list[str]) -> AquaCompileError:
    """Every error of the compiler as `file:line:column: message`, one a line; the first one's place as fields."""
    texts = [_strip(e).strip() for e in errors]
    located = [_located(text, path) for text in texts]  # the compiler's order: a cause before its consequences
    first = located[0]
    lines = [f"{e['file']}:{e['line']}:{e['column']}: {e['message']}" if e["line"] else e["message"] for e in located]
    count = f"{len(lines)} errors" if len(lines) > 1 else "error"
    return AquaCompileError(
        f"Aqua compile {count} in {first['file']}:\n  " + "\n  ".join(lines),
        file=first["file"],
        line=first["line"],
        column=first["column"],
        errors=located,
        compiler_text="\n".join(texts),
    )


class _Located(TypedDict):
    file: str
    line: int | None
    column: int | None
    message: str


def _located(text: str, path: Path) -> _Located:
    match = _ERROR_LOCATION.search(text)
    return {
        "file": match.group("file") if match else str(path),
        "line": int(match.group("line")) if match else None,
        "column": int(match.group("column")) if match else None,
        "message": _summary(text),
    }


def _summary(text: str) -> str:
    """The compiler's message without its source excerpt (the indented lines after the caret line)."""
    lines = [ln.strip() for ln in text.splitlines()]
    caret = next((i for i, ln in enumerate(lines) if ln and set(ln) <= {"^", "="}), None)
    tail = lines[caret + 1 :] if caret is not None else lines[1:]
    message = " ".join(" ".join(ln for ln in tail if ln).split())
    return message or text


def _strip(text: str) -> str:
    return _ANSI.sub("", text)


def normalize_scala_fields(value: JsonValue) -> JsonValue:
    """funcDef as aqua-api returns it has Scala.js field names (`Laqua_js_FunctionDefJs__f_arrow`): drop prefixes."""
    if isinstance(value, dict):
        return {_SCALA_FIELD.sub("", key): normalize_scala_fields(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalize_scala_fields(item) for item in value]
    return value


def _func_def(path: Path, name: str, raw: JsonObject) -> FuncDef:
    func_def = normalize_scala_fields(raw)
    if not _is_func_def(func_def):
        raise AquaCompileError(
            f"the Aqua compiler described {name} in {path} without an arrow or names: {str(func_def)[:200]}",
            file=str(path),
            function=name,
        )
    return func_def


def _is_func_def(value: JsonValue) -> TypeGuard[FuncDef]:
    if not isinstance(value, dict) or not isinstance(value.get("names"), dict):
        return False
    arrow = value.get("arrow")
    return isinstance(arrow, dict) and isinstance(arrow.get("domain"), dict) and isinstance(arrow.get("codomain"), dict)


def _compiler_version() -> str:
    try:
        package = paths.node_package_file(AQUA_API_PACKAGE, "package.json")
    except ToolNotFoundError:
        return "missing"
    return str(json.loads(package.read_text()).get("version", "?"))


def _cache_key(path: Path, import_paths: list[str], constants: Sequence[str]) -> str:
    digest = hashlib.sha256()
    digest.update(f"compile.mjs={hashlib.sha256(_SCRIPT.read_bytes()).hexdigest()}\n".encode())
    digest.update(f"aqua-api={_compiler_version()}\n".encode())
    digest.update(("imports=" + "\x00".join(import_paths) + "\n").encode())
    digest.update(("constants=" + "\x00".join(constants) + "\n").encode())
    seen: set[Path] = set()
    _hash_with_imports(path, import_paths, digest, seen)
    return digest.hexdigest()


def _hash_with_imports(path: Path, import_paths: list[str], digest: hashlib._Hash, seen: set[Path]) -> None:
    if path in seen:
        return
    seen.add(path)
    source = path.read_bytes()
    digest.update(f"file={path}\n".encode() + source + b"\n")
    for match in _IMPORT.finditer(source.decode("utf-8", errors="replace")):
        target = _resolve_import(match.group("path"), path.parent, import_paths)
        if target is None:
            digest.update(f"unresolved={match.group('path')}\n".encode())
        else:
            _hash_with_imports(target, import_paths, digest, seen)


def _resolve_import(name: str, base: Path, import_paths: list[str]) -> Path | None:
    candidates = [name] if name.endswith(".aqua") else [name, name + ".aqua"]
    for root in [base, *map(Path, import_paths)]:
        for candidate in candidates:
            target = (root / candidate).resolve()
            if target.is_file():
                return target
    return None
