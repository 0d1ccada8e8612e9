"""Signing and sending transactions with a local key, and nonces that stay right across failures."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeAlias, TypedDict, Unpack

from pydantic import SecretStr

from fluence_dao.errors import EthError, RpcUnavailableError, TransactionFailedError
from fluence_dao.eth._client import EthClient, TxReceipt, to_checksum
from fluence_dao.util.json_types import JsonObject

log = logging.getLogger(__name__)


class NonceManager:
    """Nonces for one sender: the chain's pending count, plus local reservations not yet seen by the node.

    - `reserve()` hands out max(chain pending nonce, next local nonce), or first a released gap.
    - `release(n)` returns a nonce whose transaction never reached the node (rejected, not signed), so the
      next reservation reuses it and no gap is left.
    - `resync()` forgets local state (after 'nonce too low' or a lost connection): the chain decides again.
    Thread-safe. Works for transactions signed elsewhere too (e.g. by the signer module): reserve, sign,
    `EthClient.send_raw_transaction`, and release or resync on failure.
    """

    def __init__(self, client: EthClient, address: str) -> None:
        self.client = client
        self.address = to_checksum(address)
        self._lock = threading.Lock()
        self._next: int | None = None
        self._released: set[int] = set()

    def reserve(self) -> int:
        with self._lock:
            chain = self.client.pending_nonce(self.address)
            if self._next is None or chain > self._next:
                self._next = chain
            self._released = {n for n in self._released if n >= chain}
            if self._released:
                nonce = min(self._released)
                self._released.discard(nonce)
            else:
                nonce = self._next
                self._next += 1
            log.debug("nonce %d reserved for %s (chain pending %d)", nonce, self.address, chain)
            return nonce

    def release(self, nonce: int) -> None:
        with self._lock:
            if self._next is None:
                return
            if nonce == self._next - 1:
                self._next = nonce
                while self._next - 1 in self._released:
                    self._next -= 1
                    self._released.discard(self._next)
            elif nonce < self._next:
                self._released.add(nonce)
            log.debug("nonce %d released for %s", nonce, self.address)

    def resync(self) -> None:
        with self._lock:
            self._next = None
            self._released.clear()
            log.debug("nonces of %s resynced from the chain", self.address)


TxFields: TypeAlias = dict[str, str | int | bytes]
"""A transaction as eth-account signs it: to (checksum address), data (bytes), value, gas, fee fields, nonce,
chainId (ints)."""
#: Signs a complete transaction dict (to, data, value, gas, fees, nonce, chainId) and returns the raw bytes.
SignFunction = Callable[[TxFields], bytes]


class SendOptions(TypedDict, total=False):
    """The keyword arguments of `TxSender.send` that `send_and_wait` passes on."""

    value: int
    gas: int | None
    fees: dict[str, int] | None
    what: str


def transaction_json(tx: TxFields) -> str:
    """The transaction dict a SignFunction receives, as JSON (bytes as 0x-hex): the signer module's request."""
    import json

    return json.dumps({k: ("0x" + v.hex() if isinstance(v, bytes | bytearray) else v) for k, v in tx.items()})


