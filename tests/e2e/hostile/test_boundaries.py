"""Boundary values of every date, month, school year and identifier a request carries.

Dates, months and school years of the register lie between 1990 and 2100 (contract 1.4):
outside, or not a value of the type at all, the answer is a Client fault naming the field, never
the Server fault a year 0000 or 9999 used to get. Each case sends one operation's golden request
with one value replaced.
"""

from __future__ import annotations

from typing import TypedDict

from tests.e2e.hostile.cases import (
    ADMINISTRATOR,
    GENERAL_EDUCATION_SCHOOL,
    HostileCase,
    check,
    golden,
    replaced,
    signed_document,
)

# (golden request, element, its occurrence, the field the fault names, who may call it)
DATE_FIELDS = [
    ("RegisterStudent.request.xml", "firstLearningDate", 1, "firstLearningDate", None),
    ("RegisterStudent.request.xml", "date", 1, "contract/date", None),
    ("CorrectRegistration.request.xml", "firstLearningDate", 1, "firstLearningDate", None),
    ("CorrectRegistration.request.xml", "date", 1, "contract/date", None),
    ("DeregisterStudent.request.xml", "departureDate", 1, "departureDate", None),
    ("MarkClubAttendance.request.xml", "fromDate", 1, "fromDate", GENERAL_EDUCATION_SCHOOL),
    ("EndClubAttendance.request.xml", "endDate", 1, "endDate", GENERAL_EDUCATION_SCHOOL),
    ("ListArrivals.request.xml", "fromDate", 1, "fromDate", None),
    ("ListArrivals.request.xml", "toDate", 1, "toDate", None),
    ("ListDepartures.request.xml", "fromDate", 1, "fromDate", None),
    ("ListDepartures.request.xml", "toDate", 1, "toDate", None),
    ("ListClubAttendance.request.xml", "activeOn", 1, "activeOn", None),
    ("RegisterUser.request.xml", "validFrom", 1, "validFrom", ADMINISTRATOR),
    ("RegisterUser.request.xml", "validUntil", 1, "validUntil", ADMINISTRATOR),
    ("RegisterUser.request.xml", "filledOn", 1, "filledOn", ADMINISTRATOR),
    ("GetAccessLog.request.xml", "dateFrom", 1, "dateFrom", ADMINISTRATOR),
    ("GetAccessLog.request.xml", "dateTo", 1, "dateTo", ADMINISTRATOR),
]
BAD_DATES = {
    "the day before 1990": "1989-12-31",
    "the day after 2100": "2101-01-01",
    "year 0001": "0001-01-01",
    "year 0000": "0000-01-01",
    "year 9999": "9999-12-31",
    "year 10000": "10000-09-01",
    "a negative year": "-2026-09-01",
    "30 February": "2026-02-30",
    "29 February of a common year": "2027-02-29",
    "month 13": "2026-13-01",
    "unpadded": "2026-9-1",
    "a date-time": "2026-09-01T00:00:00",
    "empty": "",
    "an injection string": "2026-09-01' OR '1'='1",
}


class Signer(TypedDict, total=False):
    """Who signs a HostileCase: a user by name, or an institution's user."""

    username: str
    institution: str


def _user(who: str | None) -> Signer:
    if who is None:
        return {}
    return {"username": who} if not who.isdigit() else {"institution": who}


DATES = [
    HostileCase(
        f"{file.split('.')[0]} {field}: {what} ({value!r})",
        signed_document(replaced(golden(file), element, value, occurrence=n)),
        "InvalidMessage",
        field=field,
        **_user(who),
    )
    for file, element, n, field, who in DATE_FIELDS
    for what, value in BAD_DATES.items()
]

