"""`fluence-dao dao deploy|propose|vote|close|list`: the Governance (referendum) contract the demo subgraph indexes.

Transactions are signed with the governance key (`eth.governance_key`: env FLUENCE_DAO_ETH__GOVERNANCE_KEY or
.env; on the local devnet it defaults to anvil's account 0). `deploy` records the address in
<state dir>/subgraph/governance.json, which the other commands and `subgraph serve` use by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from fluence_dao.cli import _state, console
from fluence_dao.cli._options import JsonOption, StateDirOption
from fluence_dao.errors import ConfigError, EthError

if TYPE_CHECKING:
    from fluence_dao.eth import GovernanceContract, TxReceipt, TxSender

app = typer.Typer(help="The Governance contract: deploy, propose, vote, close, list.", no_args_is_help=True)

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_T = TypeVar("_T")


def _address_callback(value: str | None) -> str | None:
    if value is not None and not _ADDRESS.match(value):
        raise typer.BadParameter(f"{value!r} is not an address (0x and 40 hex digits)")
    return value


RpcUrlOption = Annotated[
    str | None, typer.Option("--rpc-url", help="JSON-RPC endpoint (env FLUENCE_DAO_ETH__RPC_URL; devnet default).")
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="Governance contract (default: the one `dao deploy` recorded).",
        callback=_address_callback,
    ),
]


class _Ctx:
    """The chain (checked to be the configured one) and, when `signing`, the governance key's sender."""

    def __init__(self, rpc_url: str | None, state_dir: Path | None, *, signing: bool = True) -> None:
        from fluence_dao.eth import EthClient, TxSender  # lazy: web3
        from fluence_dao.runtime import resolve_endpoint

        self.settings = _state.settings(state_dir=state_dir, rpc_url=rpc_url)
        endpoint = resolve_endpoint(self.settings, need_registry=False)
        self.client = EthClient(
            endpoint.rpc_url, timeout_s=self.settings.eth.rpc_timeout_s, expected_chain_id=endpoint.chain_id
        )
        self.sender: TxSender | None = None
        if signing:
            key = self.settings.eth.effective_governance_key(endpoint.rpc_url)
            self.sender = TxSender(self.client, key, tx_timeout_s=self.settings.eth.tx_timeout_s)

    def address(self, explicit: str | None) -> tuple[str, int]:
        """The Governance address and the block to read its events from; refused when no contract is there."""
        from fluence_dao.eth import deployment_file, read_deployment  # lazy: web3

        if explicit:
            address, from_block = explicit, 0
        else:
            deployment = read_deployment(self.settings.state_dir)
            if deployment is None:
                raise ConfigError(
                    f"no Governance deployment recorded at {deployment_file(self.settings.state_dir)}: "
                    "run `fluence-dao dao deploy` or pass --address",
                    path=str(deployment_file(self.settings.state_dir)),
                )
            address, from_block = deployment.address, deployment.block_number
        if not self.client.code(address):
            where = "--address" if explicit else f"the address recorded in {deployment_file(self.settings.state_dir)}"
            raise EthError(
                f"no contract at {address} on {self.client.rpc_url} ({where}): pass the address `fluence-dao dao "
                "deploy` printed, or deploy one",
                address=address,
                rpc_url=self.client.rpc_url,
            )
        return address, from_block

    def contract(self, address: str | None) -> GovernanceContract:
        from fluence_dao.eth import GovernanceContract  # lazy: web3

        return GovernanceContract(self.signing_sender(), self.address(address)[0])

    def signing_sender(self) -> TxSender:
        assert self.sender is not None, "built with signing=False"
        return self.sender


def _transact(
    flags: tuple[str | None, str | None, Path | None], doing: str, send: Callable[[GovernanceContract], _T]
) -> _T:
    """One governance transaction: the contract at `--address` (`flags`: address, rpc url, state dir), sent
    while `doing` shows as progress."""
    address, rpc_url, state_dir = flags
    contract = _Ctx(rpc_url, state_dir).contract(address)
    with console.status(doing):
        return send(contract)


