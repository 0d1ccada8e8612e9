"""The devnet's state dir: `<state_dir>/devnet/` holds devnet.json, pid files, logs and anvil's chain state."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluence_dao.errors import DevnetError

STATE_VERSION = 1


@dataclass(frozen=True)
class DevnetPaths:
    root: Path

    @classmethod
    def under(cls, state_dir: Path) -> DevnetPaths:
        return cls(state_dir / "devnet")

    @property
    def info_file(self) -> Path:
        return self.root / "devnet.json"

    @property
    def anvil_state(self) -> Path:
        return self.root / "anvil-state.json"

    def pid_file(self, process: str) -> Path:
        return self.root / f"{process}.pid"

    def log_file(self, process: str) -> Path:
        return self.root / f"{process}.log"


def read_info(paths: DevnetPaths) -> dict[str, Any] | None:
    """devnet.json, or None when the devnet was never brought up here."""
    try:
        data = json.loads(paths.info_file.read_text())
    except FileNotFoundError:
        return None
    except ValueError as err:
        raise DevnetError(f"{paths.info_file} is not valid JSON ({err}); remove it and run `devnet up`") from err
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise DevnetError(
            f"{paths.info_file} has version {data.get('version') if isinstance(data, dict) else '?'}, "
            f"expected {STATE_VERSION}; run `fluence-dao devnet down --reset`",
            path=str(paths.info_file),
        )
    return data


def write_info(paths: DevnetPaths, info: dict[str, Any]) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    tmp = paths.info_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({**info, "version": STATE_VERSION}, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, paths.info_file)