MONTH_FIELDS = [
    ("MarkFunding.request.xml", "fromMonth", "fromMonth", None),
    ("EndFunding.request.xml", "lastFundedMonth", "lastFundedMonth", None),
    ("CheckBasketAvailability.request.xml", "fromMonth", "fromMonth", None),
    ("CheckBasketAvailability.request.xml", "toMonth", "toMonth", None),
    ("CalculateBasket.request.xml", "fromMonth", "fromMonth", None),
    ("CalculateBasket.request.xml", "toMonth", "toMonth", None),
    ("ListBasketRecipients.request.xml", "month", "month", None),
]
BAD_MONTHS = {
    "year 0000": "0000-01",
    "year 0000, February": "0000-02",
    "the month before 1990": "1989-12",
    "the month after 2100": "2101-01",
    "year 9999": "9999-12",
    "month 00": "2026-00",
    "month 13": "2026-13",
    "unpadded": "2026-9",
    "a date": "2026-09-01",
    "a slash": "2026/09",
}
MONTHS = [
    HostileCase(
        f"{file.split('.')[0]} {field}: {what} ({value!r})",
        signed_document(replaced(golden(file), element, value)),
        "InvalidMessage",
        field=field,
        **_user(who),
    )
    for file, element, field, who in MONTH_FIELDS
    for what, value in BAD_MONTHS.items()
]
# Well-formed and in range, but the range itself is wrong: the domain says so.
MONTH_RANGES = [
    HostileCase(
        "CheckBasketAvailability 1990-01 to 2100-12: too many months",
        signed_document(
            replaced(
                replaced(golden("CheckBasketAvailability.request.xml"), "fromMonth", "1990-01"), "toMonth", "2100-12"
            )
        ),
        "InvalidFundingPeriod",
        field="toMonth",
    ),
    HostileCase(
        "CalculateBasket 2100-12 to 1990-01: backwards",
        signed_document(
            replaced(replaced(golden("CalculateBasket.request.xml"), "fromMonth", "2100-12"), "toMonth", "1990-01")
        ),
        "InvalidFundingPeriod",
        field="toMonth",
    ),
]

SCHOOL_YEAR_FIELDS = [
    ("CreateGroup.request.xml", None),
    ("ListGroups.request.xml", None),
    ("ListLearners.request.xml", None),
    ("MarkClubAttendance.request.xml", GENERAL_EDUCATION_SCHOOL),
    ("ListClubAttendance.request.xml", None),
]
BAD_SCHOOL_YEARS = {
    "years 0000-0001": ("0000-0001", "InvalidMessage"),
    "the year before 1990": ("1989-1990", "InvalidMessage"),
    "the year after 2100": ("2100-2101", "InvalidMessage"),
    "years 9998-9999": ("9998-9999", "InvalidMessage"),
    "a slash": ("2026/2027", "InvalidMessage"),
    "short years": ("26-27", "InvalidMessage"),
    "years not consecutive": ("2026-2028", "InvalidSchoolYear"),
    "years backwards": ("2027-2026", "InvalidSchoolYear"),
    "one year twice": ("2026-2026", "InvalidSchoolYear"),
}
SCHOOL_YEARS = [
    HostileCase(
        f"{file.split('.')[0]} schoolYear: {what} ({value!r})",
        signed_document(replaced(golden(file), "schoolYear", value)),
        code,
        field="schoolYear",
        **_user(who),
    )
    for file, who in SCHOOL_YEAR_FIELDS
    for what, (value, code) in BAD_SCHOOL_YEARS.items()
]

