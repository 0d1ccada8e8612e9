"""The flows users run fluence-dao for: publish governed code, deploy the signer, run the interval loop.

Each flow takes a `FlowContext` (chain, ENS, governance signer, IPFS, from Settings) and, when it runs Aqua, a
`PeerSession` (one peer, one client identity). The CLI commands are thin wrappers around these functions.
"""

from fluence_dao.flows._context import FlowContext
from fluence_dao.flows._governance import Governance, GovernanceWrite, safe_batch
from fluence_dao.flows._session import PeerSession, open_session, project_aqua
from fluence_dao.flows.deploy_signer import DeploySignerResult, deploy_signer
from fluence_dao.flows.interval import IntervalStarted, start_interval, stop_interval
from fluence_dao.flows.publish import PublishResult, publish

__all__ = [
    "DeploySignerResult",
    "FlowContext",
    "Governance",
    "GovernanceWrite",
    "IntervalStarted",
    "PeerSession",
    "PublishResult",
    "deploy_signer",
    "open_session",
    "project_aqua",
    "publish",
    "safe_batch",
    "start_interval",
    "stop_interval",
]
