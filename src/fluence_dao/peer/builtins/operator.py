"""`operator`: what the peer's operator decides and governance does not (see aqua/operator.aqua).

The governed interval AIR is the same on every network; which RPC endpoint and chain it talks to, the ENS
registry there, the default gas limit and the fee policy come from the peer that runs it. What one interval writes
(record key, signer name, its gas limit) are that interval's own arguments, never settings here. `require` turns a service's
`success: false` record into an Aqua error naming the step, so flows read top to bottom with one `catch`.

Who may call what: `config`, `require`, `fees` and `replacement_fees` are pure functions of their arguments and
the operator's settings, so anyone may call them and nobody can change what the next caller gets. Fees to
replace a stuck transaction are computed from that transaction's fees as the chain reports them
(`eth_getTransactionBySenderAndNonce`), never from state kept here. Every fee is capped (`max_fee_cap`): a run
that would pay more fails with an error naming the cap instead of draining the signer. Nothing here can be
changed through the peer: the settings come from the operator's configuration only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fluence_dao.config import Settings
from fluence_dao.peer.args import BOOL, STR, arg
from fluence_dao.peer.calls import BuiltinError, BuiltinService, CallContext, export
from fluence_dao.runtime import DevnetPaths, Endpoint, resolve_endpoint
from fluence_dao.util.json_types import Args, JsonObject, to_json_object


@dataclass(frozen=True)
class OperatorConfig:
    rpc_url: str
    chain_id: int
    ens_registry: str
    project_name: str
    signer_name: str
    gas_limit: int = 120_000
    fee_multiplier: float = 2.0  # max fee = gas price x this: room for the base fee to rise before inclusion
    replacement_bump: float = 1.25  # a replacement outbids the stuck transaction's fees by this (nodes want >= 1.1)
    fee_cap_multiplier: float = 4.0  # no max fee above gas price x this ...
    max_fee_per_gas_cap: int | None = None  # ... nor above this many wei (None: no absolute ceiling)

    def max_fee_cap(self, gas_price: int) -> int:
        """The highest max_fee_per_gas a run may sign at the current gas price."""
        cap = int(gas_price * self.fee_cap_multiplier)
        return cap if self.max_fee_per_gas_cap is None else min(cap, self.max_fee_per_gas_cap)

    def to_aqua(self) -> JsonObject:
        """As Aqua's `OperatorConfig` (aqua/operator.aqua): the endpoint and names; the fee policy stays here.
        Any particle may read this, so its keys are listed, never derived from the fields."""
        return {**to_json_object(self, only=_READABLE), "gas_limit": str(self.gas_limit)}


_READABLE = ("rpc_url", "chain_id", "ens_registry", "project_name", "signer_name")


def operator_config(settings: Settings, endpoint: Endpoint, *, chain_id: int | None = None) -> OperatorConfig:
    """The one place an OperatorConfig is built: the chain at `endpoint` (`chain_id` when the caller asked the chain
    itself), the names and fee cap of `settings`."""
    return OperatorConfig(
        rpc_url=endpoint.rpc_url,
        chain_id=chain_id if chain_id is not None else int(endpoint.chain_id or settings.devnet.chain_id),
        ens_registry=str(endpoint.ens_registry),
        project_name=settings.ens.project_name,
        signer_name=settings.ens.signer_name,
        fee_cap_multiplier=settings.eth.fee_cap_multiplier,
        max_fee_per_gas_cap=settings.eth.max_fee_per_gas_wei(),
    )


def settings_operator(settings: Settings) -> Callable[[], OperatorConfig]:
    """The operator configuration of a peer run with `settings`, current on every call: the endpoint is resolved
    again only when devnet.json changed (the devnet writes it after the daemon has started)."""
    info_file = DevnetPaths.under(settings.state_dir).info_file
    cached: list[tuple[int | None, OperatorConfig]] = []  # at most one (stamp, config)

    def current() -> OperatorConfig:
        stamp: int | None
        try:
            stamp = info_file.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if not cached or cached[0][0] != stamp:
            cached[:] = [(stamp, operator_config(settings, resolve_endpoint(settings)))]
        return cached[0][1]

    return current


class OperatorService(BuiltinService):
    service_id = "operator"

    def __init__(self, config: OperatorConfig | Callable[[], OperatorConfig]) -> None:
        """`config`, or a function returning it: then it is read on every call, so a peer started before its
        chain is configured (or restarted on another port) answers with the current settings."""
        self._config = config

    @property
    def config(self) -> OperatorConfig:
        return self._config() if callable(self._config) else self._config

    @export("config")
    def get_config(self, args: Args, ctx: CallContext) -> JsonObject:
        return self.config.to_aqua()

    @export()
    def require(self, args: Args, ctx: CallContext) -> None:
        ok = arg(args, 0, "ok", BOOL)
        step = arg(args, 1, "step", STR)
        message = arg(args, 2, "message", STR)
        if not ok:
            raise BuiltinError(f"{step}: {message}")

    @export()
    def fees(self, args: Args, ctx: CallContext) -> dict[str, str]:
        gas_price = _quantity(arg(args, 0, "gas_price", STR), "gas_price")
        priority = _quantity(arg(args, 1, "priority_fee", STR), "priority_fee")
        config = self.config
        return _capped(config, gas_price, int(gas_price * config.fee_multiplier), priority, "a new transaction")

    @export()
    def replacement_fees(self, args: Args, ctx: CallContext) -> dict[str, str]:
        """Fees that outbid a stuck transaction whose fees (`stuck_max_fee`, `stuck_priority_fee`, read from the
        chain) are known: both raised by `replacement_bump`, and never below what a new transaction would pay now.
        Unknown ("": the node cannot look the transaction up) means the highest fees the cap allows."""
        gas_price = _quantity(arg(args, 0, "gas_price", STR), "gas_price")
        priority = _quantity(arg(args, 1, "priority_fee", STR), "priority_fee")
        stuck_max = arg(args, 2, "stuck_max_fee", STR)
        stuck_priority = arg(args, 3, "stuck_priority_fee", STR)
        config = self.config
        if not stuck_max or not stuck_priority:
            cap = config.max_fee_cap(gas_price)
            return _fees(cap, min(max(priority, 1) * 2, cap))
        bump = config.replacement_bump
        old_max = _quantity(stuck_max, "stuck_max_fee")
        old_priority = _quantity(stuck_priority, "stuck_priority_fee")
        max_fee = max(int(gas_price * config.fee_multiplier), _ceil_times(old_max, bump))
        new_priority = max(priority, _ceil_times(max(old_priority, 1), bump))
        return _capped(config, gas_price, max_fee, new_priority, "replacing the stuck transaction")


def _ceil_times(value: int, factor: float) -> int:
    return -(-value * round(factor * 1000) // 1000)


def _capped(config: OperatorConfig, gas_price: int, max_fee: int, priority: int, what: str) -> dict[str, str]:
    cap = config.max_fee_cap(gas_price)
    top = max(max_fee, priority)  # a priority fee above the max fee raises the max fee (_fees)
    if top > cap:
        raise BuiltinError(
            f"fee cap: {what} would pay max_fee_per_gas {top} wei, above the cap of {cap} wei "
            f"(gas price {gas_price} wei x {config.fee_cap_multiplier:g}"
            + ("" if config.max_fee_per_gas_cap is None else f", at most {config.max_fee_per_gas_cap} wei")
            + "; the operator raises it with FLUENCE_DAO_ETH__FEE_CAP_MULTIPLIER or FLUENCE_DAO_ETH__MAX_FEE_PER_GAS_GWEI)"
        )
    return _fees(max_fee, priority)


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
