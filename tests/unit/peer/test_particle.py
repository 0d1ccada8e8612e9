"""Particle signatures and peer ids against the vector from nox/js-client (runtime-facts.md)."""

from __future__ import annotations

import base64
import os
from dataclasses import replace

import pytest
from particle_vector import PEER_ID, SEED_B64, SIGNATURE_B64, vector_particle

from fluence_dao.errors import ConfigError, ParticleError
from fluence_dao.peer.particle import (
    KeyPair,
    Particle,
    is_peer_id,
    peer_id_from_public_key,
    public_key_from_peer_id,
    verify_signature,
)


def test_vector_peer_id() -> None:
    pair = KeyPair.from_base64(SEED_B64)
    assert pair.peer_id == PEER_ID
    assert public_key_from_peer_id(PEER_ID) == pair.public_key
    assert peer_id_from_public_key(pair.public_key) == PEER_ID


def test_vector_signature() -> None:
    particle = vector_particle()
    assert base64.b64encode(particle.signature).decode() == SIGNATURE_B64
    particle.verify()


def test_tampered_particle_fails_verification() -> None:
    particle = vector_particle()
    for changed in (replace(particle, script="abd"), replace(particle, ttl_ms=7001), replace(particle, id="x")):
        with pytest.raises(ParticleError, match="bad signature"):
            changed.verify()


def test_created_particle_verifies_and_expires() -> None:
    pair = KeyPair.generate()
    particle = Particle.create("(null)", pair, ttl_ms=1000)
    particle.verify()
    assert particle.init_peer_id.startswith("12D3KooW")
    assert not particle.is_expired()
    assert particle.is_expired(particle.timestamp_ms + 1000)


def test_bad_peer_ids() -> None:
    assert is_peer_id(PEER_ID)
    assert not is_peer_id("QmNotAnEd25519Id")
    assert not is_peer_id("0OIl")
    assert not verify_signature("garbage", b"x", b"y")
    with pytest.raises(ParticleError, match="not an ed25519"):
        public_key_from_peer_id("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")


def test_key_file_is_private_and_stable(tmp_path) -> None:
    path = tmp_path / "state" / "peer.key"
    first = KeyPair.load_or_create(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert KeyPair.load_or_create(path).peer_id == first.peer_id
    assert "secret" not in repr(first) and SEED_B64 not in repr(first)


def test_bad_seed_is_rejected() -> None:
    with pytest.raises(ConfigError, match="32-byte"):
        KeyPair.from_seed(b"short")
    with pytest.raises(ConfigError, match="base64"):
        KeyPair.from_base64("not base64 !!")
