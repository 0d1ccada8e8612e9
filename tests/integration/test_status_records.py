"""`status` reads each interval's record on its own: a name without a resolver leaves the others readable."""

from __future__ import annotations

import pytest

from fluence_dao.flows.status import written_record

pytestmark = pytest.mark.integration


def test_a_record_of_a_name_without_resolver_reads_as_empty(ens_env) -> None:
    ens_env.ens.set_text("alpha.public-record.eth", "notice", "42", ens_env.gov)
    assert written_record(ens_env.ens, "alpha.public-record.eth", "notice") == "42"
    assert written_record(ens_env.ens, "nobody-registered-this.eth", "notice") == ""


def test_status_on_the_wrong_chain_says_so_instead_of_unreachable(ens_env, tmp_path) -> None:
    from fluence_dao.config import load_settings
    from fluence_dao.flows import FlowContext
    from fluence_dao.flows.status import status

    devnet = ens_env.devnet
    overrides = {"state_dir": tmp_path, "eth": {"rpc_url": devnet.rpc_url, "ens_registry": devnet.registry}}
    settings = load_settings({**overrides, "eth": {**overrides["eth"], "chain_id": 1}}, env_file=None)
    context = FlowContext(settings)
    try:
        report = status(context, None)
    finally:
        context.close()
    assert not report.chain.reachable and report.chain.answers and not report.chain.down
    assert "but chain 1 is configured" in str(report.chain.error)
    assert report.to_dict()["chain"]["answers"] is True
