"""ServiceHost: content-addressed modules and blueprints, mounted-binary allowlist, permission rules."""

from __future__ import annotations

import hashlib

import pytest

from fluence_dao.peer.builtins import BuiltinError
from fluence_dao.peer.services import PermissionPolicy, ServiceHost, ServiceRecord

WASM = b"\0asm\x01\0\0\0"  # the smallest valid module header


def _raw_cid_digest(cid: str) -> bytes:
    import base64

    raw = base64.b32decode(cid[1:].upper() + "=" * (-len(cid[1:]) % 8))
    assert raw[:4] == bytes([0x01, 0x55, 0x12, 0x20])  # CIDv1, raw, sha2-256, 32 bytes
    return raw[4:]


@pytest.fixture
def host(tmp_path) -> ServiceHost:
    policy = PermissionPolicy(host_peer_id="HOST", management_peer_ids=frozenset({"ADMIN"}))
    return ServiceHost(tmp_path, policy, allowed_binaries={"curl": "/usr/bin/curl"})


def test_modules_are_content_addressed(host) -> None:
    cid = host.add_module(WASM, {"name": "m"})
    assert _raw_cid_digest(cid) == hashlib.sha256(WASM).digest()
    assert host.add_module(WASM, {"name": "m"}) == cid
    assert host.module_bytes(cid) == WASM
    assert [m["hash"] for m in host.list_modules()] == [cid]
    with pytest.raises(BuiltinError, match="not a WebAssembly binary"):
        host.add_module(b"nope", {"name": "m"})
    with pytest.raises(BuiltinError, match="no name"):
        host.add_module(WASM, {})


def test_mounted_binaries_must_be_allowed(host) -> None:
    host.add_module(WASM, {"name": "ok", "mounted_binaries": [["curl", "/usr/bin/curl"]]})
    with pytest.raises(BuiltinError, match=r"`wget`.*isn't in the configured list of binaries \(curl\)"):
        host.add_module(WASM, {"name": "bad", "mounted_binaries": {"wget": "/usr/bin/wget"}})


def test_blueprints(host) -> None:
    cid = host.add_module(WASM, {"name": "m"})
    blueprint = host.make_blueprint("svc", [cid])
    blueprint_id = host.add_blueprint(blueprint)
    assert host.get_blueprint(blueprint_id) == {"id": blueprint_id, "name": "svc", "dependencies": [cid]}
    assert host.list_blueprints() == [host.get_blueprint(blueprint_id)]
    with pytest.raises(BuiltinError, match="empty list of dependencies"):
        host.add_blueprint('{"dependencies":[],"name":"x"}')
    missing = "bafkreifdehdwcppttfsqaju4kodgn5wgbefrarbzc72k4sore2bwpeq2fa"
    with pytest.raises(BuiltinError, match=f"Module with hash {missing} wasn't found"):
        host.add_blueprint(host.make_blueprint("x", [missing]))


def test_owner_host_or_management_may_remove_and_alias(host) -> None:
    for remover in ("OWNER", "HOST", "ADMIN"):
        host.services["s"] = ServiceRecord(id="s", blueprint_id="b", owner_id="OWNER", service=None)
        host.add_alias("alias", "s", remover)
        assert host.resolve("alias").id == "s"
        host.remove_service("alias", remover)
        assert host.resolve("s") is None and host.resolve("alias") is None
    host.services["s"] = ServiceRecord(id="s", blueprint_id="b", owner_id="OWNER", service=None)
    with pytest.raises(BuiltinError, match=r"Forbidden\. User id 'MALLORY'"):
        host.remove_service("s", "MALLORY")
    with pytest.raises(BuiltinError, match="Forbidden"):
        host.add_alias("x", "s", "MALLORY")
    with pytest.raises(BuiltinError, match="reserved"):
        host.add_alias("op", "s", "OWNER")
    with pytest.raises(BuiltinError, match="not found"):
        host.remove_service("nope", "HOST")


