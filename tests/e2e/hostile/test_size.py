"""The hostile suite sends at least 300 distinct requests (issue 8): counted here, so that it stays so."""

from __future__ import annotations

from tests.e2e import test_bad_input
from tests.e2e.hostile import test_boundaries, test_http, test_protocol, test_text


def test_the_hostile_suite_sends_at_least_300_distinct_requests() -> None:
    ids = [case.id for table in test_bad_input.TABLES.values() for case in table]
    ids += [case.id for table in test_boundaries.TABLES.values() for case in table]
    ids += [
        case.id
        for case in test_protocol.VERSIONS + test_protocol.MUST_UNDERSTAND + test_protocol.SECURITY + test_protocol.OURS
    ]
    ids += [f"http {name}" for name in test_http.CASES]
    ids += [case.id for case in test_text.cases({"taken": "1", "other": "2", "registration": "3"})]
    assert len(ids) == len(set(ids)), "every case is a request of its own"
    assert len(ids) >= 300, len(ids)