class TxSender:
    """Signs for one address and sends through one EthClient, with nonces, retries and clear errors.

    The signature comes from a private key (`TxSender(client, key)`; the key is never shown or logged) or
    from a signer elsewhere (`TxSender.external(client, address, sign)`, e.g. the signer wasm module, whose
    key never leaves its memory).
    """

    def __init__(
        self,
        client: EthClient,
        private_key: SecretStr | str,
        *,
        nonce_manager: NonceManager | None = None,
        tx_timeout_s: float = 120.0,
    ) -> None:
        from eth_account import Account

        secret = private_key.get_secret_value() if isinstance(private_key, SecretStr) else private_key
        try:
            account = Account.from_key(secret)
        except Exception:
            raise EthError("the private key is not a valid secp256k1 key (32 bytes hex)") from None
        del secret
        self._setup(client, str(account.address), lambda tx: bytes(account.sign_transaction(tx).raw_transaction))
        self.nonces = nonce_manager or NonceManager(client, self.address)
        self.tx_timeout_s = tx_timeout_s

    @classmethod
    def external(
        cls,
        client: EthClient,
        address: str,
        sign: SignFunction,
        *,
        nonce_manager: NonceManager | None = None,
        tx_timeout_s: float = 120.0,
    ) -> TxSender:
        """A sender whose transactions are signed by `sign` (which must sign for `address`)."""
        sender = cls.__new__(cls)
        checked_address = str(to_checksum(address))

        def sign_and_check(tx: TxFields) -> bytes:
            from eth_account import Account

            raw = bytes(sign(tx))
            try:
                signed_by = str(Account.recover_transaction(raw))
            except Exception as err:
                raise EthError(f"the external signer returned bytes that are not a signed transaction: {err}") from err
            if signed_by != checked_address:
                raise EthError(
                    f"the external signer signed for {signed_by}, not for {checked_address}",
                    expected=checked_address,
                    signed_by=signed_by,
                )
            return raw

        sender._setup(client, checked_address, sign_and_check)
        sender.nonces = nonce_manager or NonceManager(client, sender.address)
        sender.tx_timeout_s = tx_timeout_s
        return sender

    @classmethod
    def unlocked(cls, client: EthClient, address: str, *, tx_timeout_s: float = 120.0) -> TxSender:
        """A sender for an account the node holds unlocked (anvil's dev accounts): the node signs each
        transaction (`eth_signTransaction`), and the signature is checked like any external signer's."""
        checksum = to_checksum(address)

        def node_sign(tx: TxFields) -> bytes:
            request: JsonObject = {"from": checksum}
            for key, value in tx.items():
                if isinstance(value, bytes | bytearray):
                    request[key] = "0x" + bytes(value).hex()
                else:
                    request[key] = hex(value) if isinstance(value, int) else value
            signed = client.rpc("eth_signTransaction", [request])
            raw = signed.get("raw") if isinstance(signed, dict) else signed  # geth: {raw, tx}; anvil: the raw hex
            if not isinstance(raw, str):
                raise EthError(f"eth_signTransaction for {checksum} returned no raw transaction: {signed!r}")
            return bytes.fromhex(raw.removeprefix("0x"))

        return cls.external(client, checksum, node_sign, tx_timeout_s=tx_timeout_s)

    def _setup(self, client: EthClient, address: str, sign: SignFunction) -> None:
        self.client = client
        self.address: str = address
        self._sign = sign

    def __repr__(self) -> str:
        return f"TxSender({self.address} @ {self.client.rpc_url})"

    def send(
        self,
        to: str | None,
        data: bytes | str = b"",
        *,
        value: int = 0,
        gas: int | None = None,
        fees: dict[str, int] | None = None,
        what: str = "transaction",
        wait: bool = True,
    ) -> TxReceipt | str:
        """Estimate (unless `gas`), sign, send, and wait for the receipt (or return the hash if not `wait`).

        Raises TransactionFailedError (reverted, underpriced, out of gas, insufficient funds, nonce) with
        the hash when there is one, RpcUnavailableError when the endpoint is down.
        """
        data_bytes = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
        chain_id = self.client.chain_id()
        tx: TxFields = {"from": self.address, "value": value, "data": data_bytes, "chainId": chain_id}
        if to is not None:
            tx["to"] = to_checksum(to)
        if gas is None:
            gas = self._estimate(tx, what)
        tx["gas"] = gas
        tx.update(fees if fees is not None else self.client.fee_fields())
        del tx["from"]
        for attempt in (1, 2):
            nonce = self.nonces.reserve()
            try:
                raw = self._sign({**tx, "nonce": nonce})
                tx_hash = self.client.send_raw_transaction(raw, sender=self.address, nonce=nonce)
            except TransactionFailedError as err:
                if err.details.get("reason") == "nonce_too_low":
                    self.nonces.resync()
                    if attempt == 1:
                        log.info("%s: nonce %d was taken; retrying with a fresh nonce", what, nonce)
                        continue
                else:
                    self.nonces.release(nonce)
                _prefixed(err, what)
                raise
            except RpcUnavailableError:
                self.nonces.resync()  # we cannot know whether the node saw it
                raise
            except BaseException:
                self.nonces.release(nonce)  # not sent: signing failed or we were interrupted before sending
                raise
            break
        log.info("%s sent: %s (nonce %d)", what, tx_hash, nonce)
        if not wait:
            return tx_hash
        try:
            return self.client.wait_for_receipt(tx_hash, timeout_s=self.tx_timeout_s)
        except TransactionFailedError as err:
            if err.details.get("reason") == "not_mined":
                self.nonces.resync()  # dropped or stuck: let the chain decide the next nonce
            _prefixed(err, what)
            raise

    def send_and_wait(self, to: str | None, data: bytes | str = b"", **kwargs: Unpack[SendOptions]) -> TxReceipt:
        result = self.send(to, data, wait=True, **kwargs)
        assert isinstance(result, TxReceipt)
        return result

    def transfer(self, to: str, value_wei: int) -> TxReceipt:
        """Send `value_wei` to `to` (fund an address)."""
        return self.send_and_wait(to, b"", value=value_wei, what=f"fund {to_checksum(to)}")

    def _estimate(self, tx: TxFields, what: str) -> int:
        try:
            estimate = self.client.call(f"{what}: gas estimate", lambda: self.client.w3.eth.estimate_gas(tx))  # type: ignore[arg-type]
        except RpcUnavailableError:
            raise
        except EthError as err:
            node_message = str(err.details.get("node_message", err.message))
            reason = err.details.get("reason", "unknown")
            if isinstance(err, TransactionFailedError) and reason == "unknown":
                reason = "reverted"
            to = tx.get("to")
            to = to if isinstance(to, str) else None  # a checksum address, or None for a deployment
            raise TransactionFailedError(
                f"{what} from {self.address} to {to} would fail: {node_message}",
                tx_hash=None,
                reason=reason,
                sender=self.address,
                to=to,
                node_message=node_message,
            ) from err
        return int(estimate * 1.25) + 10_000


def _prefixed(err: TransactionFailedError, what: str) -> None:
    """Start the error's message with what was being done."""
    err.message = f"{what}: {err.message}"
    err.args = (err.message,)
