"""Settings: precedence (flag > env > .env > default), presets, secret masking, and that docs list every variable."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fluence_dao.cli import console
from fluence_dao.cli.main import app
from fluence_dao.config import (
    ANVIL_ACCOUNT0_KEY,
    ENS_REGISTRY_MAINNET,
    env_variables,
    load_settings,
)
from fluence_dao.errors import ConfigError

#: Read from the process environment by util/paths, not Settings: keep them.
_PROCESS_ONLY = ("FLUENCE_DAO_PROJECT_ROOT", "FLUENCE_DAO_CACHE_DIR")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """No FLUENCE_DAO_* from the shell and no .env from the checkout: each test builds its own."""
    import os

    for key in [k for k in os.environ if k.startswith("FLUENCE_DAO_") and k not in _PROCESS_ONLY]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    console.set_json(False)
    yield
    console.set_json(False)


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.eth.network == "devnet"
    assert settings.eth.effective_chain_id() == 31337
    assert settings.eth.rpc_url is None and settings.eth.governance_key is None
    assert settings.ens.project_name == "public-record.eth"
    assert settings.ens.signer_name == "alpha.public-record.eth"
    assert settings.ipfs.api_url is None
    assert settings.state_dir.name == ".fluence-dao" and settings.state_dir.is_absolute()


def test_precedence_flag_over_env_over_dotenv_over_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(
        "FLUENCE_DAO_ETH__RPC_URL=http://127.0.0.1:1001\n"
        "FLUENCE_DAO_ETH__CHAIN_ID=1001\n"
        "FLUENCE_DAO_ETH__ENS_REGISTRY=0x0000000000000000000000000000000000001001\n"
        "FLUENCE_DAO_ENS__PROJECT_NAME=dotenv.eth\n"
    )
    monkeypatch.setenv("FLUENCE_DAO_ETH__RPC_URL", "http://127.0.0.1:2002")
    monkeypatch.setenv("FLUENCE_DAO_ETH__CHAIN_ID", "2002")

    settings = load_settings({"eth": {"rpc_url": "http://127.0.0.1:3003", "chain_id": None}})

    assert settings.eth.rpc_url == "http://127.0.0.1:3003"  # flag
    assert settings.eth.chain_id == 2002  # env (the flag was not given: None)
    assert settings.eth.ens_registry == "0x0000000000000000000000000000000000001001"  # .env
    assert settings.ens.project_name == "dotenv.eth"  # .env, another section
    assert settings.ens.signer_name == "alpha.public-record.eth"  # default, same section as a .env value
    assert settings.eth.tx_timeout_s == 120.0  # default


def test_network_presets_and_explicit_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUENCE_DAO_ETH__NETWORK", "sepolia")
    sepolia = load_settings()
    assert sepolia.eth.effective_chain_id() == 11155111
    assert sepolia.eth.effective_ens_registry() == ENS_REGISTRY_MAINNET
    mainnet = load_settings({"eth": {"network": "mainnet"}})
    assert mainnet.eth.effective_chain_id() == 1
    assert mainnet.eth.effective_ens_registry() == "0x00000000000C2E074eC69A0dFb2997BA6C7d2e1e"
    monkeypatch.setenv("FLUENCE_DAO_ETH__ENS_REGISTRY", "0x0000000000000000000000000000000000000042")
    assert load_settings().eth.effective_ens_registry() == "0x0000000000000000000000000000000000000042"


def test_the_devnet_key_is_the_default_only_on_the_local_devnet() -> None:
    from eth_account import Account

    devnet = load_settings().eth
    key = devnet.effective_governance_key("http://127.0.0.1:8545")
    assert Account.from_key(key.get_secret_value()).address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    with pytest.raises(ConfigError, match="FLUENCE_DAO_ETH__GOVERNANCE_KEY"):
        devnet.effective_governance_key("https://rpc.example.org")
    sepolia = load_settings({"eth": {"network": "sepolia"}}).eth
    with pytest.raises(ConfigError, match="FLUENCE_DAO_ETH__GOVERNANCE_KEY") as err:
        sepolia.effective_governance_key("http://127.0.0.1:8545")
    assert ANVIL_ACCOUNT0_KEY[2:] not in err.value.message


def test_a_configured_key_is_masked_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "0x" + secrets.token_hex(32)
    monkeypatch.setenv("FLUENCE_DAO_ETH__GOVERNANCE_KEY", key)
    settings = load_settings()
    assert settings.eth.effective_governance_key("http://127.0.0.1:1").get_secret_value() == key
    masked = settings.masked()
    assert masked["eth"]["governance_key"] == "**********"
    for text in (json.dumps(masked), repr(settings), str(settings), repr(settings.eth)):
        assert key[2:] not in text


def test_config_show_masks_the_key_and_takes_flags_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "0x" + secrets.token_hex(32)
    env = {"FLUENCE_DAO_ETH__GOVERNANCE_KEY": key, "FLUENCE_DAO_ETH__RPC_URL": "http://127.0.0.1:2002"}
    result = CliRunner().invoke(app, ["config", "show", "--json", "--rpc-url", "http://127.0.0.1:3003"], env=env)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["eth"]["governance_key"] == "**********"
    assert shown["eth"]["rpc_url"] == "http://127.0.0.1:3003"
    assert key[2:] not in result.output
    console.set_json(False)

    result = CliRunner().invoke(app, ["config", "show"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "FLUENCE_DAO_ETH__GOVERNANCE_KEY=**********" in lines
    assert "FLUENCE_DAO_ETH__RPC_URL=http://127.0.0.1:2002" in lines
    assert key[2:] not in result.output


def test_an_invalid_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUENCE_DAO_DEVNET__PORT", "not-a-port")
    with pytest.raises(ConfigError, match="FLUENCE_DAO_DEVNET__PORT"):
        load_settings()
    monkeypatch.setenv("FLUENCE_DAO_DEVNET__PORT", "70000")
    with pytest.raises(ConfigError, match="FLUENCE_DAO_DEVNET__PORT"):
        load_settings()


def test_a_secret_in_an_invalid_section_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "0x" + secrets.token_hex(32)
    monkeypatch.setenv("FLUENCE_DAO_ETH__GOVERNANCE_KEY", key)
    monkeypatch.setenv("FLUENCE_DAO_ETH__CHAIN_ID", "abc")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert key[2:] not in str(err.value) and err.value.__cause__ is None


def test_env_example_and_docs_list_every_variable() -> None:
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?(FLUENCE_DAO_[A-Z0-9_]+)=", example, flags=re.M))
    docs = (ROOT / "docs" / "configuration.md").read_text()
    variables = env_variables()
    assert "FLUENCE_DAO_ETH__RPC_URL" in variables and "FLUENCE_DAO_ENS__PROJECT_NAME" in variables
    for name in variables:
        assert name in documented, f"{name} missing from .env.example"
        assert f"`{name}`" in docs, f"{name} missing from docs/configuration.md"
