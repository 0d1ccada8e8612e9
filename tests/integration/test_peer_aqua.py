"""Real Aqua (compiled by aqua-api) on the local peer network with the real AquaVM (avm.wasm)."""

from __future__ import annotations

import base64
import sys
import time
from pathlib import Path

import pytest

from fluence_dao.aqua import compile_aqua
from fluence_dao.errors import AquaCallError
from fluence_dao.peer import BuiltinError, KeyPair, LocalNetwork, PeerConfig, call_function

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_fixtures.counter import counter_wasm

pytestmark = pytest.mark.integration

AQUA = Path(__file__).resolve().parents[1] / "aqua"


@pytest.fixture(scope="module")
def compiled(compiled_aqua) -> dict[str, object]:
    return {name: compiled_aqua(name) for name in ("basics", "services", "errors")}


@pytest.fixture(scope="module")
def net(tmp_path_factory) -> LocalNetwork:
    return LocalNetwork(3, base_dir=tmp_path_factory.mktemp("net"))


def fn(compiled, file: str, name: str):
    return compiled[file].function(name)


def test_sequential_and_math(net, compiled) -> None:
    assert call_function(net, fn(compiled, "basics", "greet"), ["bob"]) == "hello, bob"
    assert call_function(net, fn(compiled, "basics", "add_numbers"), [4, 9]) == [13, True]
    assert call_function(net, fn(compiled, "basics", "add_numbers"), {"a": 1, "b": 2}) == [3, False]


def test_on_another_peer_and_back(net, compiled) -> None:
    other = net.peers[2].peer_id
    before = net.peers[2].particles_processed
    there, back = call_function(net, fn(compiled, "basics", "on_other"), [other])
    assert there == f"ran on {other}"
    assert back == f"back on {net.relay.peer_id}"
    assert net.peers[2].particles_processed > before


def test_par_on_two_peers(net, compiled) -> None:
    a, b = net.peers[1].peer_id, net.peers[2].peer_id
    assert sorted(call_function(net, fn(compiled, "basics", "par_both"), [a, b])) == [f"a:{a}", f"b:{b}"]


def test_for_over_a_stream(net, compiled) -> None:
    assert call_function(net, fn(compiled, "basics", "stream_sum"), [[5, 7, 11]]) == 23


def test_try_catch_of_builtin_error(net, compiled) -> None:
    assert call_function(net, fn(compiled, "basics", "catch_error"), ["3yZe7d"]) == "test"
    message = call_function(net, fn(compiled, "basics", "catch_error"), ["0OIl"])
    assert "error decoding base58" in message


def test_timeout_wins_a_race(net, compiled) -> None:
    started = time.monotonic()
    assert call_function(net, fn(compiled, "basics", "race_timeout"), [150]) == "timed out"
    assert time.monotonic() - started < 10  # the 15 s branch was not waited for


def test_unreachable_peer_ends_at_ttl(net, compiled) -> None:
    stranger = KeyPair.generate().peer_id
    with pytest.raises(AquaCallError, match=r"no response.*TTL of 1500 ms"):
        call_function(net, fn(compiled, "basics", "on_other"), [stranger], ttl_ms=1500)


def test_wrong_argument_count_is_reported(net, compiled) -> None:
    with pytest.raises(AquaCallError, match=r"greet\(name\) takes 1 argument\(s\), got 2"):
        call_function(net, fn(compiled, "basics", "greet"), ["a", "b"])


def test_every_builtin_error_reaches_catch(net, compiled) -> None:
    messages = call_function(net, fn(compiled, "errors", "builtin_errors"), [])
    expected = [
        "error decoding base58",
        "op array_length's argument must be an array",
        "all arguments of 'concat' must be arrays: argument #0 is not",
        "identity accepts up to 1 arguments, received 2 arguments",
        "i64 div overflow",
        "Error deserializing field 'x': expected i64",
        "Error deserializing field 'duration_ms': expected u64",
        "not-a-peer-id",
        "error parsing json {bad",
        "slice indexes out of bounds",
        "Service with alias 'no-such-alias' is not found",
        "Blueprint 'no-such-blueprint' wasn't found",
        "Error deserializing blueprint from IPLD",
        "not a WebAssembly binary",
        "Blueprint 'no-such-blueprint' wasn't found",
        "AIR script is invalid",
        "error decoding base58",
        "Error reading vault file",
        "Service with id 'no-such-service' not found on Host",
        "Service with id 'no-such-service' not found (function call)",
    ]
    assert len(messages) == len(expected)
    for message, fragment in zip(messages, expected, strict=True):
        assert fragment in message
        assert message.startswith("Local service error, ret_code is 1")


@pytest.fixture(scope="module")
def counter(net, compiled) -> str:
    wasm = list(counter_wasm())
    return call_function(net, fn(compiled, "services", "deploy"), [wasm, "counter", "counter"])


