"""Compile the project's Solidity contracts with the pinned npm `solc`.

Compilation runs `node contracts/compile.mjs` (solcjs 0.8.28 from node_modules, ~3 s) and caches the
{abi, bytecode} JSON by source hash, so tests and `devnet up` compile from source instead of using committed
artifacts.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import TypedDict

from fluence_dao.errors import BuildError, ToolNotFoundError
from fluence_dao.util.json_types import JsonObject
from fluence_dao.util.paths import cache_dir, project_root


class ContractArtifact(TypedDict):
    """A compiled contract: its ABI (JSON entries) and creation bytecode (0x-hex)."""

    abi: list[JsonObject]
    bytecode: str


def compile_contracts(*sources: Path | str) -> dict[str, ContractArtifact]:
    """Compile Solidity files; returns {contract name: {"abi": [...], "bytecode": "0x..."}} (cached)."""
    paths = [Path(s).resolve() for s in sources]
    digest = hashlib.sha256((project_root() / "contracts" / "compile.mjs").read_bytes())
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    out_dir = cache_dir() / "solc" / digest.hexdigest()[:24]
    if not out_dir.is_dir() or not any(out_dir.glob("*.json")):
        node = shutil.which("node")
        if node is None:
            raise ToolNotFoundError("node is not on PATH: install Node.js 20+ to compile contracts", tool="node")
        root = project_root()
        tmp = out_dir.with_suffix(".tmp")
        proc = subprocess.run(
            [node, str(root / "contracts" / "compile.mjs"), str(tmp), *map(str, paths)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            raise BuildError(f"solc failed for {', '.join(p.name for p in paths)}:\n{proc.stderr.strip()}")
        shutil.rmtree(out_dir, ignore_errors=True)
        tmp.rename(out_dir)
    return {p.stem: json.loads(p.read_text()) for p in out_dir.glob("*.json")}
