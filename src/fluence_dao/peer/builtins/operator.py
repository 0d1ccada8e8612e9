"""`operator`: what the peer's operator decides and governance does not (see aqua/operator.aqua).

The governed interval AIR is the same on every network; which RPC endpoint and chain it talks to, the ENS
registry there, the gas limit and the fee policy come from the peer that runs it. `require` turns a service's
`success: false` record into an Aqua error naming the step, so flows read top to bottom with one `catch`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fluence_dao.peer.builtins._base import BuiltinError, BuiltinService, CallContext, Function, arg


@dataclass(frozen=True)
class OperatorConfig:
    rpc_url: str
    chain_id: int
    ens_registry: str
    project_name: str
    signer_name: str
    record_key: str = "notice"
    gas_limit: int = 120_000
    fee_multiplier: float = 2.0  # max fee = gas price x this: room for the base fee to rise before inclusion
    replacement_bump: float = 1.25  # each replacement of a stuck nonce raises both fees by this (nodes want >= 1.1)

    def to_aqua(self) -> dict[str, Any]:
        return {
            "rpc_url": self.rpc_url,
            "chain_id": self.chain_id,
            "ens_registry": self.ens_registry,
            "project_name": self.project_name,
            "signer_name": self.signer_name,
            "record_key": self.record_key,
            "gas_limit": str(self.gas_limit),
        }


class OperatorService(BuiltinService):
    service_id = "operator"

    SETTABLE = ("record_key", "gas_limit")

    def __init__(self, config: OperatorConfig | Callable[[], OperatorConfig]) -> None:
        """`config`, or a function returning it: then it is read on every call, so a peer started before its
        chain is configured (or restarted on another port) answers with the current settings."""
        self._config = config
        self._overrides: dict[str, Any] = {}
        self._replacements: dict[str, int] = {}  # stuck nonce -> how often it was replaced

    @property
    def config(self) -> OperatorConfig:
        base = self._config() if callable(self._config) else self._config
        return replace(base, **self._overrides) if self._overrides else base

    def functions(self) -> dict[str, Function]:
        return {
            "config": self.get_config,
            "require": self.require,
            "fees": self.fees,
            "replacement_fees": self.replacement_fees,
            "set": self.set,
        }

    def set(self, args: list[Any], ctx: CallContext) -> None:
        """Change `record_key` or `gas_limit` on this peer (who may: the peer's rule for protected builtins)."""
        name = arg(args, 0, "name", str)
        value = arg(args, 1, "value", str)
        ctx.peer.policy.guard_protected(ctx.init_peer_id)  # as script.add: host and management peers on nox
        if name not in self.SETTABLE:
            raise BuiltinError(
                f"Error: operator setting {name!r} cannot be changed (settable: {', '.join(self.SETTABLE)})"
            )
        if name == "gas_limit":
            if not value.isdigit() or int(value) < 21_000:
                raise BuiltinError(f"Error: gas_limit must be a number >= 21000, got {value!r}")
            self._overrides[name] = int(value)
        else:
            if not value:
                raise BuiltinError("Error: record_key must not be empty")
            self._overrides[name] = value

    def get_config(self, args: list[Any], ctx: CallContext) -> dict[str, Any]:
        return self.config.to_aqua()

    def require(self, args: list[Any], ctx: CallContext) -> None:
        ok = arg(args, 0, "ok", bool)
        step = arg(args, 1, "step", str)
        message = arg(args, 2, "message", str)
        if not ok:
            raise BuiltinError(f"{step}: {message}")

    def fees(self, args: list[Any], ctx: CallContext) -> dict[str, str]:
        gas_price = _quantity(arg(args, 0, "gas_price", str), "gas_price")
        priority = _quantity(arg(args, 1, "priority_fee", str), "priority_fee")
        return _fees(gas_price * self.config.fee_multiplier, priority)

    def replacement_fees(self, args: list[Any], ctx: CallContext) -> dict[str, str]:
        """Fees to replace a stuck transaction with nonce `nonce`: both fees raised by `replacement_bump` per
        replacement of that nonce, so each replacement outbids the one before (nodes require +10%)."""
        gas_price = _quantity(arg(args, 0, "gas_price", str), "gas_price")
        priority = _quantity(arg(args, 1, "priority_fee", str), "priority_fee")
        nonce = str(_quantity(arg(args, 2, "nonce", str), "nonce"))
        times = self._replacements.get(nonce, 0) + 1
        self._replacements = {nonce: times}  # older nonces are settled once a newer one is stuck
        bump = self.config.replacement_bump**times
        return _fees(gas_price * self.config.fee_multiplier * bump, max(priority, 1) * bump)


def _fees(max_fee: float, priority: float) -> dict[str, str]:
    top = max(int(max_fee), int(priority))
    return {"max_fee_per_gas": hex(top), "max_priority_fee_per_gas": hex(min(int(priority), top))}


def _quantity(text: str, field_name: str) -> int:
    """A JSON-RPC quantity: `0x` hex (or decimal)."""
    try:
        value = int(text, 16) if text.startswith(("0x", "0X")) else int(text)
    except ValueError:
        raise BuiltinError(f"Error: {field_name} {text!r} is not a JSON-RPC quantity") from None
    if value < 0:
        raise BuiltinError(f"Error: {field_name} {text!r} is negative")
    return value
