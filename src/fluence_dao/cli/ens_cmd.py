"""`fluence-dao ens get|set|owner|set-owner`: ENS text records and owners, signed by the configured key.

The signing key is `eth.governance_key` (env FLUENCE_DAO_ETH__GOVERNANCE_KEY or .env; on the local devnet it
defaults to anvil's account 0). It is never taken from a flag and never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluence_dao.cli import _output
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


def _context(rpc_url: str | None, registry: str | None, state_dir: Path | None) -> FlowContext:
    """The flows' context (chain, ENS, governance signer) with a check that the registry is really there."""
    from fluence_dao.config import load_settings
    from fluence_dao.flows import FlowContext

    settings = load_settings({"state_dir": state_dir, "eth": {"rpc_url": rpc_url, "ens_registry": registry}})
    context = FlowContext(settings)
    context.ens.ensure_registry()  # a clear error for a wrong chain or address, not an undecodable call
    return context


@app.command()
def get(
    name: NameArg,
    key: Annotated[str, typer.Argument(help="Text record key, e.g. wasm.signer.")],
    rpc_url: RpcUrlOption = None,
    registry: RegistryOption = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Print the text record KEY of NAME (empty when unset)."""
    ctx = _context(rpc_url, registry, state_dir)
    value = ctx.ens.text(name, key)
    _output.emit({"name": name, "key": key, "value": value}, value)


@app.command("set")
def set_(
    name: NameArg,
    key: Annotated[str, typer.Argument(help="Text record key.")],
    value: Annotated[str, typer.Argument(help="New value.")],
    rpc_url: RpcUrlOption = None,
    registry: RegistryOption = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Set the text record KEY of NAME to VALUE (signed by the configured key); print the tx hash."""
    ctx = _context(rpc_url, registry, state_dir)
    sender = ctx.governance
    with _output.status(f"setting {key} of {name}"):
        receipt = ctx.ens.set_text(name, key, value, sender)
    _output.emit(
        {"name": name, "key": key, "value": value, "from": sender.address, **receipt.to_dict()}, receipt.tx_hash
    )


@app.command()
def owner(
    name: NameArg,
    rpc_url: RpcUrlOption = None,
    registry: RegistryOption = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Print the registry owner of NAME (the zero address when unowned)."""
    ctx = _context(rpc_url, registry, state_dir)
    address = ctx.ens.owner(name)
    _output.emit({"name": name, "owner": address, "resolver": ctx.ens.resolver(name)}, address)


@app.command("set-owner")
def set_owner(
    name: NameArg,
    address: Annotated[str, typer.Argument(help="The new owner's address.")],
    rpc_url: RpcUrlOption = None,
    registry: RegistryOption = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Move NAME to ADDRESS (signed by its owner, or by the owner of its parent name); print the tx hash."""
    ctx = _context(rpc_url, registry, state_dir)
    sender = ctx.governance
    with _output.status(f"moving {name} to {address}"):
        receipt = ctx.ens.set_owner(name, address, sender)
    _output.emit(
        {"name": name, "owner": ctx.ens.owner(name), "from": sender.address, **receipt.to_dict()}, receipt.tx_hash
    )
