"""`fluence-dao ens get|set|owner|set-owner`: ENS text records and owners, signed by the configured key.

The signing key is `eth.governance_key` (env FLUENCE_DAO_ETH__GOVERNANCE_KEY or .env; on the local devnet it
defaults to anvil's account 0). It is never taken from a flag and never printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from fluence_dao.cli import _state, console
from fluence_dao.cli._groups import grouped_command
from fluence_dao.cli._options import JsonOption, StateDirOption

if TYPE_CHECKING:
    from fluence_dao.flows import FlowContext

app = typer.Typer(help="ENS names: text records and owners.", no_args_is_help=True)

RpcUrlOption = Annotated[
    str | None, typer.Option("--rpc-url", help="JSON-RPC endpoint (env FLUENCE_DAO_ETH__RPC_URL; devnet default).")
]
RegistryOption = Annotated[
    str | None, typer.Option("--registry", help="ENS registry address (env FLUENCE_DAO_ETH__ENS_REGISTRY).")
]


def _name_callback(value: str) -> str:
    if not value.strip():
        raise typer.BadParameter("the ENS name is empty: give one such as alpha.public-record.eth")
    return value


NameArg = Annotated[str, typer.Argument(help="An ENS name, e.g. alpha.public-record.eth.", callback=_name_callback)]


@dataclass(frozen=True)
class _Chain:
    """The options of every `ens` command: which chain and registry (see `_groups`)."""

    rpc_url: RpcUrlOption = None
    registry: RegistryOption = None
    state_dir: StateDirOption = None
    json: JsonOption = False

    def context(self) -> FlowContext:
        """The flows' context (chain, ENS, governance signer) with a check that the registry is really there."""
        context = _state.context(state_dir=self.state_dir, rpc_url=self.rpc_url, ens_registry=self.registry)
        context.ens.ensure_registry()  # a clear error for a wrong chain or address, not an undecodable call
        return context


@grouped_command(app)
def get(
    chain: _Chain,
    name: NameArg,
    key: Annotated[str, typer.Argument(help="Text record key, e.g. wasm.signer.")],
) -> None:
    """Print the text record KEY of NAME (empty when unset)."""
    value = chain.context().ens.text(name, key)
    console.emit({"name": name, "key": key, "value": value}, value)


@grouped_command(app, "set")
def set_(
    chain: _Chain,
    name: NameArg,
    key: Annotated[str, typer.Argument(help="Text record key.")],
    value: Annotated[str, typer.Argument(help="New value.")],
) -> None:
    """Set the text record KEY of NAME to VALUE (signed by the configured key); print the tx hash."""
    ctx = chain.context()
    sender = ctx.governance
    with console.status(f"setting {key} of {name}"):
        receipt = ctx.ens.set_text(name, key, value, sender)
    console.emit(
        {"name": name, "key": key, "value": value, "from": sender.address, **receipt.to_dict()}, receipt.tx_hash
    )


@grouped_command(app)
def owner(chain: _Chain, name: NameArg) -> None:
    """Print the registry owner of NAME (the zero address when unowned)."""
    ctx = chain.context()
    address = ctx.ens.owner(name)
    console.emit({"name": name, "owner": address, "resolver": ctx.ens.resolver(name)}, address)


@grouped_command(app, "set-owner")
def set_owner(
    chain: _Chain,
    name: NameArg,
    address: Annotated[str, typer.Argument(help="The new owner's address.")],
) -> None:
    """Move NAME to ADDRESS (signed by its owner, or by the owner of its parent name); print the tx hash."""
    ctx = chain.context()
    sender = ctx.governance
    with console.status(f"moving {name} to {address}"):
        receipt = ctx.ens.set_owner(name, address, sender)
    console.emit(
        {"name": name, "owner": ctx.ens.owner(name), "from": sender.address, **receipt.to_dict()}, receipt.tx_hash
    )