IDENTIFIER_FIELDS = [
    ("RegisterStudent.request.xml", "groupId", None),
    ("UpdateGroup.request.xml", "groupId", None),
    ("CorrectRegistration.request.xml", "registrationId", None),
    ("CancelRegistration.request.xml", "registrationId", None),
    ("DeregisterStudent.request.xml", "registrationId", None),
    ("MarkFunding.request.xml", "registrationId", None),
    ("EndFunding.request.xml", "registrationId", None),
    ("GetFunding.request.xml", "registrationId", None),
    ("EndClubAttendance.request.xml", "attendanceId", GENERAL_EDUCATION_SCHOOL),
    ("AcknowledgeNotice.request.xml", "noticeId", None),
]
BAD_IDENTIFIERS = {
    "zero": "0",
    "negative": "-1",
    "one above xs:long": "9223372036854775808",
    "a fraction": "1.5",
    "an exponent": "1e3",
    "hexadecimal": "0x10",
    "letters": "abc",
    "empty": "",
    "an injection string": "1 OR 1=1",
}
IDENTIFIERS = [
    HostileCase(
        f"{file.split('.')[0]} {element}: {what} ({value!r})",
        signed_document(replaced(golden(file), element, value)),
        "InvalidMessage",
        field=element,
        **_user(who),
    )
    for file, element, who in IDENTIFIER_FIELDS
    for what, value in BAD_IDENTIFIERS.items()
]
# xs:long's maximum is a valid identifier of nothing: the domain answers, with the field.
NOT_FOUND = [
    HostileCase(
        "GetFunding registrationId at xs:long's maximum",
        signed_document(replaced(golden("GetFunding.request.xml"), "registrationId", "9223372036854775807")),
        "RegistrationNotFound",
        field="registrationId",
    ),
    HostileCase(
        "UpdateGroup groupId at xs:long's maximum",
        signed_document(replaced(golden("UpdateGroup.request.xml"), "groupId", "9223372036854775807")),
        "GroupNotFound",
        field="groupId",
    ),
    HostileCase(
        "AcknowledgeNotice noticeId at xs:long's maximum",
        signed_document(replaced(golden("AcknowledgeNotice.request.xml"), "noticeId", "9223372036854775807")),
        "NoticeNotFound",
        field="noticeId",
    ),
    HostileCase(
        "EndClubAttendance attendanceId at xs:long's maximum",
        signed_document(replaced(golden("EndClubAttendance.request.xml"), "attendanceId", "9223372036854775807")),
        "ClubAttendanceNotFound",
        field="attendanceId",
        institution=GENERAL_EDUCATION_SCHOOL,
    ),
]

PAGE_FIELDS = [
    ("ListLearners.request.xml", "pageSize", ("0", "501", "-1", "abc")),
    ("GetAccessLog.request.xml", "pageSize", ("0", "101", "-1")),
    ("GetAccessLog.request.xml", "page", ("0", "-1", "abc")),
    ("GetChanges.request.xml", "limit", ("0", "1001", "-1")),
    ("GetChanges.request.xml", "after", ("-1", "9223372036854775808", "abc")),
]
PAGES = [
    HostileCase(
        f"{file.split('.')[0]} {element}: {value!r}",
        signed_document(replaced(golden(file), element, value)),
        "InvalidMessage",
        field=element,
        **(Signer(username=ADMINISTRATOR) if file.startswith("GetAccessLog") else Signer()),
    )
    for file, element, values in PAGE_FIELDS
    for value in values
]

TABLES = {
    "dates": DATES,
    "months": MONTHS + MONTH_RANGES,
    "school-years": SCHOOL_YEARS,
    "identifiers": IDENTIFIERS + NOT_FOUND + PAGES,
}


def test_every_date_outside_1990_to_2100_or_not_a_date_is_a_client_fault_naming_the_field(shared_gateway, logs):
    check(shared_gateway, DATES, logs)


def test_every_month_outside_1990_to_2100_or_not_a_month_is_a_client_fault_naming_the_field(shared_gateway, logs):
    check(shared_gateway, MONTHS + MONTH_RANGES, logs)


def test_every_school_year_outside_1990_to_2100_or_not_consecutive_is_a_client_fault(shared_gateway, logs):
    check(shared_gateway, SCHOOL_YEARS, logs)


def test_identifiers_and_page_sizes_beyond_their_bounds_are_client_faults(shared_gateway, logs):
    check(shared_gateway, IDENTIFIERS + NOT_FOUND + PAGES, logs)
