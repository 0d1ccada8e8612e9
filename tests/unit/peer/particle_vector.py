"""The particle signature vector from nox/js-client (runtime-facts.md), shared by the particle and wire tests."""

from __future__ import annotations

from dataclasses import replace

from fluence_dao.peer.particle import KeyPair, Particle

SEED_B64 = "7h48PQ/f1rS9TxacmgODxbD42Il9B3KC117jvOPppPE="
PEER_ID = "12D3KooWANqfCDrV79MZdMnMqTvDdqSAPSxdgFY1L6DCq2DVGB4D"
SIGNATURE_B64 = "KceXDnOfqe0dOnAxiDsyWBIvUq6WHoT0ge+VMHXOZsjZvCNH7/10oufdlYfcPomfv28On6E87ZhDcHGBZcb7Bw=="


def vector_particle(data: bytes = b"") -> Particle:
    """The vector's particle (script "abc") signed with the vector's key: its signature is SIGNATURE_B64."""
    pair = KeyPair.from_base64(SEED_B64)
    unsigned = Particle(
        id="2883f959-e9e7-4843-8c37-205d393ca372",
        init_peer_id=pair.peer_id,
        timestamp_ms=1696934545662,
        ttl_ms=7000,
        script="abc",
    )
    return replace(unsigned, signature=pair.sign(unsigned.signed_bytes()), data=data)
