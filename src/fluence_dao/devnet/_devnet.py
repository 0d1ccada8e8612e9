"""`Devnet`: the local background processes (anvil first) and the ENS deployment on it.

Processes are `DevnetComponent`s, started in order by `up()` and stopped in reverse by `down()`. To add one
(the peer daemon, an IPFS server, a subgraph indexer), write a class with a `name`, a `process()` that
returns a `ManagedProcess` (argv, log and pid files in `devnet.paths`, a health check) and an `after_start()`
returning facts about it for devnet.json's top level (typed records such as `IpfsInfo`, or JSON values: the
merged record is checked against `DevnetInfo`), then append it to `COMPONENTS` below.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import platform
import shutil
import socket
import sys
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from fluence_dao.config import ANVIL_ACCOUNT0_KEY, Settings
from fluence_dao.devnet._deploy import EnsDeployment, deploy_ens, ensure_name
from fluence_dao.devnet._permissions import PRIVATE_UMASK, secure_state_dir
from fluence_dao.errors import DevnetError, EthError, ToolNotFoundError
from fluence_dao.eth import EnsClient, EthClient, TxSender, deploy_governance, read_deployment
from fluence_dao.ipfs import api_token_path, ensure_api_token_file
from fluence_dao.peer.remote import client_key_if_present, ping
from fluence_dao.runtime import (
    DevnetInfo,
    DevnetPaths,
    EnsInfo,
    IpfsInfo,
    NameInfo,
    ProcessInfo,
    SubgraphInfo,
    read_info,
    write_info,
)
from fluence_dao.subgraph import build_subgraph, graph_cli
from fluence_dao.util.json_types import JsonObject, to_json
from fluence_dao.util.net import LOOPBACK, free_port
from fluence_dao.util.paths import cache_dir, node_modules, project_root
from fluence_dao.util.process import ManagedProcess, ProcessSpec, ProcessStatus

log = logging.getLogger(__name__)


def anvil_package() -> str:
    """The npm package with this platform's anvil binary (package.json lists linux-amd64 today)."""
    system = platform.system().lower()
    machine = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    return f"@foundry-rs/anvil-{system}-{machine}"


class DevnetComponent(Protocol):
    """One background process of the devnet."""

    name: str

    def process(self, devnet: Devnet, info: DevnetInfo) -> ManagedProcess:
        """The process to run; `info` is the last devnet.json (e.g. to reuse a port)."""
        ...

    def after_start(self, devnet: Devnet, info: DevnetInfo, started_now: bool) -> Mapping[str, object]:
        """Work once healthy (deploy contracts...); returns facts merged into devnet.json's top level."""
        ...


def _merged(info: DevnetInfo, facts: Mapping[str, object]) -> DevnetInfo:
    """`info` with `facts` over its top level, checked as a whole."""
    return DevnetInfo.model_validate({**info.to_json(), **facts})


def _previous_port(info: DevnetInfo, name: str) -> int | None:
    previous = info.processes.get(name)
    return previous.port if previous is not None else None


def anvil_binary(settings: Settings) -> Path:
    """The anvil binary: `devnet.anvil_path`, else the one from npm; ToolNotFoundError says how to get it."""
    package = anvil_package()
    path = settings.devnet.anvil_path or node_modules() / package / "bin" / "anvil"
    if not path.is_file():
        raise ToolNotFoundError(
            f"anvil not found at {path}: run `npm ci` in the project root (it installs {package}), "
            "or set FLUENCE_DAO_DEVNET__ANVIL_PATH",
            tool="anvil",
            path=str(path),
        )
    return path


