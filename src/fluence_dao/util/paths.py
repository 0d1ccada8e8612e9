"""Where things live: the project root (for node_modules and wasm/), and the state dir."""

from __future__ import annotations

import os
from pathlib import Path

from fluence_dao.errors import ToolNotFoundError

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def project_root() -> Path:
    """The checkout that holds package.json / node_modules (FLUENCE_DAO_PROJECT_ROOT overrides)."""
    env = os.environ.get("FLUENCE_DAO_PROJECT_ROOT")
    if env:
        return Path(env).resolve()
    for candidate in (Path.cwd(), *Path.cwd().parents, PACKAGE_DIR, *PACKAGE_DIR.parents):
        if (candidate / "package.json").is_file() and (candidate / "pyproject.toml").is_file():
            return candidate
    return PACKAGE_DIR.parent.parent


def node_modules() -> Path:
    return project_root() / "node_modules"


def node_package_file(package: str, relative: str) -> Path:
    """A file shipped inside an npm package, with a clear error when `npm ci` was not run."""
    path = node_modules() / package / relative
    if not path.exists():
        raise ToolNotFoundError(
            f"{package}/{relative} not found under {node_modules()}: run `npm ci` in the project root",
            package=package,
            path=str(path),
        )
    return path


def avm_wasm_path() -> Path:
    return node_package_file("@fluencelabs/avm", "dist/avm.wasm")


def cache_dir() -> Path:
    """A cache for compiled wasm, compiled AIR and build outputs (FLUENCE_DAO_CACHE_DIR overrides)."""
    env = os.environ.get("FLUENCE_DAO_CACHE_DIR")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fluence-dao"
    base.mkdir(parents=True, exist_ok=True)
    return base
