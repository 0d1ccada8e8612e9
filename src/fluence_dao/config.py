"""Settings for every part of fluence-dao, from flags > environment > `.env` > defaults.

One `Settings(BaseSettings)` with plain `BaseModel` sections (nested `BaseSettings` would not read the
dotenv file). Environment variables are `FLUENCE_DAO_<SECTION>__<FIELD>`, e.g. `FLUENCE_DAO_ETH__RPC_URL`.
Command-line flags are passed as init arguments (`load_settings(overrides)`), which win over everything.

Keys are `SecretStr`: they print as `**********` and `masked()` is what `fluence-dao config show` renders.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_origin
from urllib.parse import urlparse

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, DotEnvSettingsSource, EnvSettingsSource, SettingsConfigDict, SettingsError

from fluence_dao.errors import ConfigError
from fluence_dao.util.json_types import JsonObject
from fluence_dao.util.paths import project_root

ENV_PREFIX = "FLUENCE_DAO_"

#: The ENS registry address on Ethereum mainnet and Sepolia (same address on both).
ENS_REGISTRY_MAINNET = "0x00000000000C2E074eC69A0dFb2997BA6C7d2e1e"

#: anvil's well-known development account 0 (public knowledge, printed by every anvil start).
#: Used as the governance key only when the network is the local devnet on 127.0.0.1.
ANVIL_ACCOUNT0_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ANVIL_ACCOUNT0_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

Network = Literal["devnet", "mainnet", "sepolia", "custom"]


class NetworkPreset(BaseModel):
    chain_id: int | None
    ens_registry: str | None


#: What `eth.network` fills in when `chain_id` / `ens_registry` are not set explicitly.
#: The devnet's registry is whatever `devnet up` deployed (read from the state dir).
NETWORK_PRESETS: dict[str, NetworkPreset] = {
    "devnet": NetworkPreset(chain_id=31337, ens_registry=None),
    "mainnet": NetworkPreset(chain_id=1, ens_registry=ENS_REGISTRY_MAINNET),
    "sepolia": NetworkPreset(chain_id=11155111, ens_registry=ENS_REGISTRY_MAINNET),
    "custom": NetworkPreset(chain_id=None, ens_registry=None),
}


class EthSettings(BaseModel):
    """The chain: which network, its RPC endpoint, the ENS registry and the governance key."""

    network: Network = "devnet"
    rpc_url: str | None = Field(
        default=None, description="JSON-RPC endpoint; on the devnet, None means the one `devnet up` started"
    )
    chain_id: int | None = Field(default=None, description="None: the network preset (devnet 31337)")
    ens_registry: str | None = Field(
        default=None, description="None: the network preset, or on the devnet the registry `devnet up` deployed"
    )
    governance_key: SecretStr | None = Field(
        default=None, description="hex private key of the governance account; devnet default: anvil account 0"
    )
    rpc_timeout_s: float = 10.0
    tx_timeout_s: float = 120.0
    fee_cap_multiplier: float = Field(
        default=4.0, ge=1.0, description="the peer signs no max fee above the current gas price times this"
    )
    max_fee_per_gas_gwei: float | None = Field(
        default=None, gt=0, description="and none above this many gwei (None: only the multiplier caps fees)"
    )

    @field_validator("governance_key")
    @classmethod
    def _private_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        """A key that is set must be 32 bytes of hex (the message never shows it)."""
        text = value.get_secret_value().strip() if value is not None else ""
        if text:
            digits = text.removeprefix("0x").removeprefix("0X")
            if len(digits) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError("not a private key: expected 64 hex digits (32 bytes), optionally 0x-prefixed")
        return value

    def max_fee_per_gas_wei(self) -> int | None:
        return None if self.max_fee_per_gas_gwei is None else int(self.max_fee_per_gas_gwei * 10**9)

    def preset(self) -> NetworkPreset:
        return NETWORK_PRESETS[self.network]

    def effective_chain_id(self) -> int | None:
        return self.chain_id if self.chain_id is not None else self.preset().chain_id

    def effective_ens_registry(self) -> str | None:
        return self.ens_registry if self.ens_registry is not None else self.preset().ens_registry

    def effective_governance_key(self, rpc_url: str) -> SecretStr:
        """The governance key to sign with at `rpc_url`.

        anvil's account 0 key is the default only on the devnet at 127.0.0.1; anywhere else an unset key is
        an error naming the variable to set (the key itself never appears in any message).
        """
        if self.governance_key is not None and self.governance_key.get_secret_value():
            return self.governance_key
        host = urlparse(rpc_url).hostname
        if self.network == "devnet" and host in ("127.0.0.1", "localhost"):
            return SecretStr(ANVIL_ACCOUNT0_KEY)
        raise ConfigError(
            f"no governance key for network {self.network!r} at {rpc_url}: set {ENV_PREFIX}ETH__GOVERNANCE_KEY "
            "in the environment or .env (the devnet default key is used only on the local devnet)",
            network=self.network,
            rpc_url=rpc_url,
        )


class DevnetSettings(BaseModel):
    """The local anvil chain `fluence-dao devnet up` runs on 127.0.0.1."""

    port: int = Field(default=0, ge=0, le=65535, description="0: reuse the last port if free, else pick a free one")
    chain_id: int = 31337
    startup_timeout_s: float = 30.0
    state_interval_s: int = Field(default=10, ge=0, description="anvil --state-interval; 0 = only on clean stop")
    anvil_path: Path | None = Field(default=None, description="None: the anvil binary from node_modules")
    subgraph: bool = Field(
        default=True,
        description="deploy the Governance contract and serve the demo subgraph (graph-cli + node); false: leave it out",
    )


class EnsSettings(BaseModel):
    """ENS names and the text-record keys the flows read and write."""

    project_name: str = "public-record.eth"
    signer_name: str = "alpha.public-record.eth"
    wasm_key_prefix: str = "wasm."
    signer_service_id_key: str = "signer_service_id"
    ipld_tip_key: str = "ipld-tip"


class PeerSettings(BaseModel):
    """The local Fluence peer."""

    port: int = Field(default=0, ge=0, le=65535, description="0: a free port on 127.0.0.1")
    key_file: Path | None = Field(default=None, description="None: <state_dir>/peer/key")
    particle_ttl_ms: int = 120_000
    # the daemon's limits (fluence_dao.peer.limits.DaemonLimits has the same defaults)
    max_particle_ttl_ms: int = Field(
        default=300_000, gt=0, description="longer particle TTLs are refused; particle_ttl_ms must not exceed it"
    )
    max_inflight_bytes: int = Field(
        default=256 * 2**20, gt=0, description="particle data (script, data, prev_data) held at once; then refused"
    )
    avm_memory_bytes: int = Field(default=256 * 2**20, gt=0, description="AquaVM's memory ceiling per invoke")
    call_timeout_s: float = Field(default=30.0, gt=0, description="a particle's wait for one service call")
    call_queue_limit: int = Field(default=16, gt=0, description="calls waiting per service; then 'busy' at once")
    idle_timeout_s: float = Field(default=60.0, gt=0, description="connections silent this long are closed")
    max_connections: int = Field(default=64, gt=0, description="the daemon's general connection pool")
    max_connections_per_address: int = Field(default=16, gt=0, description="general connections from one address")
    reserved_connections: int = Field(default=8, ge=0, description="more connections kept for management keys")
    management_peer_ids: list[str] = Field(
        default_factory=list, description="peer ids that may manage services and scripts; empty: the CLI key"
    )
    libp2p_port: int | None = Field(
        default=None, ge=0, le=65535, description="also serve libp2p (js-client) on /ip4/127.0.0.1/tcp/PORT/ws; 0: free"
    )
    http_allowlist: list[str] = Field(
        default_factory=list,
        description="origins (scheme://host[:port]) modules may reach through the mounted curl, besides the "
        "chain RPC, IPFS API and subgraph endpoints; JSON list in the environment",
    )
    http_max_response_bytes: int = Field(
        default=8 * 2**20, gt=0, description="largest HTTP response a module may receive through the mounted curl"
    )


class IpfsSettings(BaseModel):
    """IPFS: the embedded block store, or a Kubo RPC endpoint."""

    api_url: str | None = Field(default=None, description="Kubo RPC URL; None = the embedded store")
    api_token: SecretStr | None = Field(
        default=None,
        description="secret for an API with Kubo's API.Authorizations (token, bearer:<token> or "
        "basic:<user>:<password>); None = the devnet's <state_dir>/ipfs/api-token for a loopback API",
    )
    timeout_s: float = 30.0


class IntervalSettings(BaseModel):
    """The timed loop that signs and sends transactions."""

    interval_s: int = Field(default=60, gt=0)


class SubgraphSettings(BaseModel):
    """Where subgraph GraphQL queries go."""

    endpoint_url: str | None = Field(default=None, description="None = the built-in local runner")


def _default_state_dir() -> Path:
    return project_root() / ".fluence-dao"


class Settings(BaseSettings):
    """Everything configurable. Build with `load_settings()` so errors become `ConfigError`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    state_dir: Path = Field(default_factory=_default_state_dir, description="runtime state: pids, logs, addresses")
    eth: EthSettings = EthSettings()
    devnet: DevnetSettings = DevnetSettings()
    ens: EnsSettings = EnsSettings()
    peer: PeerSettings = PeerSettings()
    ipfs: IpfsSettings = IpfsSettings()
    interval: IntervalSettings = IntervalSettings()
    subgraph: SubgraphSettings = SubgraphSettings()

    @field_validator("state_dir")
    @classmethod
    def _absolute_state_dir(cls, value: Path) -> Path:
        path = value.expanduser().resolve()
        below = path
        while not below.exists() and below != below.parent:
            below = below.parent
        if not below.is_dir():  # a file given as the state dir, or as one of its parents
            raise ValueError(f"{below} is a file, not a directory")
        return path

    def masked(self) -> JsonObject:
        """A JSON-friendly view with every secret shown as `**********` (or null when unset)."""
        return self.model_dump(mode="json")