def test_service_from_wasm_called_by_alias(net, compiled, counter) -> None:
    assert call_function(net, fn(compiled, "services", "echo"), ["héllo"]) == "héllo"
    assert call_function(net, fn(compiled, "services", "add"), [40, 2]) == 42
    a, b = call_function(net, fn(compiled, "services", "count_twice"), [])
    assert b == a + 1


def test_service_records_and_interface(net, compiled, counter) -> None:
    info, services = call_function(net, fn(compiled, "services", "service_info"), ["counter"])
    assert info["id"] == counter and info["aliases"] == ["counter"] and info["service_type"] == "service"
    assert counter in [s["id"] for s in services]
    iface, modules = call_function(net, fn(compiled, "services", "module_interface"), ["counter"])
    signatures = {f["name"]: f for f in iface["function_signatures"]}
    assert signatures["add"]["arguments"] == [["a", "u32"], ["b", "u32"]]
    assert signatures["echo"]["output_types"] == ["string"]
    expected_hash = _raw_cid(counter_wasm())
    assert expected_hash in [m["hash"] for m in modules]
    _, blueprint = call_function(net, fn(compiled, "services", "blueprint_of"), [counter])
    assert blueprint["dependencies"] == [expected_hash]


def _raw_cid(data: bytes) -> str:
    """CIDv1 raw sha2-256 in base32, computed here independently of the peer's code."""
    import hashlib

    raw = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def test_trap_is_catchable_and_service_keeps_serving(net, compiled, counter) -> None:
    message, after = call_function(net, fn(compiled, "services", "boom_caught"), [])
    assert "trapped" in message and "boom" in message
    assert isinstance(after, int) and after >= 1
    assert call_function(net, fn(compiled, "services", "add"), [1, 1]) == 2


def test_make_module_config_with_8_and_9_arguments(net, compiled) -> None:
    c8 = call_function(net, fn(compiled, "services", "config_8"), ["m8"])
    assert c8["name"] == "m8" and c8["logger_enabled"] is True and c8["wasi"]["envs"] == {"A": "1"}
    c9 = call_function(net, fn(compiled, "services", "config_9"), ["m9"])
    assert c9["max_heap_size"] == "64 MiB" and c9["logger_enabled"] is False
    assert c9["wasi"]["envs"] == {"B": "2"} and c9["wasi"]["mapped_dirs"] is None


def test_script_runs_on_interval_until_removed(net, compiled, counter) -> None:
    host = net.relay
    service = host.services.require("counter").service
    air = '(call %init_peer_id% ("counter" "inc") [] x)'
    owner = net.client()
    start = service.call("inc", [], call_parameters=None)
    script_id = call_function(net, fn(compiled, "services", "add_script"), [air, "0.2"], client=owner)
    listed = call_function(net, fn(compiled, "services", "list_scripts"), [])
    assert [s["id"] for s in listed] == [script_id] and listed[0]["src"] == air
    net.run_for(1.5)
    mid = service.call("inc", [], call_parameters=None)
    assert mid - start >= 4  # ran several times (plus our own read)
    with pytest.raises(AquaCallError, match=r"Forbidden.*remove_script"):
        call_function(net, fn(compiled, "services", "remove_script"), [script_id])  # another client
    assert call_function(net, fn(compiled, "services", "remove_script"), [script_id], client=owner) is True
    net.run_for(0.2)
    after_remove = service.call("inc", [], call_parameters=None)
    net.run_for(0.8)
    assert service.call("inc", [], call_parameters=None) == after_remove + 1
    assert call_function(net, fn(compiled, "services", "remove_script"), [script_id], client=owner) is False


def test_failing_script_is_dropped_after_three_failures(net) -> None:
    host = net.relay
    script_id = host.scheduler.add('(call %init_peer_id% ("no-such" "fn") [] x)', host.peer_id, 0.1, time.monotonic())
    net.run_until(lambda: host.scheduler.get(script_id) is None, 5.0)
    assert host.scheduler.get(script_id) is None


def test_only_the_owner_removes_a_service(net, compiled, counter) -> None:
    outsider = net.client()
    message = call_function(net, fn(compiled, "services", "remove_service"), [counter], client=outsider)
    assert "Forbidden" in message
    assert net.relay.services.resolve(counter) is not None


@pytest.fixture(scope="module")
def network_fns() -> object:
    return compile_aqua(AQUA / "network.aqua")


def test_peer_builtins_see_the_local_network(net, network_fns) -> None:
    other = net.peers[1].peer_id
    info, connected, contact, ts = call_function(net, network_fns.function("identify_and_contacts"), [other])
    assert info["air_version"] == "0.62.0" and info["node_version"].startswith("fluence-dao")
    assert connected is True
    assert [c["peer_id"] for c in contact] == [other]
    assert abs(ts - time.time() * 1000) < 60_000
    stranger = KeyPair.generate().peer_id
    _, connected, contact, _ = call_function(net, network_fns.function("identify_and_contacts"), [stranger])
    assert connected is False and contact == []


