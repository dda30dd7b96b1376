"""Schema faults name the field and say what is wrong in words, whatever prefixes the client chose.

JAX-WS and node `soap` put the operation in a default namespace (``<LookupPerson xmlns="urn:…">``),
zeep and PHP bind a prefix of their own (``ns0:``, ``ns1:``); libxml2 then writes its node path as
``/*/*[4]/*[3]`` or ``/ns0:RegisterStudent/ns0:contract/ns0:number``. The caller gets the same
field and the same message either way, and never a value it sent (it may be a personal code).
"""

from __future__ import annotations

import re

import pytest
from lxml import etree

from gateway.soap.app import contract_schema, describe_schema_error
from gateway.soap.types import TNS

CODE = "51509150009"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def spelled(body: str, spelling: str) -> etree._Element:
    """``body`` (written with the ``nvs:`` prefix) as a client of that spelling sends it."""
    if spelling == "default namespace":
        text = re.sub(r"<(/?)nvs:", r"<\1", body)
        text = re.sub(r"^<(\w+)", rf'<\1 xmlns="{TNS}"', text)
    else:
        text = body.replace("nvs:", f"{spelling}:")
        text = re.sub(r"^<([\w:]+)", rf'<\1 xmlns:{spelling}="{TNS}"', text)
    return etree.fromstring(text)


def refusal(body: etree._Element):
    schema = contract_schema()
    assert not schema.validate(body), "the case must be invalid"
    return describe_schema_error(schema.error_log[0], body)


def contract(number: str = "S-1", *, order: str = "typeCode date number") -> str:
    parts = {
        "typeCode": "<nvs:typeCode>BILATERAL</nvs:typeCode>",
        "date": "<nvs:date>2026-11-02</nvs:date>",
        "number": f"<nvs:number>{number}</nvs:number>",
    }
    return "<nvs:contract>" + "".join(parts[p] for p in order.split()) + "</nvs:contract>"


def register(
    *, code: str = CODE, group: str | None = "1", first: str = "2026-11-02", contract_xml: str | None = None
) -> str:
    return (
        f"<nvs:RegisterStudent><nvs:personalCode>{code}</nvs:personalCode>"
        + (f"<nvs:groupId>{group}</nvs:groupId>" if group is not None else "")
        + f"<nvs:firstLearningDate>{first}</nvs:firstLearningDate>{contract() if contract_xml is None else contract_xml}"
        "</nvs:RegisterStudent>"
    )


def create_group(*, name: str = "Fortepijonas 1", leaders: str = "", subs: int = 1) -> str:
    return (
        "<nvs:CreateGroup><nvs:schoolYear>2026-2027</nvs:schoolYear><nvs:programCode>100000112</nvs:programCode>"
        f"<nvs:name>{name}</nvs:name>"
        + "<nvs:subDirectionCode>MUSIC.PIANO</nvs:subDirectionCode>" * subs
        + leaders
        + "</nvs:CreateGroup>"
    )


def leader(code: str) -> str:
    return f"<nvs:leader><nvs:firstName>Ona</nvs:firstName><nvs:lastName>Kairienė</nvs:lastName><nvs:personalCode>{code}</nvs:personalCode></nvs:leader>"


