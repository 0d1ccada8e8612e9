"""Owner-only permissions for the state dir: it holds keys, the IPFS API token, chain state and logs.

New files are private through the umask (077, set by the CLI entry point, the daemon and `Devnet.up`); this
module fixes what an older version left world-readable. Only the state dir itself and the trees fluence-dao
writes into it (STATE_SUBDIRS) are touched, never other entries: the state dir may sit among the user's files.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077

#: What fluence-dao creates under the state dir: the devnet's pids, logs and chain state; the peer daemon's key,
#: vault and modules; the CLI client's key; the IPFS repo and its API token; subgraph databases; the demo.
STATE_SUBDIRS = ("devnet", "peer", "client", "ipfs", "subgraph", "demo")


def _tighten(path: Path, changed: list[str]) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
        return  # never follow a link out of the tree, never touch what is not ours
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        try:
            os.chmod(path, mode & 0o700, follow_symlinks=False)
        except (NotImplementedError, OSError) as err:  # e.g. a read-only file system
            log.warning("cannot remove group/other access from %s: %s", path, err)
            return
        changed.append(f"{path} ({mode:o} -> {mode & 0o700:o})")


def secure_state_dir(state_dir: Path) -> list[str]:
    """Create `state_dir` (0700) if missing; remove group and other permission bits from it and from every file
    and dir under STATE_SUBDIRS. Returns the paths changed ("path (old -> new)"), logged as a warning."""
    state_dir = Path(state_dir)
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    changed: list[str] = []
    _tighten(state_dir, changed)
    for name in STATE_SUBDIRS:
        top = state_dir / name
        if top.is_symlink() or not top.exists():
            continue
        _tighten(top, changed)
        for root, dirs, files in os.walk(top):  # os.walk does not descend into symlinked dirs
            for entry in (*dirs, *files):
                _tighten(Path(root) / entry, changed)
    if changed:
        shown = ", ".join(changed[:10]) + (f", and {len(changed) - 10} more" if len(changed) > 10 else "")
        log.warning(
            "removed group/other access from %d path(s) under %s (keys, tokens, logs are private): %s",
            len(changed),
            state_dir,
            shown,
        )
    return changed
