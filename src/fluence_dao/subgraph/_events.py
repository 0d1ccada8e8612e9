"""The handler's argument in guest memory: ethereum.Event / Block / Transaction / TransactionReceipt.

Layouts are graph-node's (AscEthereumEvent, AscEthereumBlock_0_0_6, AscEthereumTransaction_0_0_6,
AscEthereumTransactionReceipt) for apiVersion >= 0.0.7: objects of u32 pointers, null as 0.
"""

from __future__ import annotations

import struct
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal, get_args

from fluence_dao.subgraph import _asc as A
from fluence_dao.subgraph._asc import AscHeap
from fluence_dao.subgraph._rpc import RpcBlock, RpcLog, RpcReceipt, RpcTransaction, hex_bytes, hex_int


def _pointers(count: int) -> struct.Struct:
    """An object of `count` u32 pointers (every object here is one)."""
    return struct.Struct(f"<{count}I")


_TRANSACTION = _pointers(9)
_EVENT = _pointers(8)
_LOG = _pointers(11)
_RECEIPT = _pointers(11)
_PARAM = _pointers(2)

# AscEthereumBlock_0_0_6, in field order: hashes and addresses, then quantities, then optional quantities
_BlockData = Literal["hash", "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot"]
_BlockQuantity = Literal["number", "gasUsed", "gasLimit", "timestamp", "difficulty", "totalDifficulty"]
_BlockOptional = Literal["size", "baseFeePerGas"]
_BLOCK_DATA: tuple[_BlockData, ...] = get_args(_BlockData)
_BLOCK_QUANTITIES: tuple[_BlockQuantity, ...] = get_args(_BlockQuantity)
_BLOCK_OPTIONAL: tuple[_BlockOptional, ...] = get_args(_BlockOptional)
_BLOCK = _pointers(len(_BLOCK_DATA) + len(_BLOCK_QUANTITIES) + len(_BLOCK_OPTIONAL))


@dataclass
class Trigger:
    """What an event handler needs to know about its event."""

    log: RpcLog
    block: RpcBlock
    transaction: RpcTransaction | None
    transaction_log_index: int
    params: list[tuple[str, A.EthValue]]
    receipt: RpcReceipt | None = None  # eth_getTransactionReceipt, for handlers with `receipt: true`


def _opt_bigint(h: AscHeap, value: str | None) -> int:
    return 0 if value is None else h.new_bigint(hex_int(value))


def _opt_bytes(h: AscHeap, value: str | None) -> int:
    return h.new_bytes(hex_bytes(value)) if value else 0


def new_block(h: AscHeap, b: RpcBlock) -> int:
    """ethereum.Block with the fields of graph-node's AscEthereumBlock_0_0_6 (apiVersion >= 0.0.6)."""
    return h.new(
        A.IDX_ETHEREUM_BLOCK,
        _BLOCK.pack(
            *(h.new_bytes(hex_bytes(b.get(name))) for name in _BLOCK_DATA),
            *(h.new_bigint(hex_int(b.get(name))) for name in _BLOCK_QUANTITIES),
            *(_opt_bigint(h, b.get(name)) for name in _BLOCK_OPTIONAL),
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
    tx: RpcTransaction = t.transaction or {}
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


def new_receipt(h: AscHeap, r: RpcReceipt) -> int:
    """ethereum.TransactionReceipt (graph-node's AscEthereumTransactionReceipt, with its logs)."""
    logs = []
    for entry in r.get("logs", []):
        topics = h.new_array_ptrs(A.IDX_ARRAY_B256, [h.new_bytes(hex_bytes(t)) for t in entry.get("topics", [])])
        fields = _LOG.pack(
            h.new_bytes(hex_bytes(entry.get("address"))),
            topics,
            h.new_bytes(hex_bytes(entry.get("data"))),
            _opt_bytes(h, entry.get("blockHash")),
            _opt_bigint(h, entry.get("blockNumber")),
            _opt_bytes(h, entry.get("transactionHash")),
            _opt_bigint(h, entry.get("transactionIndex")),
            _opt_bigint(h, entry.get("logIndex")),
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
            _opt_bytes(h, r.get("blockHash")),
            _opt_bigint(h, r.get("blockNumber")),
            h.new_bigint(hex_int(r.get("cumulativeGasUsed"))),
            h.new_bigint(hex_int(r.get("gasUsed"))),
            _opt_bytes(h, r.get("contractAddress")),
            h.new_array_ptrs(A.IDX_ARRAY_LOG, logs),
            _opt_bigint(h, r.get("status")),
            _opt_bytes(h, r.get("root")),
            h.new_bytes(hex_bytes(r.get("logsBloom"))),
        ),
    )