# (case, body with nvs: prefixes, expected field, expected message)
CASES = [
    (
        "too short",
        f"<nvs:LookupPerson><nvs:personalCode>{CODE[:10]}</nvs:personalCode></nvs:LookupPerson>",
        "personalCode",
        "'personalCode' is too short: 10 characters where the contract requires at least 11.",
    ),
    (
        "too long, nested",
        register(contract_xml=contract("N" * 51)),
        "contract/number",
        "'contract/number' is too long: 51 characters where the contract allows at most 50.",
    ),
    (
        "empty",
        "<nvs:CancelRegistration><nvs:registrationId>1</nvs:registrationId><nvs:reason></nvs:reason></nvs:CancelRegistration>",
        "reason",
        "'reason' is empty: the contract requires at least 1 character.",
    ),
    (
        "pattern, the second of repeated elements",
        create_group(leaders=leader(CODE) + leader(CODE[:-1] + "X")),
        "leader[2]/personalCode",
        "'leader[2]/personalCode' does not match the pattern [0-9]{11} of the contract.",
    ),
    (
        "enumeration",
        "<nvs:ListGroups><nvs:schoolYear>2026-2027</nvs:schoolYear><nvs:purpose>NVŠ</nvs:purpose></nvs:ListGroups>",
        "purpose",
        "'purpose' must be one of NVS, FSPU.",
    ),
    ("not a whole number", register(group="abc"), "groupId", "'groupId' must be a whole number."),
    (
        "not a date",
        register(first="2 November 2026"),
        "firstLearningDate",
        "'firstLearningDate' must be a date (YYYY-MM-DD).",
    ),
    (
        "below the minimum",
        "<nvs:DeregisterStudent><nvs:registrationId>0</nvs:registrationId><nvs:departureDate>2026-11-27</nvs:departureDate>"
        "<nvs:departureReasonCode>PARENTS_REQUEST</nvs:departureReasonCode></nvs:DeregisterStudent>",
        "registrationId",
        "'registrationId' must be at least 1.",
    ),
    ("missing at the end", "<nvs:LookupPerson/>", "personalCode", "'personalCode' is missing."),
    (
        "missing in the middle",
        register(group=None),
        "groupId",
        "'groupId' is missing (found 'firstLearningDate' in its place).",
    ),
    (
        "misplaced",
        register(contract_xml=contract(order="number typeCode date")),
        "contract/number",
        "'contract/number' is not expected here: the contract has 'typeCode' at this place.",
    ),
    (
        "one too many",
        create_group(subs=21),
        "subDirectionCode[21]",
        "'subDirectionCode[21]' is one more than the contract allows (at most 20).",
    ),
    (
        "a second of a single element",
        f"<nvs:LookupPerson><nvs:personalCode>{CODE}</nvs:personalCode><nvs:personalCode>{CODE}</nvs:personalCode>"
        "</nvs:LookupPerson>",
        "personalCode[2]",
        "'personalCode[2]' is one more than the contract allows (at most 1).",
    ),
    (
        "an element of another namespace",
        f'<nvs:LookupPerson><nvs:personalCode>{CODE}</nvs:personalCode><x:admin xmlns:x="urn:x">1</x:admin>'
        "</nvs:LookupPerson>",
        "admin",
        "'admin' is not expected here: the contract allows nothing more at this place.",
    ),
    (
        "an unqualified child",
        f'<nvs:GetStudent><personalCode xmlns="">{CODE}</personalCode></nvs:GetStudent>',
        "personalCode",
        f"'personalCode' is in no namespace; the contract has it in {TNS}.",
    ),
    (
        "nil",
        create_group().replace("<nvs:name>Fortepijonas 1</nvs:name>", f'<nvs:name xmlns:xsi="{XSI}" xsi:nil="true"/>'),
        "name",
        "'name' must have a value (xsi:nil is not allowed).",
    ),
]
SPELLINGS = ["nvs", "ns0", "default namespace"]


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize(("case", "body", "field", "message"), CASES, ids=[c[0] for c in CASES])
def test_the_fault_names_the_field_in_words_whatever_the_prefixes(case, body, field, message, spelling) -> None:
    refused = refusal(spelled(body, spelling))
    assert (refused.field, refused.message) == (field, message)


@pytest.mark.parametrize(("case", "body", "field", "message"), CASES, ids=[c[0] for c in CASES])
def test_no_message_repeats_a_value_or_speaks_libxml2(case, body, field, message) -> None:
    text = refusal(spelled(body, "default namespace")).message
    for leaked in (CODE, CODE[:10], CODE[:-1] + "X", "NVŠ", "abc", "2 November"):
        assert leaked not in text
    for jargon in ("Expected is", "{urn:", "[facet", "*", "  ", "nvs:"):
        assert jargon not in text, f"{jargon!r} in {text!r}"
