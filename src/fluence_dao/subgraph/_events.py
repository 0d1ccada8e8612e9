"""The handler's argument in guest memory: ethereum.Event / Block / Transaction / TransactionReceipt.

Layouts are graph-node's (AscEthereumEvent, AscEthereumBlock_0_0_6, AscEthereumTransaction_0_0_6,
AscEthereumTransactionReceipt) for apiVersion >= 0.0.7: objects of u32 pointers, null as 0.
"""

from __future__ import annotations

import struct
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from fluence_dao.subgraph import _asc as A
from fluence_dao.subgraph._asc import AscHeap
from fluence_dao.subgraph._rpc import hex_bytes, hex_int

_BLOCK = struct.Struct("<15I")
_TRANSACTION = struct.Struct("<9I")
_EVENT = struct.Struct("<8I")
_LOG = struct.Struct("<11I")
_RECEIPT = struct.Struct("<11I")
_PARAM = struct.Struct("<II")


@dataclass
class Trigger:
    """What an event handler needs to know about its event."""

    log: dict[str, Any]
    block: dict[str, Any]
    transaction: dict[str, Any] | None
    transaction_log_index: int
    params: list[tuple[str, A.EthValue]]
    receipt: dict[str, Any] | None = None  # eth_getTransactionReceipt, for handlers with `receipt: true`


def new_block(h: AscHeap, b: dict[str, Any]) -> int:
    """ethereum.Block with the fields of graph-node's AscEthereumBlock_0_0_6 (apiVersion >= 0.0.6)."""

    def opt_bigint(v: Any) -> int:
        return 0 if v is None else h.new_bigint(hex_int(v))

    return h.new(
        A.IDX_ETHEREUM_BLOCK,
        _BLOCK.pack(
            h.new_bytes(hex_bytes(b.get("hash"))),
            h.new_bytes(hex_bytes(b.get("parentHash"))),
            h.new_bytes(hex_bytes(b.get("sha3Uncles"))),
            h.new_bytes(hex_bytes(b.get("miner"))),
            h.new_bytes(hex_bytes(b.get("stateRoot"))),
            h.new_bytes(hex_bytes(b.get("transactionsRoot"))),
            h.new_bytes(hex_bytes(b.get("receiptsRoot"))),
            h.new_bigint(hex_int(b.get("number"))),
            h.new_bigint(hex_int(b.get("gasUsed"))),
            h.new_bigint(hex_int(b.get("gasLimit"))),
            h.new_bigint(hex_int(b.get("timestamp"))),
            h.new_bigint(hex_int(b.get("difficulty"))),
            h.new_bigint(hex_int(b.get("totalDifficulty"))),
            opt_bigint(b.get("size")),
            opt_bigint(b.get("baseFeePerGas")),
        ),
    )


def new_event(h: AscHeap, t: Trigger, cache: dict[Hashable, tuple[int, bytes, int]] | None = None) -> int:
    """The ethereum.Event; with a `cache` (one per module, see AscHeap.cached) the block and transaction objects
    of earlier triggers are replayed instead of built again."""
    if cache is None:
        block_ptr = new_block(h, t.block)
        tx_ptr = new_transaction(h, t)
    else:
        block_ptr = h.cached(cache, ("block", t.block.get("hash")), lambda: new_block(h, t.block))
        tx_ptr = h.cached(cache, ("tx", t.log.get("transactionHash")), lambda: new_transaction(h, t))
    params = [
        h.new(A.IDX_EVENT_PARAM, _PARAM.pack(h.new_key(name), h.new_eth_value(value))) for name, value in t.params
    ]
    return h.new(
        A.IDX_ETHEREUM_EVENT,
        _EVENT.pack(
            h.new_bytes(hex_bytes(t.log["address"])),
            h.new_bigint(hex_int(t.log.get("logIndex"))),
            h.new_bigint(t.transaction_log_index),
            0,  # logType: null
            block_ptr,
            tx_ptr,
            h.new_array_ptrs(A.IDX_ARRAY_EVENT_PARAM, params),
            new_receipt(h, t.receipt) if t.receipt is not None else 0,
        ),
    )


def new_transaction(h: AscHeap, t: Trigger) -> int:
    """ethereum.Transaction (AscEthereumTransaction_0_0_6), from the block's transaction or the log."""
    tx = t.transaction or {}
    return h.new(
        A.IDX_ETHEREUM_TRANSACTION,
        _TRANSACTION.pack(
            h.new_bytes(hex_bytes(tx.get("hash") or t.log.get("transactionHash"))),
            h.new_bigint(hex_int(tx.get("transactionIndex", t.log.get("transactionIndex")))),
            h.new_bytes(hex_bytes(tx.get("from"))),
            h.new_bytes(hex_bytes(tx["to"])) if tx.get("to") else 0,
            h.new_bigint(hex_int(tx.get("value"))),
            h.new_bigint(hex_int(tx.get("gas"))),
            h.new_bigint(hex_int(tx.get("gasPrice"))),
            h.new_bytes(hex_bytes(tx.get("input"))),
            h.new_bigint(hex_int(tx.get("nonce"))),
        ),
    )


def new_receipt(h: AscHeap, r: dict[str, Any]) -> int:
    """ethereum.TransactionReceipt (graph-node's AscEthereumTransactionReceipt, with its logs)."""

    def opt_bytes(v: Any) -> int:
        return h.new_bytes(hex_bytes(v)) if v else 0

    def opt_bigint(v: Any) -> int:
        return 0 if v is None else h.new_bigint(hex_int(v))

    logs = []
    for entry in r.get("logs", []):
        topics = h.new_array_ptrs(A.IDX_ARRAY_B256, [h.new_bytes(hex_bytes(t)) for t in entry.get("topics", [])])
        fields = _LOG.pack(
            h.new_bytes(hex_bytes(entry.get("address"))),
            topics,
            h.new_bytes(hex_bytes(entry.get("data"))),
            opt_bytes(entry.get("blockHash")),
            opt_bigint(entry.get("blockNumber")),
            opt_bytes(entry.get("transactionHash")),
            opt_bigint(entry.get("transactionIndex")),
            opt_bigint(entry.get("logIndex")),
            0,  # transactionLogIndex: not in standard receipts (graph-node leaves it null too)
            0,  # logType: null
            h.new_wrapped(A.IDX_WRAPPED_BOOL, 1 if entry.get("removed") else 0),
        )
        logs.append(h.new(A.IDX_LOG, fields))
    return h.new(
        A.IDX_TRANSACTION_RECEIPT,
        _RECEIPT.pack(
            h.new_bytes(hex_bytes(r.get("transactionHash"))),
            h.new_bigint(hex_int(r.get("transactionIndex"))),
            opt_bytes(r.get("blockHash")),
            opt_bigint(r.get("blockNumber")),
            h.new_bigint(hex_int(r.get("cumulativeGasUsed"))),
            h.new_bigint(hex_int(r.get("gasUsed"))),
            opt_bytes(r.get("contractAddress")),
            h.new_array_ptrs(A.IDX_ARRAY_LOG, logs),
            opt_bigint(r.get("status")),
            opt_bytes(r.get("root")),
            h.new_bytes(hex_bytes(r.get("logsBloom"))),
        ),
    )
