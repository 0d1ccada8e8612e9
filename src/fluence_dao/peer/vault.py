"""The particle vault: one directory per particle under `<state>/vault/`, removed when the particle expires.

Services see the whole vault root at `/tmp/vault` (a WASI mapped dir); builtins name files by their virtual
path `/tmp/vault/<particle id>/<name>`. Paths that leave the particle's directory are refused.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path, PurePosixPath

from fluence_dao.peer.calls import BuiltinError
from fluence_dao.peer.particle import Particle

VIRTUAL_ROOT = PurePosixPath("/tmp/vault")


class ParticleVault:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def particle_dir(self, particle: Particle) -> Path:
        safe = particle.id.replace("/", "_")
        return self.root / safe

    def put(self, particle: Particle, data: bytes, name: str | None = None) -> str:
        directory = self.particle_dir(particle)
        directory.mkdir(parents=True, exist_ok=True)
        filename = name or str(uuid.uuid4())
        (directory / filename).write_bytes(data)
        return str(VIRTUAL_ROOT / directory.name / filename)

    def resolve(self, particle: Particle, path: str) -> Path:
        directory = self.particle_dir(particle).resolve()
        virtual = PurePosixPath(path)
        prefix = VIRTUAL_ROOT / directory.name
        if virtual.is_absolute():
            try:
                relative = virtual.relative_to(prefix)
            except ValueError:
                raise BuiltinError(f"Error reading vault file `{path}`: not in this particle's vault") from None
        else:
            relative = virtual
        real = (directory / str(relative)).resolve()
        if directory not in real.parents and real != directory:
            raise BuiltinError(f"Error reading vault file `{path}`: not in this particle's vault")
        return real

    def read_bytes(self, particle: Particle, path: str) -> bytes:
        real = self.resolve(particle, path)
        if not real.is_file():
            raise BuiltinError(f"Error reading vault file `{path}`")
        return real.read_bytes()

    def cleanup(self, particle_id: str) -> None:
        shutil.rmtree(self.root / particle_id.replace("/", "_"), ignore_errors=True)
