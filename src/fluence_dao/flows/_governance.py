"""Governance writes: send them with the governance key, or write them as a Safe Transaction Builder batch.

A DAO usually cannot hand its key to a CI job. With `--propose FILE`, every write a flow would send becomes an
unsigned transaction in the JSON format Safe's Transaction Builder imports; the DAO executes the batch, and
running the flow again continues where it stopped, because each flow compares the chain's state with the
desired state before writing.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from fluence_dao.eth import TxRequest
from fluence_dao.flows._context import FlowContext
from fluence_dao.util.json_types import JsonObject

SAFE_TX_BUILDER_VERSION = "1.16.5"


@dataclass
class GovernanceWrite:
    """One write: what it does, and its transaction hash (sent) or None (proposed)."""

    description: str
    to: str
    data: str
    value: int = 0
    tx_hash: str | None = None

    def to_dict(self) -> JsonObject:
        return {"description": self.description, "to": self.to, "data": self.data, "value": str(self.value),
                "tx_hash": self.tx_hash}  # fmt: skip


@dataclass
class Governance:
    """Sends writes through the governance signer, or collects them for a proposal when `propose_to` is set."""

    context: FlowContext
    propose_to: Path | None = None
    writes: list[GovernanceWrite] = field(default_factory=list)

    @property
    def proposing(self) -> bool:
        return self.propose_to is not None

    def submit(self, request: TxRequest, description: str, *, value: int = 0) -> GovernanceWrite:
        write = GovernanceWrite(description, request.to, "0x" + request.data.hex(), value)
        if not self.proposing:
            receipt = self.context.governance.send_and_wait(request.to, request.data, value=value)
            write.tx_hash = receipt.tx_hash
        self.writes.append(write)
        return write

    def transfer(self, to: str, value_wei: int, description: str) -> GovernanceWrite:
        write = GovernanceWrite(description, to, "0x", value_wei)
        if not self.proposing:
            write.tx_hash = self.context.governance.transfer(to, value_wei).tx_hash
        self.writes.append(write)
        return write

    def finish(self, name: str) -> Path | None:
        """Write the proposal file (when proposing and there is anything to propose); return its path."""
        if self.propose_to is None or not self.writes:
            return None
        batch = safe_batch(self.context.chain_id, name, self.writes)
        self.propose_to.parent.mkdir(parents=True, exist_ok=True)
        self.propose_to.write_text(json.dumps(batch, indent=2) + "\n")
        return self.propose_to


def safe_batch(chain_id: int, name: str, writes: list[GovernanceWrite]) -> JsonObject:
    """A Safe Transaction Builder batch (the JSON its 'Load' button imports)."""
    transactions = [
        {"to": w.to, "value": str(w.value), "data": w.data, "contractMethod": None, "contractInputsValues": None}
        for w in writes
    ]
    meta: JsonObject = {
        "name": name,
        "description": "; ".join(w.description for w in writes),
        "txBuilderVersion": SAFE_TX_BUILDER_VERSION,
        "createdFromSafeAddress": "",
        "createdFromOwnerAddress": "",
    }
    batch: JsonObject = {
        "version": "1.0",
        "chainId": str(chain_id),
        "createdAt": int(time.time() * 1000),
        "meta": meta,
        "transactions": transactions,
    }
    meta["checksum"] = "0x" + hashlib.sha256(json.dumps(transactions, sort_keys=True).encode()).hexdigest()
    return batch
