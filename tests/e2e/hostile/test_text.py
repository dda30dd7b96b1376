"""Free text that is empty once the invisible characters are left out, names that look like one
already taken, and injection strings where codes belong: each a Client fault naming the field.

Before 1.4 a group called U+200B (zero-width space) was created, and ``Šokis`` in NFD beside
``Šokis`` in NFC, or ``main `` beside ``main``, made two groups that look the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from gateway.soap.types import TNS
from tests.e2e import soap
from tests.e2e.helpers import child_code
from tests.e2e.hostile.cases import HostileCase, check, golden, replaced, signed_document
from tests.e2e.test_bad_input import MUSIC_SCHOOL, contract, create_group, leader, register, signed

SCHOOL_YEAR = "2026-2027"  # any school year of the range: nothing here depends on today
TAKEN = "Šokis"
OTHER = "Dailė"
CHILD = child_code(dt.date(2015, 5, 5), 515)

INVISIBLE = {
    "zero-width space": "\u200b",
    "soft hyphen": "\u00ad",
    "Hangul filler": "\u3164",
    "halfwidth Hangul filler": "\uffa0",
    "word joiner": "\u2060",
    "byte order mark": "\ufeff",
    "zero-width joiner and non-joiner": "\u200d\u200c",
    "no-break space": "\u00a0",
    "ideographic space": "\u3000",
    "tab and line feed": "\t\n",
    "combining grapheme joiner": "\u034f",
    "a variation selector": "\ufe0f",
    "Mongolian vowel separator": "\u180e",
    "bidi controls only": "\u202e\u202c",
    "tag characters": "\U000e0041\U000e0042",
    "a mixture": " \u200b\u00ad\u3164\u2060 ",
}
SOME = (
    "zero-width space",
    "soft hyphen",
    "Hangul filler",
    "byte order mark",
    "a mixture",
    "no-break space",
    "word joiner",
    "tab and line feed",
)


@pytest.fixture(scope="module")
def setting(shared_gateway) -> Iterator[dict[str, str]]:
    """Two groups and a registration of the music school, made before any case is sent."""
    user = shared_gateway.database.user(MUSIC_SCHOOL)

    def call(body: str):
        return soap.parse_success(soap.post(shared_gateway.registry_url, signed(body)(user)))

    taken = soap.text_of(call(create_group(TAKEN, year=SCHOOL_YEAR)), "group/groupId")
    other = soap.text_of(call(create_group(OTHER, year=SCHOOL_YEAR)), "group/groupId")
    registered = call(
        register(code=CHILD, group_id=taken, first="2026-09-01", contract_xml=contract(date="2026-09-01"))
    )
    yield {"taken": taken, "other": other, "registration": soap.text_of(registered, "registration/registrationId")}


def update_group(group_id: str, name: str) -> str:
    return replaced(replaced(golden("UpdateGroup.request.xml"), "groupId", group_id), "name", name)


def cases(setting: dict[str, str]) -> list[HostileCase]:
    taken, other, registration = setting["taken"], setting["other"], setting["registration"]
    found = []
    for what, blank in INVISIBLE.items():
        found.append(
            HostileCase(
                f"CreateGroup name of {what}",
                signed(create_group(f"{blank}", year=SCHOOL_YEAR)),
                "InvalidGroupName",
                field="name",
            )
        )
        found.append(
            HostileCase(
                f"UpdateGroup name of {what}",
                signed_document(update_group(other, blank)),
                "InvalidGroupName",
                field="name",
            )
        )
    for what in SOME:
        blank = INVISIBLE[what]
        found += [
            HostileCase(
                f"leader firstName of {what}",
                signed(create_group("Grupė X", year=SCHOOL_YEAR, leaders=leader(first=blank, code=None))),
                "BlankText",
                field="leader[1]/firstName",
            ),
            HostileCase(
                f"second leader's lastName of {what}",
                signed(
                    create_group("Grupė Y", year=SCHOOL_YEAR, leaders=leader(code=None) + leader(last=blank, code=None))
                ),
                "BlankText",
                field="leader[2]/lastName",
            ),
            HostileCase(
                f"contract number of {what}",
                signed(
                    register(
                        code=child_code(dt.date(2015, 6, 6), 616),
                        group_id=taken,
                        first="2026-09-01",
                        contract_xml=contract(date="2026-09-01", number=blank),
                    )
                ),
                "BlankText",
                field="contract/number",
            ),
            HostileCase(
                f"cancellation reason of {what}",
                signed(
                    f"<nvs:CancelRegistration><nvs:registrationId>{registration}</nvs:registrationId><nvs:reason>{blank}</nvs:reason>"
                    "</nvs:CancelRegistration>"
                ),
                "BlankText",
                field="reason",
            ),
            HostileCase(
                f"order number of {what}",
                signed_document(
                    replaced(
                        replaced(golden("DeregisterStudent.request.xml"), "registrationId", registration),
                        "orderNumber",
                        blank,
                    )
                ),
                "BlankText",
                field="orderNumber",
            ),
        ]
    for what, same in {
        "in NFD": "S\u030cokis",
        "with spaces around": "  Šokis ",
        "in capitals": "ŠOKIS",
        "in small letters": "šokis",
        "with a soft hyphen inside": "Šo\u00adkis",
        "with a zero-width space at the end": "Šokis\u200b",
        "with a zero-width space inside": "Šo\u200bkis",
        "with a no-break space at the end": "Šokis\u00a0",
        "in NFD capitals with a tab": "S\u030cOKIS\t",
    }.items():
        found.append(
            HostileCase(
                f"CreateGroup {TAKEN!r} {what}",
                signed(create_group(same, year=SCHOOL_YEAR)),
                "DuplicateGroupName",
                field="name",
            )
        )
    found.append(
        HostileCase(
            "UpdateGroup renaming another group to the taken name in capitals",
            signed_document(update_group(other, "ŠOKIS ")),
            "DuplicateGroupName",
            field="name",
        )
    )
    injections = {
        "personalCode": (
            golden("LookupPerson.request.xml"),
            "personalCode",
            "' OR 1=1--",
            "InvalidMessage",
            "personalCode",
        ),
        "schoolYear": (golden("ListGroups.request.xml"), "schoolYear", "2026-2027'--", "InvalidMessage", "schoolYear"),
        "institutionCode": (
            golden("GetStudent.request.xml").replace(
                "</nvs:personalCode>", "</nvs:personalCode><nvs:institutionCode>1</nvs:institutionCode>"
            ),
            "institutionCode",
            "1 OR 1=1",
            "InvalidMessage",
            "institutionCode",
        ),
        "programCode": (
            golden("CreateGroup.request.xml"),
            "programCode",
            "100000112;DROP",
            "InvalidMessage",
            "programCode",
        ),
        "subDirectionCode": (
            golden("CreateGroup.request.xml"),
            "subDirectionCode",
            "MUSIC' OR '1",
            "InvalidMessage",
            "subDirectionCode[1]",
        ),
        "fundingTypeCode": (
            golden("MarkFunding.request.xml"),
            "fundingTypeCode",
            "NVS_BASKET'--",
            "InvalidMessage",
            "fundingTypeCode[1]",
        ),
        "departureReasonCode": (
            golden("DeregisterStudent.request.xml"),
            "departureReasonCode",
            "X%' --",
            "InvalidMessage",
            "departureReasonCode",
        ),
        "cursor": (
            golden("ListArrivals.request.xml").replace("</nvs:toDate>", "</nvs:toDate><nvs:cursor>x</nvs:cursor>"),
            "cursor",
            "' OR '1'='1",
            "InvalidMessage",
            "cursor",
        ),
        "a well-formed cursor that is not one": (
            golden("ListArrivals.request.xml").replace("</nvs:toDate>", "</nvs:toDate><nvs:cursor>x</nvs:cursor>"),
            "cursor",
            "JyBPUiAxPTEtLQ",
            "InvalidCursor",
            "cursor",
        ),
        "an unknown sub-direction": (
            golden("CreateGroup.request.xml"),
            "subDirectionCode",
            "MUSIC.%",
            "InvalidMessage",
            "subDirectionCode[1]",
        ),
    }
    for what, (document, element, value, code, field) in injections.items():
        found.append(
            HostileCase(
                f"injection string in {what}", signed_document(replaced(document, element, value)), code, field=field
            )
        )
    return found


def test_blank_text_duplicate_names_and_injection_strings_are_client_faults_naming_the_field(
    shared_gateway, setting, logs
):
    check(shared_gateway, cases(setting), logs)


def test_names_come_back_as_stored_once_normalised(shared_gateway, setting):
    listed = soap.parse_success(
        soap.post(
            shared_gateway.registry_url,
            signed(f"<nvs:ListGroups><nvs:schoolYear>{SCHOOL_YEAR}</nvs:schoolYear></nvs:ListGroups>")(
                shared_gateway.database.user(MUSIC_SCHOOL)
            ),
        )
    )
    assert sorted(n.text for n in listed.iter(f"{{{TNS}}}name")) == sorted([TAKEN, OTHER])
