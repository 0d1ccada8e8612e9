"""`status` reads each interval's record on its own: a name without a resolver leaves the others readable."""

from __future__ import annotations

import pytest

from fluence_dao.flows.status import written_record

pytestmark = pytest.mark.integration


def test_a_record_of_a_name_without_resolver_reads_as_empty(ens_env) -> None:
    ens_env.ens.set_text("alpha.public-record.eth", "notice", "42", ens_env.gov)
    assert written_record(ens_env.ens, "alpha.public-record.eth", "notice") == "42"
    assert written_record(ens_env.ens, "nobody-registered-this.eth", "notice") == ""