def rpc_chain_id(rpc_url: str, timeout_s: float = 0.5) -> int | None:
    """eth_chainId over plain HTTP (a quick probe, no web3 client), or None when nothing answers."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(rpc_url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(json.loads(response.read())["result"], 16)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as anvil binds: TIME_WAIT is fine
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


class AnvilComponent:
    """anvil on 127.0.0.1 with `--state` (the chain survives a clean stop), then ENS and the project names."""

    name = "anvil"

    def process(self, devnet: Devnet, info: DevnetInfo) -> ManagedProcess:
        paths = devnet.paths
        port = _stable_port(devnet, self.name, devnet.settings.devnet.port, _previous_port(info, self.name))
        chain_id = devnet.settings.devnet.chain_id
        rpc_url = f"http://{LOOPBACK}:{port}"
        argv = [
            str(anvil_binary(devnet.settings)),
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--chain-id",
            str(chain_id),
            "--state",
            str(paths.anvil_state),
        ]
        if devnet.settings.devnet.state_interval_s:
            argv += ["--state-interval", str(devnet.settings.devnet.state_interval_s)]
        spec = ProcessSpec(
            name=self.name,
            argv=argv,
            log_path=paths.log_file(self.name),
            pid_path=paths.pid_file(self.name),
            health=lambda: rpc_chain_id(rpc_url) == chain_id,
            startup_timeout_s=devnet.settings.devnet.startup_timeout_s,
            port=port,
        )
        return ManagedProcess(spec)

    def after_start(self, devnet: Devnet, info: DevnetInfo, started_now: bool) -> Mapping[str, object]:
        port = devnet.process(self.name).spec.port
        assert port is not None, "AnvilComponent.process always sets the port"
        rpc_url = f"http://{LOOPBACK}:{port}"
        settings = devnet.settings
        client = EthClient(rpc_url, timeout_s=settings.eth.rpc_timeout_s, expected_chain_id=settings.devnet.chain_id)
        # the devnet always has a governance key: the configured one (funded below) or anvil's account 0
        configured = settings.eth.governance_key
        key = configured if configured and configured.get_secret_value() else SecretStr(ANVIL_ACCOUNT0_KEY)
        sender = TxSender(client, key, tx_timeout_s=settings.eth.tx_timeout_s)
        if client.balance(sender.address) < 10**18:
            client.rpc("anvil_setBalance", [sender.address, hex(10_000 * 10**18)])

        contracts = _ens_contracts(client, sender, info.ens)
        ens = EnsClient(client, contracts.registry)
        names: dict[str, NameInfo] = {}
        for name in (settings.ens.project_name, settings.ens.signer_name):
            registered = ensure_name(ens, name, contracts.public_resolver, sender)
            names[name] = NameInfo(owner=ens.owner(name), resolver=ens.resolver(name), registered_now=registered)
        return {
            "chain_id": client.chain_id(),
            "rpc_url": rpc_url,
            "ens": EnsInfo(registry=contracts.registry, public_resolver=contracts.public_resolver),
            "governance": sender.address,
            "names": names,
        }


def _ens_contracts(client: EthClient, sender: TxSender, known: EnsInfo) -> EnsDeployment:
    """The ENS registry and resolver devnet.json names when the chain still has their code, else new ones."""
    registry, resolver = known.registry, known.public_resolver
    if registry and resolver and client.code(registry) and client.code(resolver):
        return EnsDeployment(registry, resolver)
    return deploy_ens(sender)


def _stable_port(devnet: Devnet, name: str, configured: int, last: int | None) -> int:
    """The configured port, else the last one (when our process still runs there or it is free: the URL stays
    stable across restarts), else a free one."""
    if configured:
        return configured
    if last is not None and last > 0:
        probe = ManagedProcess(
            ProcessSpec(name, [sys.executable], devnet.paths.log_file(name), devnet.paths.pid_file(name), bool)
        )
        if probe.pid() is not None or _port_free(last):
            return last
    return free_port()


def ipfs_api_version(api_url: str, timeout_s: float = 0.5) -> str | None:
    """The `Version` an IPFS RPC API reports (POST /api/v0/version), or None when nothing answers."""
    request = urllib.request.Request(f"{api_url}/api/v0/version", data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return str(json.loads(response.read())["Version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class _IpfsServerProcess(ManagedProcess):
    """`ipfs serve` whose `start()` first makes sure of the API token file (created once, then reused)."""

    def __init__(self, spec: ProcessSpec, token_file: Path) -> None:
        super().__init__(spec)
        self.token_file = token_file

    def start(self) -> tuple[int, bool]:
        ensure_api_token_file(self.token_file)
        return super().start()


class IpfsServerComponent:
    """`fluence-dao ipfs serve`: the embedded store (`<state_dir>/ipfs`) behind Kubo's RPC API on 127.0.0.1.
    Writes need the token in `<state_dir>/ipfs/api-token` (0600; the path, never the token, is in its argv)."""

    name = "ipfs"

    def process(self, devnet: Devnet, info: DevnetInfo) -> ManagedProcess:
        port = _stable_port(devnet, self.name, 0, _previous_port(info, self.name))
        api_url = f"http://{LOOPBACK}:{port}"
        repo = devnet.settings.state_dir / "ipfs"
        token_file = api_token_path(devnet.settings.state_dir)
        argv = [
            sys.executable,
            "-m",
            "fluence_dao",
            "ipfs",
            "serve",
            "--port",
            str(port),
            "--repo",
            str(repo),
            "--auth-token-file",
            str(token_file),
        ]
        spec = ProcessSpec(
            name=self.name,
            argv=argv,
            log_path=devnet.paths.log_file(self.name),
            pid_path=devnet.paths.pid_file(self.name),
            health=lambda: ipfs_api_version(api_url) is not None,
            startup_timeout_s=devnet.settings.devnet.startup_timeout_s,
            port=port,
        )
        return _IpfsServerProcess(spec, token_file)

    def after_start(self, devnet: Devnet, info: DevnetInfo, started_now: bool) -> Mapping[str, object]:
        port = devnet.process(self.name).spec.port
        ipfs = IpfsInfo(
            api_url=f"http://{LOOPBACK}:{port}",
            api_multiaddr=f"/ip4/{LOOPBACK}/tcp/{port}",
            repo=str(devnet.settings.state_dir / "ipfs"),
            api_token_file=str(api_token_path(devnet.settings.state_dir)),
        )
        return {"ipfs": ipfs}


class PeerComponent:
    """The peer daemon (`fluence-dao peer serve`): one long-lived Fluence peer on 127.0.0.1; the CLI
    runs Aqua on it. Its services (and the signer key inside them) live only in its memory."""

    name = "peer"

    def process(self, devnet: Devnet, info: DevnetInfo) -> ManagedProcess:
        port = _stable_port(devnet, self.name, devnet.settings.peer.port, _previous_port(info, self.name))
        argv = [
            sys.executable,
            "-m",
            "fluence_dao",
            "peer",
            "serve",
            "--state-dir",
            str(devnet.settings.state_dir),
            "--port",
            str(port),
        ]
        ipfs_port = _previous_port(info, "ipfs")
        # with a configured Kubo (ipfs.api_url) the daemon stores there and announces that API instead
        if ipfs_port is not None and ipfs_port > 0 and not devnet.settings.ipfs.api_url:
            argv += ["--ipfs-api-multiaddr", f"/ip4/{LOOPBACK}/tcp/{ipfs_port}"]
        address = f"{LOOPBACK}:{port}"
        spec = ProcessSpec(
            name=self.name,
            argv=argv,
            log_path=devnet.paths.log_file(self.name),
            pid_path=devnet.paths.pid_file(self.name),
            # signed with the CLI's key (once the daemon created it): answered even when others hold every
            # general connection of the daemon
            health=lambda: ping(address, 0.5, key_pair=client_key_if_present(devnet.settings)) is not None,
            startup_timeout_s=devnet.settings.devnet.startup_timeout_s,
            port=port,
        )
        return ManagedProcess(spec)

    def after_start(self, devnet: Devnet, info: DevnetInfo, started_now: bool) -> Mapping[str, object]:
        port = devnet.process(self.name).spec.port
        address = f"{LOOPBACK}:{port}"
        facts = ping(address, 2.0, key_pair=client_key_if_present(devnet.settings)) or {}
        return {  # the daemon's facts are JSON: checked as a PeerInfo when merged
            "peer": {
                "address": address,
                "multiaddr": f"/ip4/{LOOPBACK}/tcp/{port}",
                "peer_id": facts.get("peer_id"),
                "management_peer_ids": facts.get("management_peer_ids"),
                "libp2p_multiaddr": facts.get("libp2p_multiaddr"),  # set with peer.libp2p_port (js-client's relay)
            }
        }


def subgraph_status(status_url: str, timeout_s: float = 0.5) -> JsonObject | None:
    """GET a `subgraph serve` /status (its indexing status as JSON), or None when nothing answers."""
    try:
        with urllib.request.urlopen(status_url, timeout=timeout_s) as response:
            body: object = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def subgraph_build_stale(directory: Path) -> bool:
    """True when `directory/build` is missing or older than any source (manifest, schema, abis, mappings)."""
    built = directory / "build" / "subgraph.yaml"
    if not built.is_file():
        return True
    sources = [directory / "subgraph.yaml", directory / "schema.graphql", directory / "package.json"]
    for sub in ("abis", "src"):
        sources += [p for p in (directory / sub).rglob("*") if p.is_file()]
    newest = max((p.stat().st_mtime for p in sources if p.is_file()), default=0.0)
    return built.stat().st_mtime < newest


def _tree_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class _SubgraphProcess(ManagedProcess):
    """`subgraph serve` whose `start()` first makes sure of the Governance contract and the build, then (re)starts
    the server when the deployment, the build or the database changed."""

    def __init__(self, spec: ProcessSpec, devnet: Devnet, info: DevnetInfo, directory: Path) -> None:
        super().__init__(spec)
        self._devnet = devnet
        self._info = info
        self._directory = directory
        self.facts: SubgraphInfo | None = None

    def start(self) -> tuple[int, bool]:
        settings = self._devnet.settings
        rpc_url = self._info.rpc_url
        if not rpc_url:
            raise DevnetError("the subgraph needs the devnet's anvil (no rpc_url in devnet.json)", process=self.name)
        built_now = False
        if subgraph_build_stale(self._directory):
            graph_cli()  # ToolNotFoundError naming graph-cli when `npm ci` was not run
            if shutil.which("node") is None:
                raise ToolNotFoundError(
                    "node is not on PATH: install Node.js 20+ to build the demo subgraph with graph-cli "
                    "(or set FLUENCE_DAO_DEVNET__SUBGRAPH=false)",
                    tool="node",
                )
            # one build at a time per subgraph directory (several devnets may share the project's subgraph/)
            lock_path = cache_dir() / f"subgraph-build-{hashlib.sha256(bytes(self._directory)).hexdigest()[:12]}.lock"
            with open(lock_path, "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if subgraph_build_stale(self._directory):
                    build_subgraph(self._directory)
                    built_now = True
        client = EthClient(rpc_url, timeout_s=settings.eth.rpc_timeout_s)
        deployment = read_deployment(settings.state_dir)
        deployed_now = False
        if deployment is None or deployment.chain_id != client.chain_id() or not client.code(deployment.address):
            sender = TxSender(
                client, settings.eth.effective_governance_key(rpc_url), tx_timeout_s=settings.eth.tx_timeout_s
            )
            deployment = deploy_governance(sender, settings.state_dir)
            deployed_now = True
            log.info("deployed Governance at %s (block %d)", deployment.address, deployment.block_number)
        # A database belongs to one deployment (build + addresses): name it after both; a redeploy starts afresh
        # (on a fresh chain the same address and block can come back with other blocks).
        key = hashlib.sha256(
            f"{_tree_digest(self._directory / 'build')}:{deployment.address.lower()}:{deployment.block_number}".encode()
        ).hexdigest()[:16]
        db = settings.state_dir / "subgraph" / f"devnet-{key}.sqlite"
        previous_db = self._info.subgraph.db if self._info.subgraph is not None else None
        if self.pid() is not None and (deployed_now or previous_db != str(db)):
            log.info("restarting the subgraph server for the new deployment or build")
            self.stop()
        if self.pid() is None:
            for old in (settings.state_dir / "subgraph").glob("devnet-*.sqlite*"):
                if deployed_now or not old.name.startswith(db.name):
                    old.unlink(missing_ok=True)
        argv = [
            *self.spec.argv,
            "--db",
            str(db),
            "--address",
            f"Governance={deployment.address}",
            "--start-block",
            f"Governance={deployment.block_number}",
        ]
        self.spec = dataclasses.replace(self.spec, argv=argv)
        port = self.spec.port
        self.facts = SubgraphInfo(
            url=f"http://{LOOPBACK}:{port}/subgraphs/name/{self._directory.name}",
            status_url=f"http://{LOOPBACK}:{port}/status",
            governance=deployment.address,
            start_block=deployment.block_number,
            db=str(db),
            directory=str(self._directory),
            deployed_now=deployed_now,
            built_now=built_now,
        )
        return super().start()


class SubgraphComponent:
    """The demo subgraph (`<project>/subgraph`) indexing the Governance contract: `up` deploys the contract once
    (again only on a fresh chain), builds the subgraph when its build is missing or stale, and runs
    `fluence-dao subgraph serve` (GraphQL on 127.0.0.1). Off with FLUENCE_DAO_DEVNET__SUBGRAPH=false."""

    name = "subgraph"

    @staticmethod
    def enabled(settings: Settings) -> bool:
        return settings.devnet.subgraph

    def process(self, devnet: Devnet, info: DevnetInfo) -> ManagedProcess:
        port = _stable_port(devnet, self.name, 0, _previous_port(info, self.name))
        directory = project_root() / "subgraph"
        argv = [sys.executable, "-m", "fluence_dao", "subgraph", "serve", str(directory), "--port", str(port)]
        if info.rpc_url:
            argv += ["--rpc-url", info.rpc_url]
        status_url = f"http://{LOOPBACK}:{port}/status"

        def health() -> bool:
            status = subgraph_status(status_url)
            return status is not None and not status.get("failed")

        spec = ProcessSpec(
            name=self.name,
            argv=argv,
            log_path=devnet.paths.log_file(self.name),
            pid_path=devnet.paths.pid_file(self.name),
            health=health,
            startup_timeout_s=max(devnet.settings.devnet.startup_timeout_s, 60.0),
            env={**os.environ, "FLUENCE_DAO_STATE_DIR": str(devnet.settings.state_dir)},
            port=port,
        )
        return _SubgraphProcess(spec, devnet, info, directory)

    def after_start(self, devnet: Devnet, info: DevnetInfo, started_now: bool) -> Mapping[str, object]:
        proc = devnet.process(self.name)
        facts = proc.facts if isinstance(proc, _SubgraphProcess) else None
        status = subgraph_status(facts.status_url, 2.0) if facts is not None and facts.status_url else None
        synced = status.get("synced_block") if status is not None else None
        return {"subgraph": {**(facts.to_json() if facts is not None else {}), "synced_block": synced}}


#: Devnet components in start order. Append new background processes here (see the module docstring).
COMPONENTS: list[Callable[[], DevnetComponent]] = [
    AnvilComponent,
    IpfsServerComponent,
    PeerComponent,
    SubgraphComponent,
]


@dataclass
class DevnetStatus:
    processes: list[ProcessStatus]
    info: DevnetInfo | None
    chain: dict[str, int] | None = None  # chain_id, block_number
    names: dict[str, dict[str, str | None]] = field(default_factory=dict)  # owner and resolver, or error

    @property
    def healthy(self) -> bool:
        return bool(self.processes) and all(p.healthy for p in self.processes)

    def to_dict(self) -> JsonObject:
        """`devnet status --json`: the processes, the chain and names read now, and devnet.json's endpoints."""
        record = self.info.to_json() if self.info is not None else {}
        return {
            "healthy": self.healthy,
            "processes": [to_json(p.to_dict()) for p in self.processes],
            "rpc_url": record.get("rpc_url"),
            "chain": to_json(self.chain),
            "ens": record.get("ens"),
            "names": to_json(self.names),
            "ipfs": record.get("ipfs"),
            "peer": record.get("peer"),
            "subgraph": record.get("subgraph"),
        }