def test_restricted_policy_guards_management(tmp_path) -> None:
    policy = PermissionPolicy(host_peer_id="HOST", management_peer_ids=frozenset({"ADMIN"}), restricted=True)
    policy.guard_protected("HOST")
    policy.guard_protected("ADMIN")
    with pytest.raises(BuiltinError, match="only available to the host"):
        policy.guard_protected("SOMEONE")
    PermissionPolicy(host_peer_id="HOST").guard_protected("SOMEONE")  # open by default (2021)


@pytest.mark.parametrize("bad_id", ["../../peer/daemon", "../blueprints/x", "/etc/passwd", "a" * 300])
def test_ids_that_name_paths_are_not_found_before_any_file_is_read(tmp_path, bad_id: str) -> None:
    """dist.get_blueprint / get_module_interface / srv.create take ids from any caller: a path in an id must not
    reach a file outside the repository (daemon.json sits at <state>/peer/daemon.json, next to blueprints/)."""
    (tmp_path / "peer").mkdir()
    (tmp_path / "peer" / "daemon.json").write_text("{}")
    host = ServiceHost(tmp_path / "x", PermissionPolicy(host_peer_id="host"))
    for read in (host.get_blueprint, host.module_config, host.module_bytes):
        with pytest.raises(BuiltinError, match="wasn't found"):
            read(bad_id)


def test_a_host_implemented_binary_is_mounted_by_name(tmp_path) -> None:
    from fluence_dao.peer.http_effector import HttpEffector

    effector = HttpEffector({})
    host = ServiceHost(tmp_path, PermissionPolicy(host_peer_id="HOST"), allowed_binaries={"curl": effector})
    for path in ("curl", "/usr/bin/curl", ""):  # Aqua deploys name it "curl"; the 2021 configs a path
        host.add_module(WASM, {"name": f"m{len(path)}", "mounted_binaries": [["curl", path]]})
    with pytest.raises(BuiltinError, match=r"`curl` \(/usr/bin/wget\) which isn't in the configured list"):
        host.add_module(WASM, {"name": "bad", "mounted_binaries": [["curl", "/usr/bin/wget"]]})
    cid = host.add_module(WASM, {"name": "m", "mounted_binaries": [["curl", "curl"]]})
    assert host._marine_config(host.module_config(cid)).mounted_binaries == {"curl": effector}
    assert host.allowed_binaries == {"curl": f"curl (host: {effector!r})"}  # what peer.identify lists: text


class _RecordingService:
    """Stands in for a MarineService (no wasm in unit tests): records the calls that reach it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def call(self, function_name: str, args: list, *, call_parameters) -> str:
        self.calls.append(function_name)
        return "ran"


def _params(caller: str):
    from fluence_dao.marine import CallParameters, ParticleParameters

    return CallParameters(particle=ParticleParameters(init_peer_id=caller), service_id="s")


def test_effector_services_answer_only_creator_host_and_management(host) -> None:
    service = _RecordingService()
    record = ServiceRecord(id="s", blueprint_id="b", owner_id="OWNER", service=service, aliases=["curl_adapter"],
                           effector_binaries=("curl",))  # fmt: skip
    for caller in ("OWNER", "HOST", "ADMIN"):
        assert host.call(record, "http_request", [], _params(caller)) == "ran"
    for caller in ("MALLORY", "", "owner"):
        with pytest.raises(BuiltinError) as refused:
            host.call(record, "http_request", [], _params(caller))
        assert refused.value.result == (
            f"Error: Forbidden. User id '{caller}' cannot call service 's' (curl_adapter, function http_request): it "
            "holds the effector curl and only its creator, the host or management peers may call it"
        )
    assert service.calls == ["http_request"] * 3
    plain = ServiceRecord(id="p", blueprint_id="b", owner_id="OWNER", service=service)
    assert host.call(plain, "anything", [], _params("MALLORY")) == "ran"  # no effector: open as before
