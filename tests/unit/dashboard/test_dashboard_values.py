"""What the dashboard does to values before they reach the page: URLs cut to scheme://host:port, secrets
replaced wherever they appear, wei as exact ether text, and the public surface of the package."""

from __future__ import annotations

from fluence_dao import dashboard
from fluence_dao.dashboard import ether, public_url, redact


def test_public_url_keeps_only_scheme_host_and_port() -> None:
    for kept in ("http://127.0.0.1:8545", "http://127.0.0.1:8545/", "http://[::1]:5001"):
        assert public_url(kept) == kept.rstrip("/")
    keys = ("https://mainnet.infura.io/v3/0123456789abcdef", "https://eth.example/rpc?key=s", "https://u:p@eth.example")
    assert [public_url(url) for url in keys] == ["https://mainnet.infura.io/…", *["https://eth.example/…"] * 2]
    assert public_url("not a url") == "…"


def test_redact_replaces_secrets_in_keys_values_and_lists_longest_first() -> None:
    url = "https://mainnet.infura.io/v3/0123456789abcdef"
    document = {
        "chain": {"rpc_url": url, "error": f"RPC endpoint {url} is unavailable"},
        "notes": [f"at {url}", 7, None],
        url: "as a key",
    }
    replacements = {url: public_url(url), "https://mainnet.infura.io": "never used alone", "tok3n": "…"}
    cleaned = redact(document, replacements)
    text = repr(cleaned)
    assert "0123456789abcdef" not in text and "never used alone" not in text
    assert cleaned["chain"]["error"] == "RPC endpoint https://mainnet.infura.io/… is unavailable"
    assert cleaned["notes"] == ["at https://mainnet.infura.io/…", 7, None]
    assert redact("a tok3n b", replacements) == "a … b"


def test_ether_is_exact() -> None:
    wei = [0, 10**18, 2 * 10**18, 999704027096162979, 1]
    assert [ether(amount) for amount in wei] == ["0", "1", "2", "0.999704027096162979", "0.000000000000000001"]


def test_exports_are_sorted_and_importable() -> None:
    assert list(dashboard.__all__) == sorted(dashboard.__all__)
    for name in dashboard.__all__:
        assert getattr(dashboard, name) is not None