def load_settings(overrides: Mapping[str, object] | None = None, env_file: str | Path | None = ".env") -> Settings:
    """Settings from `overrides` (flags; nested as {"eth": {"rpc_url": ...}}) > env > `env_file` > defaults.

    `None` values in `overrides` mean "flag not given" and are dropped.
    """
    init = _drop_none(overrides or {})
    try:
        return Settings(_env_file=env_file, **init)  # type: ignore[call-arg]
    except SettingsError as err:  # a list or object variable that is not JSON: name it
        raise ConfigError(f"invalid configuration: {_undecodable_variables(env_file) or err}") from None
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {_without_prefix(e['msg'])} (env {_env_name(e['loc'])})"
            for e in err.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None


def _without_prefix(message: str) -> str:
    return message.removeprefix("Value error, ")


def _undecodable_variables(env_file: str | Path | None) -> str:
    """Which FLUENCE_DAO_* variables of a list or object setting (environment, then `env_file`) are not JSON."""
    sources: list[tuple[str, EnvSettingsSource]] = [("environment", EnvSettingsSource(Settings))]
    if env_file is not None:
        sources.append((str(env_file), DotEnvSettingsSource(Settings, env_file=env_file)))
    problems = []
    for where, source in sources:
        for name, value in source.env_vars.items():
            if not name.startswith(ENV_PREFIX.lower()) or value is None:
                continue
            annotation = _setting_annotation(name[len(ENV_PREFIX) :].split("__"))
            complex_type = get_origin(annotation) in (list, dict, set, tuple) or (
                isinstance(annotation, type) and issubclass(annotation, BaseModel)
            )
            if not complex_type:
                continue
            try:
                json.loads(value)
            except ValueError as err:
                problems.append(
                    f"{name.upper()}={value[:60]!r} ({where}) is not JSON ({err}); a list is written as JSON, "
                    'e.g. ["12D3KooW..."]'
                )
    return "; ".join(problems)


