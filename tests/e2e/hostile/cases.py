"""The hostile suite's cases and how they are checked (the checks are test_bad_input's).

A case names the user it signs in as (``username``; the music school's user by default), the
fault code, the `field` and the faultcode expected. Bodies come from the golden requests
(``tests/messages/registry``) with one element's value replaced, so every operation is sent as
its contract says, but for the one value under test. Elements carry the ``nvs`` prefix: field
paths of default-namespace requests are the interop work's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from gateway.sandbox import SandboxUser
from tests.e2e import soap
from tests.e2e.test_bad_input import MESSAGES, MUSIC_SCHOOL, Case, refusal_problems

ADMINISTRATOR = "sandbox-admin"
GENERAL_EDUCATION_SCHOOL = "300000041"  # Vilniaus Saulėtekio gimnazija (sandbox)


@dataclass(frozen=True)
class HostileCase(Case):
    username: str | None = None  # who signs the request; None: the music school's user
    institution: str | None = None  # or the user of this institution


def golden(file: str) -> str:
    return (MESSAGES / file).read_text(encoding="utf-8")


def replaced(document: str, element: str, value: str, *, occurrence: int = 1) -> str:
    """``document`` with the text of its ``occurrence``-th ``nvs:element`` set to ``value`` (raw XML)."""
    pattern = re.compile(rf"(<nvs:{element}>)([^<]*)(</nvs:{element}>)")
    matches = list(pattern.finditer(document))
    assert len(matches) >= occurrence, f"no {occurrence}. nvs:{element} in the template"
    match = matches[occurrence - 1]
    return document[: match.start(2)] + value + document[match.end(2) :]


def signed_document(document: str) -> Callable[[SandboxUser], bytes]:
    return lambda user: soap.add_security(document.encode("utf-8"), user.username, user.password)


def user_of(gateway, case: Case) -> SandboxUser:
    database = gateway.database
    if isinstance(case, HostileCase) and case.username:
        return database.user_named(case.username)
    if isinstance(case, HostileCase) and case.institution:
        return database.user(case.institution)
    return database.user(MUSIC_SCHOOL)


def check(gateway, cases: list[Case], logs: pytest.LogCaptureFixture) -> None:
    """Send every case; fail with every problem of every case, by id."""
    ids = [case.id for case in cases]
    assert len(ids) == len(set(ids)), "case ids must be distinct"
    report = []
    for case in cases:
        problems = refusal_problems(gateway, user_of(gateway, case), case, logs)
        report += [f"[{case.id}] {problem}" for problem in problems]
    assert not report, f"{len(report)} problem(s) in {len(cases)} cases on {gateway.database.kind}:\n" + "\n".join(
        report
    )
