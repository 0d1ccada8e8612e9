"""What every flow needs, built once from Settings: the chain, ENS, the governance signer and IPFS."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from fluence_dao.config import Settings
from fluence_dao.eth import EnsClient, EthClient, TxSender
from fluence_dao.ipfs import Ipfs, api_token_for, open_ipfs
from fluence_dao.peer import PeerConfig
from fluence_dao.peer.builtins.aqua_ipfs import AquaIpfsService
from fluence_dao.peer.builtins.operator import OperatorConfig, OperatorService, operator_config
from fluence_dao.peer.http_effector import (
    OperatorEndpoints,
    ipfs_auth_headers,
    operator_http_effector,
    settings_endpoints,
)
from fluence_dao.runtime import DevnetInfo, Endpoint, read_devnet_info, resolve_endpoint

logger = logging.getLogger(__name__)

# Text records on the project name that governance writes (keys configurable through EnsSettings).
WASM_MODULES = ("curl_adapter", "ens", "signer")
AIR_INTERVAL_KEY = "air.interval"
SIGNER_PEER_KEY = "signer.peer"
SIGNER_SERVICE_KEY = "signer.service"
SIGNER_ADDRESS_KEY = "signer.address"


class _Closable(Protocol):
    def close(self) -> None: ...


@dataclass
class FlowContext:
    """Lazily connected handles for one flow run. Nothing dials the chain or IPFS until it is used."""

    settings: Settings
    ipfs_repo: Path | None = None
    _closers: list[_Closable] = field(default_factory=list, init=False, repr=False)  # what close() closes

    @cached_property
    def endpoint(self) -> Endpoint:
        return resolve_endpoint(self.settings)

    @cached_property
    def eth(self) -> EthClient:
        return EthClient(
            self.endpoint.rpc_url, timeout_s=self.settings.eth.rpc_timeout_s, expected_chain_id=self.endpoint.chain_id
        )

    @cached_property
    def chain_id(self) -> int:
        return self.endpoint.chain_id or self.eth.chain_id()

    @cached_property
    def ens(self) -> EnsClient:
        assert self.endpoint.ens_registry is not None  # resolve_endpoint requires it
        return EnsClient(self.eth, self.endpoint.ens_registry)

    @cached_property
    def governance(self) -> TxSender:
        """The governance account's signer (devnet default: anvil's account 0). Its key is never shown."""
        key = self.settings.eth.effective_governance_key(self.endpoint.rpc_url)
        return TxSender(self.eth, key, tx_timeout_s=self.settings.eth.tx_timeout_s)

    @cached_property
    def devnet_info(self) -> DevnetInfo:
        """devnet.json of a devnet under the state dir (an empty record when there is none)."""
        return read_devnet_info(self.settings.state_dir) or DevnetInfo()

    @cached_property
    def ipfs_api_url(self) -> str | None:
        """The Kubo RPC endpoint to use: configured, else the devnet's IPFS server, else None (embedded)."""
        if self.settings.ipfs.api_url:
            return self.settings.ipfs.api_url
        devnet_ipfs = self.devnet_info.ipfs
        if self.ipfs_repo is None and devnet_ipfs is not None:
            return devnet_ipfs.api_url or None
        return None

    @cached_property
    def ipfs(self) -> Ipfs:
        """The configured Kubo RPC endpoint or the devnet's IPFS server (so one process writes the devnet's
        store), else the embedded store under the state dir."""
        repo = self.ipfs_repo or self.settings.state_dir / "ipfs"
        node = open_ipfs(
            api_url=self.ipfs_api_url,
            repo=repo,
            timeout_s=self.settings.ipfs.timeout_s,
            api_token=self.ipfs_api_token if self.ipfs_api_url else None,
        )
        self._closers.append(node)
        return node

    @cached_property
    def ipfs_api_token(self) -> str | None:
        """The secret for `ipfs_api_url`'s writes: ipfs.api_token, else the devnet's <state_dir>/ipfs/api-token
        (loopback APIs only), else None. Never log it."""
        return api_token_for(self.settings.state_dir, self.settings.ipfs.api_token, api_url=self.ipfs_api_url)

    def operator_config(self) -> OperatorConfig:
        """The `operator` builtin's settings for a peer that serves this context's chain and names."""
        return operator_config(self.settings, self.endpoint, chain_id=self.chain_id)

    def http_endpoints(self) -> OperatorEndpoints:
        """What modules on this context's peer may reach through the mounted curl: the chain RPC, this context's
        IPFS API (with its token), ipfs.api_url, subgraph.endpoint_url, the devnet's IPFS server and subgraph
        (devnet.json, read now) and peer.http_allowlist."""
        endpoints = settings_endpoints(self.settings)
        own = self.ipfs_api_url
        if own is None:
            return endpoints
        configured = self.settings.ipfs.api_token
        token = configured.get_secret_value() if configured else None
        headers = {**endpoints.headers, own: ipfs_auth_headers(self.settings.state_dir, own, token)}
        return replace(endpoints, ipfs_api_urls=(own, *endpoints.ipfs_api_urls), headers=headers)

    def peer_config(self, *, http_origins: Collection[str] = (), **overrides: Any) -> PeerConfig:
        """A config for an in-process peer that can run the flows: the `operator` builtin for this chain,
        `aqua-ipfs` over this context's IPFS, and `curl` mounted as the HTTP effector, which reaches only
        `http_endpoints()` and `http_origins` (both read on every request, so a list of origins may grow).
        `overrides` are PeerConfig fields of any type (`dataclasses.replace` checks their names)."""
        effector = operator_http_effector(
            self.http_endpoints,
            extra_origins=http_origins,
            max_response_bytes=self.settings.peer.http_max_response_bytes,
        )
        self._closers.append(effector)
        config = PeerConfig(
            allowed_binaries={"curl": effector},
            extra_builtins={
                "operator": OperatorService(self.operator_config()),
                "aqua-ipfs": AquaIpfsService(self.ipfs),
            },
        )
        return replace(config, **overrides)

    def record_key(self, artifact: str) -> str:
        """The ENS text record key that holds an artifact's CID: `wasm.<module>` or `air.interval`."""
        if artifact in WASM_MODULES:
            return f"{self.settings.ens.wasm_key_prefix}{artifact}"
        return artifact

    def close(self) -> None:
        for closer in self._closers:
            try:
                closer.close()
            except Exception:  # pragma: no cover - best effort on teardown
                logger.debug("closing %r failed", closer, exc_info=True)
        self._closers.clear()
