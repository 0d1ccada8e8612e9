"""CallParameters.from_dict (the CLI's `--call-params`) and the record each host API version receives."""

from __future__ import annotations

import pytest

from fluence_dao.errors import AbiError
from fluence_dao.marine import CallParameters, ParticleParameters, SecurityTetraplet


def test_from_dict_reads_every_field_and_signature_spellings() -> None:
    tetraplet = {"peer_pk": "pk", "service_id": "s", "function_name": "f", "lens": ".$"}
    params = CallParameters.from_dict(
        {
            "particle": {"id": "p", "init_peer_id": "i", "timestamp": 5, "ttl": 7, "script": "(null)",
                         "signature": "0xab01", "token": "t"},
            "service_id": "svc", "service_creator_peer_id": "c", "host_id": "h", "worker_id": "w",
            "tetraplets": [[tetraplet], []],
        }
    )  # fmt: skip
    assert params == CallParameters(
        particle=ParticleParameters("p", "i", 5, 7, "(null)", b"\xab\x01", "t"),
        service_id="svc",
        service_creator_peer_id="c",
        host_id="h",
        worker_id="w",
        tetraplets=((SecurityTetraplet("pk", "s", "f", ".$"),), ()),
    )
    assert CallParameters.from_dict({"particle": {"signature": [1, 2]}}).particle.signature == b"\x01\x02"
    assert CallParameters.from_dict({}) == CallParameters()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"host": "h"}, r"unknown call parameters field\(s\) \['host'\]"),
        ({"particle": {"idd": "p"}}, r"unknown particle field\(s\) \['idd'\]"),
        ({"particle": []}, "particle must be a JSON object"),
        ({"particle": {"ttl": "7"}}, "particle field 'ttl' must be an integer, got '7'"),
        ({"particle": {"ttl": True}}, "'ttl' must be an integer"),
        ({"particle": {"signature": "zz"}}, "particle.signature must be hex"),
        ({"particle": {"signature": [256]}}, "particle.signature must be hex or a list of bytes"),
        ({"particle": {"signature": None}}, "particle.signature must be hex"),
        ({"host_id": 5}, "call parameters field 'host_id' must be a string, got 5"),
        ({"tetraplets": [{"peer_pk": "x"}]}, "'tetraplets' must be a list of lists"),
        ({"tetraplets": [[{"lambda": "x"}]]}, r"unknown tetraplet field\(s\) \['lambda'\]"),
    ],
)
def test_from_dict_names_what_is_wrong(raw: dict[str, object], message: str) -> None:
    with pytest.raises(AbiError, match=message):
        CallParameters.from_dict(raw)


def test_older_host_apis_get_their_own_layout() -> None:
    params = CallParameters(
        particle=ParticleParameters(id="p", init_peer_id="i"),
        worker_id="w",
        tetraplets=((SecurityTetraplet("pk", "s", "f", ".$"),),),
    )
    v0, v1, v2, v3 = (params.for_host_api(v) for v in range(4))
    assert list(v0) == ["init_peer_id", "service_id", "service_creator_peer_id", "host_id", "particle_id", "tetraplets"]
    assert list(v1) == ["init_peer_id", "service_id", "service_creator_peer_id", "host_id", "worker_id",
                        "particle_id", "tetraplets"]  # fmt: skip
    assert v0["particle_id"] == "p" and v1["worker_id"] == "w"
    assert v0["tetraplets"] == [[{"peer_pk": "pk", "service_id": "s", "function_name": "f", "json_path": ".$"}]]
    assert v2["tetraplets"] == [[{"peer_pk": "pk", "service_id": "s", "function_name": "f", "lambda": ".$"}]]
    assert v3["tetraplets"] == [[{"peer_pk": "pk", "service_id": "s", "function_name": "f", "lens": ".$"}]]
    assert v3["particle"] == {"id": "p", "init_peer_id": "i", "timestamp": 0, "ttl": 0, "script": "",
                              "signature": b"", "token": ""}  # fmt: skip
