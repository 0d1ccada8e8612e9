"""The `operator` builtin's fee policy: pure functions of their arguments, capped, nothing a caller can push."""

from __future__ import annotations

from typing import Any

import pytest

from fluence_dao.peer.builtins import BuiltinError
from fluence_dao.peer.builtins.operator import OperatorConfig, OperatorService

GWEI = 10**9
CONFIG = OperatorConfig(
    rpc_url="http://127.0.0.1:8545", chain_id=31337, ens_registry="0x" + "00" * 20, project_name="p.eth",
    signer_name="a.p.eth",
)  # fmt: skip


def call(service: OperatorService, function: str, *args: Any) -> Any:
    return service.call(function, list(args), None)  # type: ignore[arg-type]


def fees(result: dict[str, str]) -> tuple[int, int]:
    return int(result["max_fee_per_gas"], 16), int(result["max_priority_fee_per_gas"], 16)


def test_normal_fees_are_the_gas_price_times_the_multiplier() -> None:
    assert fees(call(OperatorService(CONFIG), "fees", hex(2 * GWEI), hex(GWEI))) == (4 * GWEI, GWEI)


def test_a_replacement_outbids_the_stuck_transaction_as_the_chain_reports_it() -> None:
    service = OperatorService(CONFIG)
    max_fee, priority = fees(call(service, "replacement_fees", hex(2 * GWEI), hex(GWEI), hex(5 * GWEI), hex(GWEI)))
    assert max_fee >= 5 * GWEI * 1.1 and priority >= GWEI * 1.1  # nodes want +10% on both
    assert max_fee == 6_250_000_000 and priority == 1_250_000_000


def test_replacement_fees_keep_no_state_a_caller_could_push() -> None:
    """The attack: 30 calls from anyone made the next replacement pay ~1,262x. Now the answer depends only on
    the arguments: the same question after 30 calls gets the same answer."""
    service = OperatorService(CONFIG)
    args = (hex(2 * GWEI), hex(GWEI), hex(5 * GWEI), hex(GWEI))
    first = call(service, "replacement_fees", *args)
    for _ in range(30):
        call(service, "replacement_fees", *args)
    assert call(service, "replacement_fees", *args) == first


def test_fees_above_the_cap_fail_clearly() -> None:
    service = OperatorService(CONFIG)  # cap: 4 x the gas price
    with pytest.raises(BuiltinError) as info:
        call(service, "replacement_fees", hex(2 * GWEI), hex(GWEI), hex(7 * GWEI), hex(GWEI))
    message = info.value.result
    assert "fee cap" in message and "8000000000 wei" in message and "FLUENCE_DAO_ETH__FEE_CAP_MULTIPLIER" in message


def test_an_absolute_ceiling_caps_even_normal_fees() -> None:
    service = OperatorService(OperatorConfig(**{**CONFIG.__dict__, "max_fee_per_gas_cap": 3 * GWEI}))
    with pytest.raises(BuiltinError, match="fee cap: a new transaction would pay max_fee_per_gas 4000000000 wei"):
        call(service, "fees", hex(2 * GWEI), hex(GWEI))


def test_unknown_stuck_fees_pay_at_most_the_cap() -> None:
    max_fee, priority = fees(call(OperatorService(CONFIG), "replacement_fees", hex(2 * GWEI), hex(GWEI), "", ""))
    assert max_fee == 8 * GWEI and priority <= max_fee


def test_bad_quantities_name_the_field() -> None:
    with pytest.raises(BuiltinError, match="stuck_max_fee 'zz' is not a JSON-RPC quantity"):
        call(OperatorService(CONFIG), "replacement_fees", hex(GWEI), hex(GWEI), "zz", hex(GWEI))


def test_what_any_particle_reads_is_the_endpoint_and_names_not_the_fee_policy() -> None:
    assert set(CONFIG.to_aqua()) == {"rpc_url", "chain_id", "ens_registry", "project_name", "signer_name", "gas_limit"}
