"""Runtime state shared by the layers: what `devnet up` recorded (devnet.json, typed) and where the chain is.

A low layer (it imports only `errors` and `config`): the devnet writes this state, the peer daemon, its HTTP
effector, the flows and the CLI read it, and none of them needs to import another for it.

- `DevnetPaths`: the files under `<state_dir>/devnet/` (devnet.json, pid files, logs, anvil's chain state).
- `DevnetInfo` (pydantic, with `EnsInfo`, `IpfsInfo`, `PeerInfo`, `SubgraphInfo`, `ProcessInfo`, `NameInfo`):
  devnet.json. Unknown keys are kept, so an older or newer reader loses nothing it rewrites.
- `read_devnet_info(state_dir)` (`read_info(paths)`): the typed record, None when no devnet was brought up there;
  `write_info(paths, info)` writes it.
- `resolve_endpoint(settings)`: the RPC URL, chain id and ENS registry every eth command and the peer's
  `operator` use: explicit settings first, then devnet.json on the devnet network.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from fluence_dao.errors import ConfigError, DevnetError
from fluence_dao.util.json_types import JsonObject

if TYPE_CHECKING:
    from fluence_dao.config import Settings

STATE_VERSION = 1


@dataclass(frozen=True)
class DevnetPaths:
    root: Path

    @classmethod
    def under(cls, state_dir: Path) -> DevnetPaths:
        return cls(state_dir / "devnet")

    @property
    def info_file(self) -> Path:
        return self.root / "devnet.json"

    @property
    def anvil_state(self) -> Path:
        return self.root / "anvil-state.json"

    def pid_file(self, process: str) -> Path:
        return self.root / f"{process}.pid"

    def log_file(self, process: str) -> Path:
        return self.root / f"{process}.log"


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    def to_json(self) -> JsonObject:
        """The record as written to devnet.json: every field that was set (None included) and the unknown keys."""
        return self.model_dump(mode="json", exclude_unset=True)


class EnsInfo(_Record):
    registry: str | None = None
    public_resolver: str | None = None


class IpfsInfo(_Record):
    api_url: str | None = None
    api_multiaddr: str | None = None
    repo: str | None = None
    api_token_file: str | None = None


class PeerInfo(_Record):
    address: str | None = None
    multiaddr: str | None = None
    peer_id: str | None = None
    management_peer_ids: list[str] | None = None
    libp2p_multiaddr: str | None = None


class SubgraphInfo(_Record):
    url: str | None = None
    status_url: str | None = None
    governance: str | None = None
    start_block: int | None = None
    db: str | None = None
    directory: str | None = None
    deployed_now: bool | None = None
    built_now: bool | None = None
    synced_block: dict[str, int | str] | None = None  # {"number", "hash"} once the server indexed a block


class ProcessInfo(_Record):
    pid: int | None = None
    port: int | None = None
    log: str | None = None
    started_now: bool | None = None


class NameInfo(_Record):
    """One of the project's ENS names on the devnet chain."""

    owner: str | None = None
    resolver: str | None = None
    registered_now: bool | None = None


class DevnetInfo(_Record):
    """devnet.json: the chain, ENS, and the processes `devnet up` started (no secrets)."""

    version: int = STATE_VERSION
    chain_id: int | None = None
    rpc_url: str | None = None
    governance: str | None = None
    ens: EnsInfo = EnsInfo()
    ipfs: IpfsInfo | None = None
    peer: PeerInfo | None = None
    subgraph: SubgraphInfo | None = None
    processes: dict[str, ProcessInfo] = {}
    names: dict[str, NameInfo] = {}


def read_info(paths: DevnetPaths) -> DevnetInfo | None:
    """The typed devnet.json in `paths`, None when never brought up here; errors for a file that is not valid JSON,
    of another version or not a devnet record."""
    try:
        data: object = json.loads(paths.info_file.read_text())
    except FileNotFoundError:
        return None
    except ValueError as err:
        raise DevnetError(f"{paths.info_file} is not valid JSON ({err}); remove it and run `devnet up`") from err
    version = data.get("version", "?") if isinstance(data, dict) else "?"
    if version != STATE_VERSION:
        raise DevnetError(
            f"{paths.info_file} has version {version}, expected {STATE_VERSION}; run `fluence-dao devnet down --reset`",
            path=str(paths.info_file),
        )
    try:
        return DevnetInfo.model_validate(data)
    except ValidationError as err:
        raise DevnetError(f"{paths.info_file} does not hold a devnet record: {err}", path=str(paths.info_file)) from err


def read_devnet_info(state_dir: Path) -> DevnetInfo | None:
    """The typed devnet.json under `state_dir`, None when no devnet was brought up there."""
    return read_info(DevnetPaths.under(state_dir))


def write_info(paths: DevnetPaths, info: DevnetInfo | Mapping[str, object]) -> None:
    """Write devnet.json atomically (a mapping is checked against `DevnetInfo` first)."""
    typed = info if isinstance(info, DevnetInfo) else DevnetInfo.model_validate(info)
    record = {**typed.to_json(), "version": STATE_VERSION}
    paths.root.mkdir(parents=True, exist_ok=True)
    tmp = paths.info_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, paths.info_file)


@dataclass(frozen=True)
class Endpoint:
    rpc_url: str
    chain_id: int | None
    ens_registry: str | None


def resolve_endpoint(settings: Settings, *, need_registry: bool = True) -> Endpoint:
    """RPC URL, chain id and ENS registry from the settings, filling devnet values from devnet.json.

    Explicit settings win; on the devnet network, unset values come from the running devnet's devnet.json.
    """
    eth = settings.eth
    rpc_url = eth.rpc_url
    registry = eth.effective_ens_registry()
    chain_id = eth.effective_chain_id()
    if eth.network == "devnet" and (rpc_url is None or (need_registry and registry is None)):
        info = read_devnet_info(settings.state_dir)
        if info is None or info.rpc_url is None:
            raise ConfigError(
                f"no devnet in {settings.state_dir}: run `fluence-dao devnet up`, or set FLUENCE_DAO_ETH__RPC_URL "
                "and FLUENCE_DAO_ETH__ENS_REGISTRY",
                state_dir=str(settings.state_dir),
            )
        rpc_url = rpc_url or info.rpc_url
        registry = registry or info.ens.registry
        chain_id = eth.chain_id if eth.chain_id is not None else (info.chain_id or chain_id)
    if rpc_url is None:
        raise ConfigError(
            f"no RPC URL for network {eth.network!r}: set FLUENCE_DAO_ETH__RPC_URL or pass --rpc-url",
            network=eth.network,
        )
    if need_registry and registry is None:
        raise ConfigError(
            f"no ENS registry for network {eth.network!r}: set FLUENCE_DAO_ETH__ENS_REGISTRY",
            network=eth.network,
        )
    return Endpoint(rpc_url=rpc_url, chain_id=chain_id, ens_registry=registry)


__all__ = [
    "STATE_VERSION",
    "DevnetInfo",
    "DevnetPaths",
    "Endpoint",
    "EnsInfo",
    "IpfsInfo",
    "NameInfo",
    "PeerInfo",
    "ProcessInfo",
    "SubgraphInfo",
    "read_devnet_info",
    "read_info",
    "resolve_endpoint",
    "write_info",
]
