"""Failure classification, address checks and key handling (no sockets: clients are built, never used)."""

from __future__ import annotations

import secrets

import pytest

from fluence_dao.errors import EthError
from fluence_dao.eth import EthClient, TxRequest, TxSender, classify_failure, to_checksum

#: reason code -> node messages (geth, anvil, reth wordings) that must map to it
REASON_MESSAGES = {
    "nonce_too_low": ["nonce too low: next nonce 5, tx nonce 3", "Nonce too low"],
    "already_known": ["already known"],
    "insufficient_funds": ["insufficient funds for gas * price + value", "Insufficient funds for gas * price + value"],
    "underpriced": [
        "replacement transaction underpriced",
        "transaction underpriced",
        "max fee per gas less than block base fee",
    ],
    "out_of_gas": ["intrinsic gas too low", "out of gas"],
    "reverted": ["execution reverted", "execution reverted: Ownable: caller is not the owner"],
    "unknown": ["something else entirely"],
}


@pytest.mark.parametrize(
    ("message", "reason"), [(message, reason) for reason, messages in REASON_MESSAGES.items() for message in messages]
)
def test_node_messages_map_to_stable_reasons(message: str, reason: str) -> None:
    assert classify_failure(message) == reason


def test_a_bad_address_is_named() -> None:
    with pytest.raises(EthError, match="not an Ethereum address: '0x1234'"):
        to_checksum("0x1234")
    assert to_checksum("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266") == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_a_sender_never_shows_its_key() -> None:
    key = "0x" + secrets.token_hex(32)
    sender = TxSender(EthClient("http://127.0.0.1:9"), key)
    for text in (repr(sender), str(sender), repr(vars(sender).get("address"))):
        assert key[2:] not in text
    assert sender.address.startswith("0x") and len(sender.address) == 42


def test_an_invalid_key_is_an_error_that_does_not_echo_it() -> None:
    bad = "0x" + "zz" * 32
    with pytest.raises(EthError) as err:
        TxSender(EthClient("http://127.0.0.1:9"), bad)
    assert "zz" * 4 not in err.value.message
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_tx_request_to_dict_is_hex() -> None:
    request = TxRequest(to="0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", data=bytes.fromhex("10f13a8c"))
    assert request.to_dict() == {"to": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "data": "0x10f13a8c"}
