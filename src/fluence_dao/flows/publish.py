"""`publish`: put the governed code on IPFS and its CIDs in ENS.

Builds the service modules (Zig, reproducibly), compiles the interval Aqua to AIR, adds each to IPFS and has
governance write `wasm.<module>` and `air.interval` text records on the project name. Idempotent: a record that
already holds the right CID is not written again, so re-running after a DAO executed a proposed batch
continues where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fluence_dao.aqua import compile_aqua
from fluence_dao.build import build_modules
from fluence_dao.flows._context import AIR_INTERVAL_KEY, WASM_MODULES, FlowContext
from fluence_dao.flows._governance import Governance, GovernanceWrite
from fluence_dao.util.json_types import JsonObject, to_json_object
from fluence_dao.util.paths import project_root

logger = logging.getLogger(__name__)

INTERVAL_AQUA = "interval.aqua"
INTERVAL_FUNCTION = "interval_run"


@dataclass
class PublishedArtifact:
    name: str
    key: str
    cid: str
    size: int
    previous: str
    write: GovernanceWrite | None

    @property
    def changed(self) -> bool:
        return self.write is not None

    def to_dict(self) -> JsonObject:
        tx_hash = None if self.write is None else self.write.tx_hash
        return {**to_json_object(self, exclude={"write"}), "changed": self.changed, "tx_hash": tx_hash}


@dataclass
class PublishResult:
    project_name: str
    artifacts: list[PublishedArtifact] = field(default_factory=list)
    proposal: Path | None = None

    def to_dict(self) -> JsonObject:
        return {**to_json_object(self, exclude={"artifacts"}), "artifacts": [a.to_dict() for a in self.artifacts]}


def interval_air() -> str:
    """The AIR of the interval loop, compiled from aqua/interval.aqua (cached by source hash)."""
    return compile_aqua(project_root() / "aqua" / INTERVAL_AQUA).function(INTERVAL_FUNCTION).script


def publish(
    context: FlowContext,
    *,
    modules: tuple[str, ...] = WASM_MODULES,
    propose_to: Path | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> PublishResult:
    """Build, add to IPFS and record in ENS every governed artifact. See the module docstring."""
    project = context.settings.ens.project_name
    governance = Governance(context, propose_to)
    result = PublishResult(project)

    progress(f"building {', '.join(modules)}")
    artifacts: list[tuple[str, str, bytes]] = [
        (built.name, context.record_key(built.name), built.read_bytes())
        for built in build_modules(list(modules), progress=progress)
    ]
    progress("compiling the interval AIR")
    artifacts.append(("interval", AIR_INTERVAL_KEY, interval_air().encode()))

    for name, key, data in artifacts:
        cid = str(context.ipfs.add_bytes(data, name=name, pin=True).cid)
        previous = context.ens.text(project, key)
        write = None
        if previous != cid:
            progress(f"{key} = {cid}")
            write = governance.submit(context.ens.set_text_request(project, key, cid), f"set {key} on {project}")
        else:
            progress(f"{key} is already {cid}")
        result.artifacts.append(PublishedArtifact(name, key, cid, len(data), previous, write))
    result.proposal = governance.finish(f"fluence-dao publish on {project}")
    return result
