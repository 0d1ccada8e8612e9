"""ENS names on any chain with an ENS registry: owners, resolvers, text and addr records.

Reads go registry `resolver(node)` -> the resolver's `text`/`addr` directly, which works on every chain
(web3 8's `ENS` class needs a UniversalResolver that a devnet does not have). Names are normalised and hashed
with web3's `ens.utils`, so namehashes agree with web3.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fluence_dao.errors import EnsError, TransactionFailedError
from fluence_dao.eth._abi import RESOLVER_ABI, registry_abi
from fluence_dao.eth._client import EthClient, TxReceipt, to_checksum
from fluence_dao.eth._tx import TxSender

log = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ROOT_NODE = b"\x00" * 32


def normalize_name(name: str) -> str:
    """ENSIP-15 normalisation (web3's), or EnsError naming the bad name."""
    from ens.exceptions import ENSException
    from ens.utils import normalize_name as _normalize

    if name == "":
        return ""
    try:
        return str(_normalize(name))
    except (ENSException, ValueError, TypeError) as err:
        raise EnsError(f"not a valid ENS name: {name!r} ({err})", name=name) from err


def namehash(name: str) -> bytes:
    """The ENS namehash of `name` (normalised first); the empty name is the root node."""
    from ens.utils import normal_name_to_hash

    return bytes(normal_name_to_hash(normalize_name(name)))


def labelhash(label: str) -> bytes:
    """keccak256 of one normalised label."""
    from ens.utils import label_to_hash

    normal = normalize_name(label)
    if "." in normal:
        raise EnsError(f"a label cannot contain a dot: {label!r}", name=label)
    return bytes(label_to_hash(normal))


def split_name(name: str) -> tuple[str, str]:
    """('alpha', 'public-record.eth') for 'alpha.public-record.eth'; the parent of a TLD is ''."""
    normal = normalize_name(name)
    label, _, parent = normal.partition(".")
    return label, parent


@dataclass(frozen=True)
class TxRequest:
    """An unsigned call: what a separate signer (e.g. the signer module) needs to build a transaction."""

    to: str
    data: bytes

    def to_dict(self) -> dict[str, str]:
        return {"to": self.to, "data": "0x" + self.data.hex()}


class EnsClient:
    """One ENS registry on one chain. Writes take a `TxSender` (whose key signs)."""

    def __init__(self, client: EthClient, registry_address: str) -> None:
        self.client = client
        self.registry_address = to_checksum(registry_address)
        self._registry = client.w3.eth.contract(address=self.registry_address, abi=registry_abi())

    def __repr__(self) -> str:
        return f"EnsClient(registry={self.registry_address} @ {self.client.rpc_url})"

    # --- reads

    def owner(self, name: str) -> str:
        """The registry owner of `name` (the zero address when nobody owns it)."""
        node = namehash(name)
        return str(self.client.call(f"owner({name})", lambda: self._registry.functions.owner(node).call()))

    def resolver(self, name: str) -> str | None:
        node = namehash(name)
        address = str(self.client.call(f"resolver({name})", lambda: self._registry.functions.resolver(node).call()))
        return None if int(address, 16) == 0 else address

    def text(self, name: str, key: str) -> str:
        """The text record `key` of `name` ('' when unset); EnsError when the name has no resolver."""
        node = namehash(name)
        resolver = self._resolver_contract(name)
        return str(self.client.call(f"text({name}, {key!r})", lambda: resolver.functions.text(node, key).call()))

    def addr(self, name: str) -> str | None:
        node = namehash(name)
        resolver = self._resolver_contract(name)
        address = str(self.client.call(f"addr({name})", lambda: resolver.functions.addr(node).call()))
        return None if int(address, 16) == 0 else address

    def ensure_registry(self) -> None:
        """EnsError when there is no contract at the registry address (wrong chain or not deployed)."""
        if not self.client.code(self.registry_address):
            raise EnsError(
                f"no ENS registry at {self.registry_address} on {self.client.rpc_url} (no contract code there)",
                registry=self.registry_address,
                rpc_url=self.client.rpc_url,
            )

    # --- unsigned requests (for a signer elsewhere)

    def set_text_request(self, name: str, key: str, value: str) -> TxRequest:
        resolver = self._resolver_contract(name)
        data = resolver.encode_abi("setText", args=[namehash(name), key, value])
        return TxRequest(to=str(resolver.address), data=_hex_bytes(data))

    def set_subnode_owner_request(self, parent: str, label: str, owner: str) -> TxRequest:
        """`setSubnodeOwner(parent, labelhash(label), owner)` on the registry, for the owner of `parent`."""
        data = self._registry.encode_abi(
            "setSubnodeOwner", args=[_node_or_root(parent), labelhash(label), to_checksum(owner)]
        )
        return TxRequest(self.registry_address, _hex_bytes(data))

    # --- writes

    def set_text(self, name: str, key: str, value: str, sender: TxSender) -> TxReceipt:
        request = self.set_text_request(name, key, value)
        return self._send(sender, request, f"setText({name}, {key!r})", name)

    def set_addr(self, name: str, address: str, sender: TxSender) -> TxReceipt:
        resolver = self._resolver_contract(name)
        data = resolver.encode_abi("setAddr", args=[namehash(name), to_checksum(address)])
        return self._send(sender, TxRequest(str(resolver.address), _hex_bytes(data)), f"setAddr({name})", name)

    def set_resolver(self, name: str, resolver: str, sender: TxSender) -> TxReceipt:
        data = self._registry.encode_abi("setResolver", args=[namehash(name), to_checksum(resolver)])
        return self._send(sender, TxRequest(self.registry_address, _hex_bytes(data)), f"setResolver({name})", name)

    def set_subnode_owner(self, parent: str, label: str, owner: str, sender: TxSender) -> TxReceipt:
        """Create or take over `label.parent` for `owner` (signed by the owner of `parent`)."""
        full = f"{label}.{parent}" if parent else label
        request = self.set_subnode_owner_request(parent, label, owner)
        return self._send(sender, request, f"setSubnodeOwner({full})", parent)

    def set_subnode_record(
        self, parent: str, label: str, owner: str, resolver: str, sender: TxSender, ttl: int = 0
    ) -> TxReceipt:
        """Create `label.parent` with an owner and a resolver in one transaction (signed by the parent's owner)."""
        data = self._registry.encode_abi(
            "setSubnodeRecord",
            args=[_node_or_root(parent), labelhash(label), to_checksum(owner), to_checksum(resolver), ttl],
        )
        full = f"{label}.{parent}" if parent else label
        return self._send(
            sender, TxRequest(self.registry_address, _hex_bytes(data)), f"setSubnodeRecord({full})", parent
        )

    def set_owner(self, name: str, new_owner: str, sender: TxSender) -> TxReceipt:
        """Move `name` to `new_owner`.

        The current owner signs `setOwner`; the owner of the parent name may instead take the name over with
        `setSubnodeOwner` (how governance moves alpha.public-record.eth). Anyone else gets a clear EnsError
        before anything is sent.
        """
        new_owner = to_checksum(new_owner)
        current = self.owner(name)
        if current.lower() == sender.address.lower():
            data = self._registry.encode_abi("setOwner", args=[namehash(name), new_owner])
            return self._send(sender, TxRequest(self.registry_address, _hex_bytes(data)), f"setOwner({name})", name)
        label, parent = split_name(name)
        parent_owner = self.owner(parent) if parent else self._root_owner()
        if parent_owner.lower() == sender.address.lower():
            return self.set_subnode_owner(parent, label, new_owner, sender)
        raise EnsError(
            f"{sender.address} cannot change the owner of {name}: it is owned by {current} "
            f"and its parent {parent or '(root)'} by {parent_owner}",
            name=name,
            owner=current,
            sender=sender.address,
        )

    # --- helpers

    def _root_owner(self) -> str:
        return str(self.client.call("owner(root)", lambda: self._registry.functions.owner(ROOT_NODE).call()))

    def _resolver_contract(self, name: str) -> Any:
        address = self.resolver(name)
        if address is None:
            raise EnsError(
                f"{name} has no resolver in the registry at {self.registry_address} "
                "(it is not registered, or its owner never set one)",
                name=name,
                registry=self.registry_address,
            )
        return self.client.w3.eth.contract(address=to_checksum(address), abi=RESOLVER_ABI)

    def _send(self, sender: TxSender, request: TxRequest, what: str, name: str) -> TxReceipt:
        try:
            return sender.send_and_wait(request.to, request.data, what=what)
        except TransactionFailedError as err:
            if err.details.get("reason") == "reverted" and name:
                try:
                    owner = self.owner(name)
                except Exception:  # the hint is best effort; the original error matters
                    owner = "unknown"
                err.message += f" (is {sender.address} allowed? {name} is owned by {owner})"
                err.args = (err.message,)
                err.details.setdefault("name", name)
                err.details.setdefault("owner", owner)
            raise


def _node_or_root(name: str) -> bytes:
    return ROOT_NODE if name == "" else namehash(name)


def _hex_bytes(data: str | bytes) -> bytes:
    if isinstance(data, bytes):
        return data
    return bytes.fromhex(data[2:] if data.startswith("0x") else data)
