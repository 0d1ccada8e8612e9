"""Build a subgraph from source with the project's graph-cli: `graph codegen && graph build` (offline)."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

from fluence_dao.errors import BuildError, ToolNotFoundError
from fluence_dao.util.paths import node_modules

log = logging.getLogger(__name__)


def graph_cli() -> Path:
    path = node_modules() / ".bin" / "graph"
    if not path.exists():
        raise ToolNotFoundError(
            f"graph-cli not found at {path}: run `npm ci` (it is a devDependency, @graphprotocol/graph-cli)",
            tool="graph",
        )
    return path


def build_subgraph(directory: Path | str, timeout_s: float = 600.0) -> Path:
    """Run codegen and build in `directory` (which holds subgraph.yaml); returns `directory/build`."""
    directory = Path(directory).resolve()
    if not (directory / "subgraph.yaml").is_file():
        raise BuildError(f"no subgraph.yaml in {directory}", path=str(directory))
    graph = graph_cli()
    for step in ("codegen", "build"):
        log.info("graph %s in %s", step, directory)
        started = time.monotonic()
        try:
            proc = subprocess.run(
                [str(graph), step], cwd=directory, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired as err:
            raise BuildError(f"`graph {step}` in {directory} timed out after {timeout_s} s") from err
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            raise BuildError(f"`graph {step}` failed in {directory}:\n{tail}", path=str(directory), step=step)
        log.info("graph %s done in %.1f s", step, time.monotonic() - started)
    return directory / "build"