def test_kademlia_lists_the_other_peers(net, network_fns) -> None:
    near, merged = call_function(net, network_fns.function("neighbors"), [net.peers[2].peer_id])
    assert sorted(near) == sorted(p.peer_id for p in net.peers[1:])  # the host itself is not its own neighbor
    assert len(merged) == 2 and merged[0] == net.peers[2].peer_id  # distance 0 first


def test_vault_is_per_particle(net, network_fns) -> None:
    path, back = call_function(net, network_fns.function("vault_round_trip"), ["payload"], ttl_ms=1500)
    assert back == "payload" and path.startswith("/tmp/vault/")
    stored = net.relay.vault.root / Path(path).parent.name / Path(path).name
    assert stored.read_text() == "payload"
    net.run_until(lambda: not stored.parent.exists(), 3.0)
    assert not stored.parent.exists()  # the particle's vault is removed at its TTL


def test_sig_signs_only_for_privileged_peers(net, network_fns) -> None:
    result, peer_id = call_function(net, network_fns.function("sig_round_trip"), [[1, 2, 3]])
    assert peer_id == net.relay.peer_id
    assert result["success"] is False and "not allowed to sign" in result["error"][0]


def test_stats_count_service_calls(net, compiled, network_fns, counter) -> None:
    call_function(net, fn(compiled, "services", "add"), [1, 2])
    stats = call_function(net, network_fns.function("stats_of"), ["counter"])
    assert stats["status"] is True
    total = stats["result"][0]["total_stats"]
    assert total["success_req_count"] >= 1
    assert "add" in [f["name"] for f in stats["result"][0]["functions_stats"]]


class _Shout:
    """An extra builtin plugged in the way `aqua-ipfs` will be."""

    def call(self, function_name, args, ctx):
        if function_name != "shout":
            raise BuiltinError(f"no function {function_name}")
        return f"{args[0].upper()} from {ctx.peer.peer_id[-4:]}"


def test_extra_builtin_is_pluggable(tmp_path, network_fns) -> None:
    local = LocalNetwork(1, base_dir=tmp_path, config=PeerConfig(extra_builtins={"extra": _Shout()}))
    relay = local.relay.peer_id
    assert call_function(local, network_fns.function("call_extra"), ["hi"]) == f"HI from {relay[-4:]}"


def test_uncaught_error_becomes_aqua_call_error(net, network_fns) -> None:
    with pytest.raises(AquaCallError, match="error decoding base58") as info:
        call_function(net, network_fns.function("fail_uncaught"), ["0OIl"])
    assert info.value.details["peer_id"] == net.relay.peer_id
    assert "string_from_b58" in info.value.details["instruction"]
    assert call_function(net, network_fns.function("fail_uncaught"), ["3yZe7d"]) == "test"


def test_add_module_from_vault(net) -> None:
    from fluence_dao.peer import CallContext, Particle
    from fluence_dao.peer.builtins.dist import DistService

    host = net.relay
    particle = Particle.create("(null)", host.key_pair)
    path = host.vault.put(particle, counter_wasm(), "counter.wasm")
    ctx = CallContext(peer=host, particle=particle)
    cid = DistService().call("add_module_from_vault", [path, {"name": "counter"}], ctx)
    assert cid == _raw_cid(counter_wasm())
    with pytest.raises(BuiltinError, match="not in this particle's vault"):
        DistService().call("add_module_from_vault", ["/tmp/vault/../../etc/passwd", {"name": "x"}], ctx)
    host.vault.cleanup(particle.id)


def test_service_memory(net, network_fns, counter) -> None:
    (stat,) = call_function(net, network_fns.function("memory_of"), ["counter"])
    assert stat["name"] == "counter"
    assert stat["memory_size_bytes"] == 2 * 65536  # (memory 2) in the WAT module
    assert stat["max_memory_size_bytes"] >= stat["memory_size_bytes"]


def test_background_driver_runs_scripts_while_clients_call(tmp_path, compiled) -> None:
    local = LocalNetwork(1, base_dir=tmp_path)
    local.start()
    try:
        owner = local.client()
        call_function(
            local, fn(compiled, "services", "deploy"), [list(counter_wasm()), "counter", "counter"], client=owner
        )
        air = '(call %init_peer_id% ("counter" "inc") [] x)'
        script_id = call_function(local, fn(compiled, "services", "add_script"), [air, "0.1"], client=owner)
        service = local.relay.services.require("counter").service
        time.sleep(1.0)  # nobody but the background thread drives the network now
        assert service.call("inc", [], call_parameters=None) >= 4
        assert call_function(local, fn(compiled, "services", "remove_script"), [script_id], client=owner) is True
    finally:
        local.stop()
    assert local._thread is None
