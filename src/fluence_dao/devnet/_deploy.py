"""Deploy ENS (registry + public resolver) from the npm build artifacts and register the project's names."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from eth_abi.abi import encode

from fluence_dao.errors import DevnetError
from fluence_dao.eth import ZERO_ADDRESS, EnsClient, TxSender, split_name
from fluence_dao.util.json_types import JsonObject
from fluence_dao.util.paths import node_package_file

log = logging.getLogger(__name__)

REGISTRY_ARTIFACT = ("@ensdomains/ens", "build/contracts/ENSRegistry.json")
RESOLVER_ARTIFACT = ("@ensdomains/resolver", "build/contracts/PublicResolver.json")


@dataclass(frozen=True)
class EnsDeployment:
    registry: str
    public_resolver: str


def load_artifact(package: str, relative: str) -> tuple[list[JsonObject], bytes]:
    """(abi, creation bytecode) of a truffle build artifact shipped in an npm package."""
    path: Path = node_package_file(package, relative)
    try:
        artifact = json.loads(path.read_text())
        bytecode = str(artifact["bytecode"])
        code = bytes.fromhex(bytecode[2:] if bytecode.startswith("0x") else bytecode)
    except (ValueError, KeyError) as err:
        raise DevnetError(f"{path} is not a truffle artifact with bytecode: {err}", path=str(path)) from err
    if not code:
        raise DevnetError(f"{path} has empty bytecode (an interface, not a contract)", path=str(path))
    return list(artifact["abi"]), code


def deploy_ens(sender: TxSender) -> EnsDeployment:
    """Deploy ENSRegistry (the sender owns the root node) and PublicResolver(registry)."""
    _, registry_code = load_artifact(*REGISTRY_ARTIFACT)
    receipt = sender.send_and_wait(None, registry_code, what="deploy ENSRegistry")
    registry = receipt.contract_address
    if registry is None:
        raise DevnetError(f"deploying ENSRegistry gave no contract address (tx {receipt.tx_hash})")
    _, resolver_code = load_artifact(*RESOLVER_ARTIFACT)
    receipt = sender.send_and_wait(None, resolver_code + encode(["address"], [registry]), what="deploy PublicResolver")
    resolver = receipt.contract_address
    if resolver is None:
        raise DevnetError(f"deploying PublicResolver gave no contract address (tx {receipt.tx_hash})")
    log.info("ENS deployed: registry %s, public resolver %s", registry, resolver)
    return EnsDeployment(registry=registry, public_resolver=resolver)


def ensure_name(ens: EnsClient, name: str, resolver: str, sender: TxSender) -> bool:
    """Register `name` (and any missing parent) to the sender with `resolver`, unless someone owns it already.

    A name that has an owner is left alone, so a later owner change (alpha moved to the signer) survives
    `devnet up`. Returns whether anything was registered. Top-level names get no resolver.
    """
    if int(ens.owner(name), 16) != 0:
        return False
    label, parent = split_name(name)
    if parent:
        ensure_name(ens, parent, resolver, sender)
        parent_owner = ens.owner(parent)
        if parent_owner.lower() != sender.address.lower():
            raise DevnetError(
                f"cannot register {name}: its parent {parent} is owned by {parent_owner}, not {sender.address}",
                name=name,
            )
        ens.set_subnode_record(parent, label, sender.address, resolver, sender)
    else:
        ens.set_subnode_owner("", label, sender.address, sender)
    log.info("registered %s to %s", name, sender.address)
    return True


__all__ = ["ZERO_ADDRESS", "EnsDeployment", "deploy_ens", "ensure_name", "load_artifact"]