def _emit_receipt(receipt: TxReceipt) -> None:
    console.emit({"tx_hash": receipt.tx_hash, "block_number": receipt.block_number}, receipt.tx_hash)


@app.command()
def deploy(rpc_url: RpcUrlOption = None, state_dir: StateDirOption = None, json: JsonOption = False) -> None:
    """Compile Governance.sol with solc and deploy it; prints the address."""
    from fluence_dao.eth import deploy_governance

    ctx = _Ctx(rpc_url, state_dir)
    with console.status("compiling and deploying Governance"):
        deployment = deploy_governance(ctx.signing_sender(), ctx.settings.state_dir)
    console.emit(deployment, deployment.address)


@app.command()
def propose(
    description: Annotated[str, typer.Argument(help="What the proposal is about (any Unicode text).")],
    duration: Annotated[int, typer.Option("--duration", min=1, help="Voting period in blocks.")] = 100,
    address: AddressOption = None,
    rpc_url: RpcUrlOption = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Create a proposal; prints its id and the transaction hash."""
    proposal_id, receipt = _transact(
        (address, rpc_url, state_dir), "sending the proposal", lambda c: c.propose_with_receipt(description, duration)
    )
    result = {"proposal_id": proposal_id, "tx_hash": receipt.tx_hash, "block_number": receipt.block_number}
    console.emit(result, f"proposal {proposal_id}  tx {receipt.tx_hash}  block {receipt.block_number}")


@app.command()
def vote(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id.", min=1)],
    weight: Annotated[str, typer.Option("--weight", help="Vote weight (a uint256, decimal).")] = "1",
    against: Annotated[bool, typer.Option("--against", help="Vote against (default: for).")] = False,
    address: AddressOption = None,
    rpc_url: RpcUrlOption = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Vote on a proposal with a weight; prints the transaction hash."""
    try:
        amount = int(weight, 10)
    except ValueError:
        raise typer.BadParameter(f"must be a decimal integer, got {weight!r}", param_hint="--weight") from None
    if not 0 < amount < 2**256:
        raise typer.BadParameter(f"must be between 1 and 2**256-1, got {weight}", param_hint="--weight")
    voting = f"voting on proposal {proposal_id}"
    _emit_receipt(_transact((address, rpc_url, state_dir), voting, lambda c: c.vote(proposal_id, not against, amount)))


@app.command()
def close(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id.", min=1)],
    address: AddressOption = None,
    rpc_url: RpcUrlOption = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """Close a proposal (records passed = for > against); prints the transaction hash."""
    closing = f"closing proposal {proposal_id}"
    _emit_receipt(_transact((address, rpc_url, state_dir), closing, lambda c: c.close(proposal_id)))


@app.command("list")
def list_(
    address: AddressOption = None,
    rpc_url: RpcUrlOption = None,
    state_dir: StateDirOption = None,
    json: JsonOption = False,
) -> None:
    """List every proposal: id, state (open, ended, passed, rejected), votes for and against, description."""
    from fluence_dao.eth import governance_proposals

    ctx = _Ctx(rpc_url, state_dir, signing=False)
    resolved, from_block = ctx.address(address)
    rows = governance_proposals(ctx.client, resolved, from_block)
    block = ctx.client.block_number()
    for row in rows:
        if row["closed"]:
            row["state"] = "passed" if row["passed"] else "rejected"
        else:
            row["state"] = "open" if block <= row["end_block"] else "ended"
    lines = [
        f"{row['id']:>4}  {row['state']:<8}  for {row['for']}  against {row['against']}  "
        f"ends {row['end_block']}  {console.plain(row['description'])}"
        for row in rows
    ]
    console.emit(
        {"address": resolved, "block_number": block, "proposals": rows},
        "\n".join(lines) if lines else f"no proposals on {resolved}",
    )
