"""`TextChanged` logs as eth_getLogs returns them, in both event layouts (the 2019 PublicResolver's without the
value, today's with it), decoded into `TextChange`; anything else is left out."""

from __future__ import annotations

from eth_abi.abi import encode

from fluence_dao.eth import TEXT_CHANGED_TOPICS, decode_text_changed, namehash

RESOLVER = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
NODE = "0x" + namehash("alpha.public-record.eth").hex()
NODES = {NODE: "alpha.public-record.eth"}
WITHOUT_VALUE, WITH_VALUE = (t for t, has in sorted(TEXT_CHANGED_TOPICS.items(), key=lambda kv: kv[1]))


def _log(topic0: str, data: bytes, **extra: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "address": RESOLVER,
        "topics": [topic0, NODE, "0x" + "ab" * 32],
        "data": "0x" + data.hex(),
        "blockNumber": "0x1f",
        "transactionHash": "0x" + "12" * 32,
        "logIndex": "0x2",
    }
    entry.update(extra)
    return entry


def test_the_old_layout_carries_the_key_only() -> None:
    decoded = decode_text_changed(_log(WITHOUT_VALUE, encode(["string"], ["notice"])), RESOLVER, NODES)
    assert decoded is not None
    change, has_value = decoded
    assert not has_value and change.value is None
    assert (change.key, change.block_number, change.log_index) == ("notice", 31, 2)
    assert change.name == "alpha.public-record.eth"


def test_the_new_layout_carries_the_value() -> None:
    decoded = decode_text_changed(
        _log(WITH_VALUE, encode(["string", "string"], ["notice", "1796272816"])), RESOLVER, NODES
    )
    assert decoded is not None and decoded[1] is True
    assert (decoded[0].key, decoded[0].value) == ("notice", "1796272816")


def test_other_nodes_removed_logs_and_garbage_are_left_out() -> None:
    data = encode(["string"], ["notice"])
    other_node = _log(WITHOUT_VALUE, data)
    other_node["topics"] = [WITHOUT_VALUE, "0x" + "00" * 32]
    assert decode_text_changed(other_node, RESOLVER, NODES) is None
    assert decode_text_changed(_log(WITHOUT_VALUE, data, removed=True), RESOLVER, NODES) is None
    assert decode_text_changed(_log("0x" + "99" * 32, data), RESOLVER, NODES) is None
    assert decode_text_changed(_log(WITH_VALUE, b"\x00" * 7), RESOLVER, NODES) is None
