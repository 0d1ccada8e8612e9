"""Particle.verify checks each particle's signature once per process, and only a particle identical in every
signed field (and init peer) counts as checked."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fluence_dao.errors import ParticleError
from fluence_dao.peer import particle as particle_module
from fluence_dao.peer.particle import KeyPair, Particle, VerifiedParticles


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ed25519 verification Particle.verify asks for (the real one still runs)."""
    calls: list[str] = []
    real = particle_module.verify_signature

    def counting(peer_id: str, data: bytes, signature: bytes) -> bool:
        calls.append(peer_id)
        return real(peer_id, data, signature)

    monkeypatch.setattr(particle_module, "verify_signature", counting)
    particle_module.verified_particles.clear()
    return calls


def _foreign(script: str = "(null)") -> Particle:
    """A particle signed elsewhere: the same fields and signature, but this process never saw it verified."""
    made = Particle.create(script, KeyPair.generate())
    particle_module.verified_particles.clear()
    return replace(made)


def test_a_valid_particle_is_verified_once(verifications: list[str]) -> None:
    particle = _foreign()
    particle.verify()
    particle.verify()
    replace(particle, data=b"next hop's data").verify()  # data is not signed: the same particle
    assert verifications == [particle.init_peer_id]


def test_a_particle_made_here_needs_no_verification(verifications: list[str]) -> None:
    Particle.create("(null)", KeyPair.generate()).verify()
    assert verifications == []


@pytest.mark.parametrize(
    "change",
    [
        {"script": "(seq (null) (null))"},
        {"id": "another-id"},
        {"timestamp_ms": 1},
        {"ttl_ms": 1},
        {"init_peer_id": KeyPair.generate().peer_id},
    ],
)
def test_a_cached_signature_on_other_fields_is_checked_and_refused(
    verifications: list[str], change: dict[str, object]
) -> None:
    particle = _foreign()
    particle.verify()
    forged = replace(particle, **change)  # type: ignore[arg-type]
    with pytest.raises(ParticleError, match="bad signature"):
        forged.verify()
    assert len(verifications) == 2


def test_a_bad_signature_is_never_remembered(verifications: list[str]) -> None:
    forged = replace(_foreign(), signature=bytes(64))
    for _ in range(2):
        with pytest.raises(ParticleError, match="bad signature"):
            forged.verify()
    assert len(verifications) == 2


def test_the_cache_is_bounded() -> None:
    cache = VerifiedParticles(max_entries=2, max_script_bytes=100)
    pair = KeyPair.generate()
    first, second, third = (Particle.create(f"(null) ;{i}", pair) for i in range(3))
    for particle in (first, second, third):
        cache.add(particle)
    assert first not in cache and second in cache and third in cache
    big = Particle.create("(null) ;" + "x" * 90, pair)
    cache.add(big)  # over max_script_bytes with the others: the least recently used go
    assert big in cache and len(cache) == 1
    cache.add(Particle.create("(null) ;" + "x" * 200, pair))  # larger than the whole budget: not kept
    assert len(cache) == 1


def test_seed_is_the_private_key(tmp_path) -> None:
    pair = KeyPair.load_or_create(tmp_path / "key")
    assert KeyPair.from_seed(pair.secret_seed()).peer_id == pair.peer_id