class Devnet:
    """The local devnet under `settings.state_dir`. `up()` is idempotent; `down()` stops everything cleanly."""

    def __init__(self, settings: Settings, components: list[DevnetComponent] | None = None) -> None:
        self.settings = settings
        self.paths = DevnetPaths.under(settings.state_dir)
        enabled = [getattr(factory, "enabled", lambda _settings: True)(settings) for factory in COMPONENTS]
        self.components: list[DevnetComponent] = components or [
            factory() for factory, on in zip(COMPONENTS, enabled, strict=True) if on
        ]
        # switched off by a setting, but perhaps still running from an earlier `up`: `down` stops them too
        self._disabled: list[DevnetComponent] = (
            [] if components else [factory() for factory, on in zip(COMPONENTS, enabled, strict=True) if not on]
        )
        self._processes: dict[str, ManagedProcess] = {}

    def info(self) -> DevnetInfo | None:
        """The last devnet.json (addresses, names, processes), or None."""
        return read_info(self.paths)

    def process(self, name: str) -> ManagedProcess:
        if name not in self._processes:
            for component in self.components:
                if component.name == name:
                    self._processes[name] = component.process(self, self.info() or DevnetInfo())
                    break
            else:
                known = ", ".join(c.name for c in self.components)
                raise DevnetError(f"no devnet process named {name!r} (known: {known})", process=name)
        return self._processes[name]

    def up(self) -> JsonObject:
        """`start()`, returning devnet.json as JSON."""
        return self.start().to_json()

    def start(self) -> DevnetInfo:
        """Start every component (reusing healthy running ones), deploy ENS if needed; returns devnet.json.

        Runs with umask 077 (restored after), so the processes it starts and every file they or it create (logs,
        anvil's --state, keys, devnet.json) are private; what an earlier run left readable is tightened first.
        """
        previous_umask = os.umask(PRIVATE_UMASK)
        try:
            secure_state_dir(self.settings.state_dir)
            return self._up()
        finally:
            os.umask(previous_umask)

    def _up(self) -> DevnetInfo:
        info = self.info() or DevnetInfo()
        for component in self.components:
            proc = component.process(self, info)
            self._processes[component.name] = proc
            pid, started_now = proc.start()
            started = ProcessInfo(pid=pid, log=str(proc.spec.log_path), started_now=started_now, port=proc.spec.port)
            info = _merged(info, {"processes": {**info.processes, component.name: started}})
            try:
                info = _merged(info, component.after_start(self, info, started_now))
            finally:
                write_info(self.paths, info)
        return info

    def down(self, *, reset: bool = False) -> list[str]:
        """Stop every component (reverse order); `reset` also deletes the chain state and devnet.json."""
        stopped: list[str] = []
        try:
            info = self.info() or DevnetInfo()
        except DevnetError:
            if not reset:
                raise
            info = (
                DevnetInfo()
            )  # an unreadable devnet.json is what --reset removes: stop the processes by their pid files
        for component in reversed([*self.components, *self._disabled]):
            proc = self._processes.get(component.name) or component.process(self, info)
            if proc.stop():
                stopped.append(component.name)
        if reset:
            for path in (self.paths.info_file, self.paths.anvil_state):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        return stopped

    def status(self) -> DevnetStatus:
        info = self.info()
        statuses = [self.process(c.name).status() for c in self.components]
        status = DevnetStatus(processes=statuses, info=info)
        anvil = next((s for s in statuses if s.name == "anvil"), None)
        if info is not None and info.rpc_url and anvil is not None and anvil.healthy:
            status.chain, status.names = self._chain_facts(info.rpc_url, info)
        return status

    def _chain_facts(self, rpc_url: str, info: DevnetInfo) -> tuple[dict[str, int], dict[str, dict[str, str | None]]]:
        client = EthClient(rpc_url, timeout_s=self.settings.eth.rpc_timeout_s)
        chain = {"chain_id": client.chain_id(), "block_number": client.block_number()}
        names: dict[str, dict[str, str | None]] = {}
        registry = info.ens.registry
        if registry:
            ens = EnsClient(client, registry)
            for name in info.names:
                try:
                    names[name] = {"owner": ens.owner(name), "resolver": ens.resolver(name)}
                except EthError as err:
                    names[name] = {"error": err.message}
        return chain, names

    def log_tail(self, name: str = "anvil", lines: int = 40) -> list[str]:
        return self.process(name).log_tail(lines)
