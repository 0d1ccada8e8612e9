"""Where a peer's files live under a state dir (a leaf of `peer`: the daemon writes them, clients read them)."""

from __future__ import annotations

from pathlib import Path


def peer_dir(state_dir: Path) -> Path:
    return state_dir / "peer"


def client_key_path(state_dir: Path) -> Path:
    """The CLI client's identity (an ed25519 seed, base64, mode 0600): the default management key."""
    return state_dir / "client" / "key"


def daemon_file(state_dir: Path) -> Path:
    """Written while the daemon runs: its address, peer id and pid (no secrets)."""
    return peer_dir(state_dir) / "daemon.json"