def env_variables() -> list[str]:
    """Every environment variable Settings reads, e.g. FLUENCE_DAO_ETH__RPC_URL (for docs and .env.example)."""
    names: list[str] = []
    for field_name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.extend(_env_name((field_name, sub)) for sub in annotation.model_fields)
        else:
            names.append(_env_name((field_name,)))
    return names


def _env_name(loc: tuple[object, ...]) -> str:
    return ENV_PREFIX + "__".join(str(p).upper() for p in loc)


def _setting_annotation(path: list[str]) -> object:
    """The type of the setting at `path` (section, field; lower case), None when there is none."""
    model: object = Settings
    annotation: object = None
    for part in path:
        fields = model.model_fields if isinstance(model, type) and issubclass(model, BaseModel) else {}
        field = fields.get(part)
        if field is None:
            return None
        annotation = model = field.annotation
    return annotation


def _drop_none(values: Mapping[str, object]) -> dict[str, Any]:  # Settings' keyword arguments: pydantic checks them
    out: dict[str, object] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            nested = _drop_none(value)
            if nested:
                out[key] = nested
        elif value is not None:
            out[key] = value
    return out


__all__ = [
    "ANVIL_ACCOUNT0_ADDRESS",
    "ANVIL_ACCOUNT0_KEY",
    "ENS_REGISTRY_MAINNET",
    "NETWORK_PRESETS",
    "DevnetSettings",
    "EnsSettings",
    "EthSettings",
    "IntervalSettings",
    "IpfsSettings",
    "PeerSettings",
    "Settings",
    "SubgraphSettings",
    "env_variables",
    "load_settings",
]
