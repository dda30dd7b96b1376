"""The golden messages (tests/messages/registry/) replayed against a fresh live gateway.

tests/contract/test_messages.py proves that the golden messages conform to the contract; this test
proves that the gateway really answers them so. The MANIFEST's "#> <n> <request> <response>" lines
give the order (a dependency order: a group before its registrations, ids start at 1 in a fresh
database). Each request gets a WS-Security header of the golden messages' institution's sandbox user,
(the portal's, contract 1.11, one of the sandbox portal user) goes over real HTTP, and its answer must equal the response file once both are canonicalised:
comments and indentation dropped, namespace prefixes resolved (also in a faultcode's QName), and the
values that depend on the day of the run replaced by placeholders, after checking them:

* registeredOn, cancelledOn: the day of the run;
* the number of working days in a LateRegistration / LateDeregistration warning: recomputed from the
  registration's contract or departure date and the day of the run;
* correlationId: a fresh id.

The persons' names, sex, birth dates and residences are the sandbox population register's own data.
The golden messages are for school year 2026-2027; on a day when their dates are no longer valid
(or their warnings could not yet arise) the test is skipped with the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from pathlib import Path

from lxml import etree

from gateway.domain.calendar import SchoolYear, end_of_month, working_days_between
from gateway.domain.model import DEREGISTRATION_DEADLINE_WORKING_DAYS, REGISTRATION_DEADLINE_WORKING_DAYS
from gateway.sandbox import PORTAL_USER
from gateway.soap.types import TNS
from tests.e2e import soap

MESSAGES = Path(__file__).resolve().parents[1] / "messages" / "registry"
MANIFEST = MESSAGES / "MANIFEST"
SOAP_ENV = soap.SOAP11_ENV

PARSER = etree.XMLParser(
    remove_blank_text=True, remove_comments=True, resolve_entities=False, load_dtd=False, no_network=True
)
PREFIXES = {SOAP_ENV: "soap", TNS: "nvs"}
DAY_OF_RUN = ("registeredOn", "cancelledOn")
PORTAL_OPERATIONS = ("GetMyChildren", "GetChildRecord", "GetDataAccessHistory")
WARNING_TEXT = re.compile(r"^(Registered|Deregistered) (\d+) (working days after the (?:contract|departure) date.*)$")
DEADLINES = {
    "LateRegistration": REGISTRATION_DEADLINE_WORKING_DAYS,
    "LateDeregistration": DEREGISTRATION_DEADLINE_WORKING_DAYS,
}


@dataclasses.dataclass(frozen=True)
class Step:
    number: int
    request: str
    response: str


def replay_steps() -> list[Step]:
    steps = []
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        if line.startswith("#>"):
            number, request, response = line[2:].split()
            steps.append(Step(int(number), request, response))
    assert [s.number for s in steps] == list(range(1, len(steps) + 1)), "replay steps must be numbered 1, 2, 3, ..."
    return steps


STEPS = replay_steps()


def load(name: str) -> etree._Element:
    return etree.parse(str(MESSAGES / name), PARSER).getroot()


def q(*names: str) -> str:
    return "/".join(f"{{{TNS}}}{name}" for name in names)


def body_child(envelope: etree._Element) -> etree._Element:
    return envelope.find(f"{{{SOAP_ENV}}}Body")[0]


# --- canonical form -----------------------------------------------------------------------------
def _name(tag: str) -> str:
    qname = etree.QName(tag)
    return f"{PREFIXES.get(qname.namespace, qname.namespace)}:{qname.localname}" if qname.namespace else qname.localname


def canonical_lines(element: etree._Element, depth: int = 0) -> list[str]:
    """One line per element: its resolved name, attributes and (stripped) text, indented by depth."""
    text = (element.text or "").strip()
    if element.tag == "faultcode" and ":" in text:  # a QName: compare its namespace, not its prefix
        prefix, local = text.split(":", 1)
        text = f"{{{PREFIXES.get(element.nsmap.get(prefix), element.nsmap.get(prefix))}}}{local}"
    attributes = "".join(f" @{_name(k)}={v!r}" for k, v in sorted(element.attrib.items()))
    children = [c for c in element if isinstance(c.tag, str)]
    line = "  " * depth + _name(element.tag) + attributes + (f" = {text!r}" if text or not children else "")
    return [line] + [sub_line for child in children for sub_line in canonical_lines(child, depth + 1)]


def stabilise(envelope: etree._Element, today: dt.date | None) -> list[str]:
    """Replace the day-dependent values by placeholders; with ``today`` (the gateway's answer), check them first."""
    problems = []
    for element in envelope.iter():
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        if local in DAY_OF_RUN:
            if today is not None and element.text != today.isoformat():
                problems.append(f"{local} is {element.text}, expected the day of the run {today}")
            element.text = "<day of the run>"
        elif local == "correlationId":
            if today is not None and not re.fullmatch(r"[0-9a-f]{32}", element.text or ""):
                problems.append(f"correlationId {element.text!r} is not a fresh id")
            element.text = "<correlation id>"
    for warning in envelope.iter(f"{{{TNS}}}warning"):
        message = warning.find(q("message"))
        match = WARNING_TEXT.match(message.text or "")
        if match is None:
            continue
        if today is not None:
            expected = late_by(warning, today)
            if expected is not None and int(match[2]) != expected:
                problems.append(f"warning says {match[2]} working days, expected {expected}")
        message.text = f"{match[1]} <n> {match[3]}"
    return problems


def late_by(warning: etree._Element, today: dt.date) -> int | None:
    """Working days from the warning's registration's contract (or departure) date to ``today``."""
    registration = warning.getparent().find(q("registration"))
    code = warning.findtext(q("code"))
    path = {"LateRegistration": ("contract", "date"), "LateDeregistration": ("departure", "date")}.get(code or "")
    if registration is None or path is None or registration.findtext(q(*path)) is None:
        return None
    return working_days_between(dt.date.fromisoformat(registration.findtext(q(*path))), today)


# --- when the golden messages are valid ---------------------------------------------------------------
def stale_reason(today: dt.date) -> str | None:
    """Why the golden messages cannot be replayed today (None: they can)."""
    year = SchoolYear.parse(body_child(load("CreateGroup.request.xml")).findtext(q("schoolYear")))
    if today > year.ends_on:
        return (
            f"the golden messages are written for school year {year}, which ended on {year.ends_on}: "
            "move their dates to the current school year (tests/messages/registry)"
        )
    for step in STEPS:
        payload = body_child(load(step.request))
        departure = payload.findtext(q("departureDate"))
        if departure and dt.date.fromisoformat(departure) > end_of_month(today):
            return (
                f"{step.request}: departureDate {departure} is after the end of the current month, "
                f"which the gateway refuses before {dt.date.fromisoformat(departure).replace(day=1)}"
            )
        for warning in load(step.response).iter(f"{{{TNS}}}warning"):
            code = warning.findtext(q("code"))
            days = late_by(warning, today)
            if code in DEADLINES and days is not None and days <= DEADLINES[code]:
                return (
                    f"{step.response} shows a {code} warning, which does not arise yet on {today} ({days} working days)"
                )
    return None


def institution_user(gateway):
    institution = body_child(load("CreateGroup.response.xml")).findtext(q("group", "institutionCode"))
    return gateway.database.user(institution)


# --- the tests ----------------------------------------------------------------------------------
def test_every_golden_request_and_response_is_replayed():
    """A golden request or response the replay does not use would be an untested promise."""
    listed = [
        line.split()[0]
        for line in MANIFEST.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#") and line.split()[1] == "valid"
    ]
    replayed = {step.request for step in STEPS} | {step.response for step in STEPS}
    # "#= <file> <why>": exercised live elsewhere (their answers carry generated passwords, times and ids).
    elsewhere = {
        line[2:].split()[0] for line in MANIFEST.read_text(encoding="utf-8").splitlines() if line.startswith("#=")
    }
    assert elsewhere <= set(listed), "a #= line names a file that is not a valid golden message"
    assert sorted(set(listed) - replayed - elsewhere) == [], (
        "valid golden messages missing from the MANIFEST's replay (#> lines)"
    )
    assert sorted(replayed - set(listed) - {s.request for s in STEPS if s.request.endswith(".invalid.xml")}) == []


def test_the_gateway_answers_the_golden_requests_with_the_golden_responses(live_gateway):
    today = live_gateway.clock.today()
    reason = stale_reason(today)
    assert reason is None, reason  # the golden messages must fit the tests' pinned day (tests/clock.py)
    user = institution_user(live_gateway)
    portal = live_gateway.database.user_named(PORTAL_USER)
    for step in STEPS:
        # The portal's operations (contract 1.11) are the sandbox portal user's; the rest the institution's.
        caller = portal if etree.QName(body_child(load(step.request))).localname in PORTAL_OPERATIONS else user
        request = soap.add_security((MESSAGES / step.request).read_bytes(), caller.username, caller.password)
        response = soap.post(
            live_gateway.registry_url, request, soap_action=etree.QName(body_child(load(step.request))).localname
        )
        expected = load(step.response)
        is_fault = body_child(expected).tag == f"{{{SOAP_ENV}}}Fault"
        where = f"step {step.number} on {live_gateway.database.kind}: {step.request} -> {step.response}"
        assert response.status_code == (500 if is_fault else 200), (
            f"{where}: HTTP {response.status_code}: {response.text[:800]}"
        )
        assert response.headers.get("Content-Type", "").startswith("text/xml"), (
            f"{where}: {response.headers.get('Content-Type')}"
        )
        actual = etree.fromstring(response.content, PARSER)
        problems = stabilise(actual, today)
        assert not problems, f"{where}: " + "; ".join(problems)
        stabilise(expected, None)
        want, got = canonical_lines(expected), canonical_lines(actual)
        assert got == want, f"{where}: the answer differs from the golden response:\n" + "\n".join(
            difflib.unified_diff(want, got, fromfile=step.response, tofile="gateway", lineterm="")
        )
    # What the replay leaves behind: one group, three registrations (one deregistered, one cancelled, one
    # from the batch, whose refused records and validate-only or atomic batches left nothing), three persons.
    snapshot = live_gateway.database.snapshot()
    assert (snapshot["nvs_group"], snapshot["registration"], snapshot["person"]) == (1, 3, 3)
