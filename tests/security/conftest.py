"""The stack an attacker on the same machine meets, brought up as a user does, once for the security suite:
`devnet up`, `publish`, `deploy-signer`, `start-interval --every 1` through the CLI, in a private state dir.

An attacker is a client key that is neither the host, a management peer nor a service creator (`attacker_key`);
the operator is the CLI's own client key (`<state_dir>/client/key`, the management key).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _helpers import Stack, user_stack

AQUA = Path(__file__).resolve().parent / "attacks.aqua"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with user_stack(tmp_path_factory.mktemp("security") / "state") as started:
        yield started


@pytest.fixture(scope="session")
def attacks(compiled_aqua) -> Any:
    return compiled_aqua(AQUA)


@pytest.fixture
def attacker_key() -> Any:
    """A fresh client key: not the host, not a management peer, creator of nothing."""
    from fluence_dao.peer.particle import KeyPair

    return KeyPair.generate()
