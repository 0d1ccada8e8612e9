"""`fluence-dao dao deploy|propose|vote|close`: the Governance (referendum) contract the demo subgraph indexes.

Transactions are signed with the governance key (`eth.governance_key`: env FLUENCE_DAO_ETH__GOVERNANCE_KEY or
.env; on the local devnet it defaults to anvil's account 0). `deploy` records the address in
<state dir>/subgraph/governance.json, which the other commands and `subgraph serve` use by default.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fluence_dao.cli import _output
from fluence_dao.cli._options import JsonOption

app = typer.Typer(help="The Governance contract: deploy, propose, vote, close.", no_args_is_help=True)

RpcUrlOption = Annotated[
    str | None, typer.Option("--rpc-url", help="JSON-RPC endpoint (env FLUENCE_DAO_ETH__RPC_URL; devnet default).")
]
AddressOption = Annotated[
    str | None, typer.Option("--address", help="Governance contract (default: the one `dao deploy` recorded).")
]


class _Ctx:
    def __init__(self, rpc_url: str | None) -> None:
        from fluence_dao.config import load_settings
        from fluence_dao.devnet import resolve_endpoint
        from fluence_dao.eth import EthClient, TxSender

        self.settings = load_settings({"eth": {"rpc_url": rpc_url}})
        endpoint = resolve_endpoint(self.settings, need_registry=False)
        self.client = EthClient(endpoint.rpc_url, timeout_s=self.settings.eth.rpc_timeout_s)
        key = self.settings.eth.effective_governance_key(endpoint.rpc_url)
        self.sender = TxSender(self.client, key, tx_timeout_s=self.settings.eth.tx_timeout_s)

    def address(self, explicit: str | None) -> str:
        if explicit:
            return explicit
        from fluence_dao.errors import ConfigError
        from fluence_dao.eth import deployment_file, read_deployment

        deployment = read_deployment(self.settings.state_dir)
        if deployment is None:
            raise ConfigError(
                f"no Governance deployment recorded at {deployment_file(self.settings.state_dir)}: "
                "run `fluence-dao dao deploy` or pass --address"
            )
        return deployment.address

    def send(self, address: str | None, action: str, *args: Any) -> dict[str, Any]:
        from fluence_dao.eth import governance_calldata

        receipt = self.sender.send_and_wait(
            self.address(address), governance_calldata(action, *args), what=f"dao {action}"
        )
        return {"tx_hash": receipt.tx_hash, "block_number": receipt.block_number}


@app.command()
def deploy(rpc_url: RpcUrlOption = None, json: JsonOption = False) -> None:
    """Compile Governance.sol with solc and deploy it; prints the address."""
    from fluence_dao.eth import deploy_governance

    ctx = _Ctx(rpc_url)
    with _output.status("compiling and deploying Governance"):
        deployment = deploy_governance(ctx.sender, ctx.settings.state_dir)
    _output.emit(deployment.to_dict(), deployment.address)


@app.command()
def propose(
    description: Annotated[str, typer.Argument(help="What the proposal is about (any Unicode text).")],
    duration: Annotated[int, typer.Option("--duration", min=1, help="Voting period in blocks.")] = 100,
    address: AddressOption = None,
    rpc_url: RpcUrlOption = None,
    json: JsonOption = False,
) -> None:
    """Create a proposal; prints the transaction hash."""
    result = _Ctx(rpc_url).send(address, "propose", description, duration)
    _output.emit(result, result["tx_hash"])


@app.command()
def vote(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id.", min=1)],
    weight: Annotated[str, typer.Option("--weight", help="Vote weight (a uint256, decimal).")] = "1",
    against: Annotated[bool, typer.Option("--against", help="Vote against (default: for).")] = False,
    address: AddressOption = None,
    rpc_url: RpcUrlOption = None,
    json: JsonOption = False,
) -> None:
    """Vote on a proposal with a weight; prints the transaction hash."""
    try:
        amount = int(weight, 10)
    except ValueError:
        raise typer.BadParameter(f"--weight must be a decimal integer, got {weight!r}") from None
    if not 0 < amount < 2**256:
        raise typer.BadParameter(f"--weight must be between 1 and 2**256-1, got {weight}")
    result = _Ctx(rpc_url).send(address, "vote", proposal_id, not against, amount)
    _output.emit(result, result["tx_hash"])


@app.command()
def close(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id.", min=1)],
    address: AddressOption = None,
    rpc_url: RpcUrlOption = None,
    json: JsonOption = False,
) -> None:
    """Close a proposal (records passed = for > against); prints the transaction hash."""
    result = _Ctx(rpc_url).send(address, "close", proposal_id)
    _output.emit(result, result["tx_hash"])
