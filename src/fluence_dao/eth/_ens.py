"""ENS names on any chain with an ENS registry: owners, resolvers, text and addr records.

Reads go registry `resolver(node)` -> the resolver's `text`/`addr` directly, which works on every chain
(web3 8's `ENS` class needs a UniversalResolver that a devnet does not have). Names are normalised and hashed
with web3's `ens.utils`, so namehashes agree with web3.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from fluence_dao.errors import EnsError, EthError, TransactionFailedError
from fluence_dao.eth._abi import RESOLVER_ABI, registry_abi
from fluence_dao.eth._client import EthClient, RpcLog, TxReceipt, to_checksum
from fluence_dao.eth._tx import TxSender
from fluence_dao.util.json_types import JsonObject

if TYPE_CHECKING:
    from web3.contract import Contract

log = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ROOT_NODE = b"\x00" * 32
SET_TEXT_SELECTOR = bytes.fromhex("10f13a8c")  # setText(bytes32,string,string)
# topic0 of `TextChanged`: the 2019 PublicResolver's (node, indexedKey, key) and today's, which adds the value
TEXT_CHANGED_TOPICS = {
    "0xd8c9334b1a9c2f9da342a0a2b32629c1a229b6445dad78947f674b44444a7550": False,  # TextChanged(bytes32,string,string)
    "0x448bc014f1536726cf8d54ff3d6481ed3cbc683c2591ca204274009afa09b1a1": True,  # ...(bytes32,string,string,string)
}


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


@dataclass(frozen=True)
class TextChange:
    """One `TextChanged` event: text record `key` of `name` changed in `block_number` by `tx_hash`.

    `value` is the record as the change left it; None when the node no longer has that block's state.
    """

    name: str
    key: str
    value: str | None
    block_number: int
    tx_hash: str
    log_index: int
    resolver: str

    def to_dict(self) -> JsonObject:
        return asdict(self)


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

    def text_changes(
        self, names: Sequence[str], *, from_block: int = 0, to_block: int | None = None, last: int | None = None
    ) -> list[TextChange]:
        """The text records of `names` changed in blocks `from_block`..`to_block` (default: the latest), oldest
        first, from the `TextChanged` events of each name's current resolver (eth_getLogs; an earlier resolver's
        events are not seen). `last`: only the latest N changes per name and key.

        The 2019 PublicResolver's event carries no value. It is taken from the transaction when that is a plain
        `setText` of this name and key (exact, and any full node has it), else read with `text()` at the event's
        block (two changes of one key in one block then both show the later value; a node without that block's
        state leaves it None).
        """
        if to_block is None:
            to_block = self.client.block_number()
        by_resolver: dict[str, dict[str, str]] = {}
        for name in names:
            resolver = self.resolver(name)
            if resolver is not None:
                by_resolver.setdefault(to_checksum(resolver), {})["0x" + namehash(name).hex()] = name
        found: list[tuple[TextChange, bool]] = []
        for resolver, nodes in by_resolver.items():
            query = {
                "address": resolver,
                "fromBlock": hex(from_block),
                "toBlock": hex(to_block),
                "topics": [list(TEXT_CHANGED_TOPICS), list(nodes)],
            }
            for entry in self.client.rpc_as("eth_getLogs", [query], list[RpcLog]) or []:
                decoded = decode_text_changed(entry, resolver, nodes)
                if decoded is not None:
                    found.append(decoded)
        found.sort(key=lambda item: (item[0].block_number, item[0].log_index))
        if last is not None:  # the latest `last` of each name and key, still oldest first
            counts: dict[tuple[str, str], int] = {}
            latest = []
            for item in reversed(found):
                where = (item[0].name, item[0].key)
                counts[where] = counts.get(where, 0) + 1
                if counts[where] <= last:
                    latest.append(item)
            found = latest[::-1]
        return [change if has_value else self._with_value(change) for change, has_value in found]

    def _with_value(self, change: TextChange) -> TextChange:
        value = self._value_from_calldata(change)
        if value is None:
            contract = self.client.w3.eth.contract(address=to_checksum(change.resolver), abi=RESOLVER_ABI)
            node = namehash(change.name)
            try:
                value = str(
                    self.client.call(
                        f"text({change.name}, {change.key!r}) at block {change.block_number}",
                        lambda: contract.functions.text(node, change.key).call(block_identifier=change.block_number),
                    )
                )
            except EthError as err:  # e.g. a node that pruned that block's state
                log.info("no value for %s %s at block %d: %s", change.name, change.key, change.block_number, err)
                return change
        return replace(change, value=value)

    def _value_from_calldata(self, change: TextChange) -> str | None:
        """The value when the change's transaction called `setText(node, key, value)` on the resolver itself."""
        from eth_abi.abi import decode
        from eth_abi.exceptions import DecodingError

        tx = self.client.rpc("eth_getTransactionByHash", [change.tx_hash])
        if not isinstance(tx, dict) or str(tx.get("to") or "").lower() != change.resolver.lower():
            return None
        data = _hex_bytes(str(tx.get("input") or "0x"))
        if data[:4] != SET_TEXT_SELECTOR:
            return None
        try:
            node, key, value = decode(["bytes32", "string", "string"], data[4:])
        except (DecodingError, ValueError):
            return None
        return str(value) if bytes(node) == namehash(change.name) and key == change.key else None

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

    def _resolver_contract(self, name: str) -> Contract:
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


def decode_text_changed(entry: RpcLog, resolver: str, nodes: dict[str, str]) -> tuple[TextChange, bool] | None:
    """A `TextChanged` log as (change, whether the event carried the value); None for a log that is not one."""
    from eth_abi.abi import decode
    from eth_abi.exceptions import DecodingError

    topics = [str(t).lower() for t in entry.get("topics") or []]
    if entry.get("removed") or len(topics) < 2 or topics[0] not in TEXT_CHANGED_TOPICS or topics[1] not in nodes:
        return None
    has_value = TEXT_CHANGED_TOPICS[topics[0]]
    try:
        decoded = decode(["string", "string"] if has_value else ["string"], _hex_bytes(str(entry.get("data") or "0x")))
        change = TextChange(
            name=nodes[topics[1]],
            key=str(decoded[0]),
            value=str(decoded[1]) if has_value else None,
            block_number=int(str(entry["blockNumber"]), 16),
            tx_hash=str(entry["transactionHash"]),
            log_index=int(str(entry["logIndex"]), 16),
            resolver=resolver,
        )
    except (DecodingError, ValueError, KeyError, TypeError) as err:
        log.warning("a TextChanged log of %s in tx %s does not decode: %s", resolver, entry.get("transactionHash"), err)
        return None
    return change, has_value


def _node_or_root(name: str) -> bytes:
    return ROOT_NODE if name == "" else namehash(name)


def _hex_bytes(data: str | bytes) -> bytes:
    if isinstance(data, bytes):
        return data
    return bytes.fromhex(data[2:] if data.startswith("0x") else data)
