"""call_function stops the client's AquaVM at the response: the invoke that would feed the response's empty result
back (its output is forgotten at once) is not run; errors and functions without a result are unchanged."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from fluence_dao.peer import LocalNetwork, call_function
from fluence_dao.peer import client as client_module
from fluence_dao.peer.calls import ParticleHooks

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def basics(compiled_aqua) -> Any:
    return compiled_aqua("basics")


def _client_invokes(network: LocalNetwork, function: Any, args: list[Any]) -> tuple[Any, int]:
    client = network.client()
    counted = {"invokes": 0}
    original = client.avm.invoke

    def invoke(*a: Any, **kw: Any) -> Any:
        counted["invokes"] += 1
        return original(*a, **kw)

    client.avm.invoke = invoke  # type: ignore[method-assign]
    result = call_function(network, function, args, client=client)
    return result, counted["invokes"]


def test_the_client_runs_one_invoke_less(basics, monkeypatch: pytest.MonkeyPatch) -> None:
    network = LocalNetwork(1)
    greet = basics.function("greet")
    result, invokes = _client_invokes(network, greet, ["bob"])
    assert result == "hello, bob"

    def without_finish(**kwargs: Any) -> ParticleHooks:  # the client as before: AIR run to its end
        return replace(ParticleHooks(**kwargs), finished=None)

    monkeypatch.setattr(client_module, "ParticleHooks", without_finish)
    result_to_the_end, invokes_to_the_end = _client_invokes(network, greet, ["bob"])
    assert result_to_the_end == result
    assert invokes == invokes_to_the_end - 1


def test_results_over_hops_par_and_timers_are_unchanged(basics) -> None:
    network = LocalNetwork(2)
    relay, other = (p.peer_id for p in network.peers)
    assert call_function(network, basics.function("on_other"), [other]) == [f"ran on {other}", f"back on {relay}"]
    assert sorted(call_function(network, basics.function("par_both"), [relay, other])) == [f"a:{relay}", f"b:{other}"]
    assert call_function(network, basics.function("race_timeout"), [50]) == "timed out"
    assert call_function(network, basics.function("pass_through"), ["x"]) == "x"
    assert call_function(network, basics.function("catch_error"), ["0OIl"]).startswith("Local service error")
