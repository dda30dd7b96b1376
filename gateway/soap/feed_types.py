"""Spyne wire types of the change feed, data checks and notices (xsd/nvs-gateway-v1.xsd, version 1.2 section).

Kept beside ``gateway/soap/types.py`` (which they build on) so that each part of the
contract has its own module; ``tests/contract/test_wsdl_equivalence.py`` holds them to the XSD.
"""

from __future__ import annotations

from spyne import Boolean, ComplexModel, Date, DateTime, Integer, Integer64, Unicode

from gateway.soap.types import (
    TNS,
    ClassifierCode,
    Contract,
    Count,
    Departure,
    GroupName,
    Identifier,
    InstitutionCode,
    MessageText,
    Month,
    PersonalCode,
    ProgramCode,
    RegistrationStatus,
    SchoolYear,
    many,
    optional,
    required,
)

ChangeSequence = Integer64(ge=0, type_name="ChangeSequence")
ChangeKind = Unicode(
    max_len=30,
    values=[
        "REGISTERED",
        "CORRECTED",
        "CANCELLED",
        "DEREGISTERED",
        "FUNDING_MARKED",
        "FUNDING_ENDED",
        "FUNDING_REMOVED",
        "CLUB_ATTENDANCE_MARKED",
        "CLUB_ATTENDANCE_ENDED",
        "PERSON_ERASED",  # since 1.12
    ],
    type_name="ChangeKind",
)
FeedLimit = Integer(ge=1, le=1000, type_name="FeedLimit")
InboxLimit = Integer(ge=1, le=500, type_name="InboxLimit")
InboxPageToken = Unicode(min_len=1, max_len=40, pattern=r"[0-9]{1,19}(\.[0-9]{1,19})?", type_name="InboxPageToken")
DataCheckKind = Unicode(max_len=20, values=["POPULATION_REGISTER", "STUDENT_DATA"], type_name="DataCheckKind")
DataIssueCode = Unicode(min_len=1, max_len=50, pattern="[A-Za-z]{1,50}", type_name="DataIssueCode")
NoticeKind = Unicode(
    max_len=30,
    values=["PERSON_DECEASED", "PERSON_DEPARTED_ABROAD", "DEADLINE_PASSED", "DATA_ISSUE", "BASKET_MONTHS_RELEASED"],
    type_name="NoticeKind",
)
NoticeState = Unicode(max_len=14, values=["UNACKNOWLEDGED", "ACKNOWLEDGED", "ALL"], type_name="NoticeState")


class RegistrationChange(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("registrationId", required(Identifier)),
        ("status", required(RegistrationStatus)),
        ("groupId", required(Identifier)),
        ("groupName", required(GroupName)),
        ("schoolYear", required(SchoolYear)),
        ("programCode", required(ProgramCode)),
        ("firstLearningDate", required(Date)),
        ("contract", optional(Contract)),
        ("registeredOn", required(Date)),
        ("departure", optional(Departure)),
        ("cancelledOn", optional(Date)),
    ]


class FundingChange(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("markId", required(Identifier)),
        ("registrationId", required(Identifier)),
        ("fundingTypeCode", required(ClassifierCode)),
        ("fromMonth", required(Month)),
        ("toMonth", required(Month)),
        ("specialNeeds", required(Boolean)),
    ]


class ClubAttendanceChange(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("attendanceId", required(Identifier)),
        ("schoolYear", required(SchoolYear)),
        ("directionCode", many(ClassifierCode, 20)),
        ("subDirectionCode", many(ClassifierCode, 50)),
        ("endedOn", optional(Date)),
    ]


class ErasureChange(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("registrationId", many(Identifier, 1000)),
        ("clubAttendanceId", many(Identifier, 1000)),
    ]


class ChangeEvent(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("sequence", required(ChangeSequence)),
        ("kind", required(ChangeKind)),
        ("occurredAt", required(DateTime)),
        ("institutionCode", required(InstitutionCode)),
        ("personalCode", required(PersonalCode)),
        ("registration", optional(RegistrationChange)),
        ("funding", optional(FundingChange)),
        ("clubAttendance", optional(ClubAttendanceChange)),
        ("erasure", optional(ErasureChange)),  # since 1.12
    ]


class PopulationRegisterCheckStatus(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("checkedAt", required(DateTime)),
        ("personalDataMismatches", required(Count)),
        ("residenceMismatches", required(Count)),
    ]


class StudentDataCheckStatus(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("checkedAt", required(DateTime)),
        ("issues", required(Count)),
    ]


class DataIssue(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("issueId", required(Identifier)),
        ("check", required(DataCheckKind)),
        ("code", required(DataIssueCode)),
        ("message", required(MessageText)),
        ("detectedAt", required(DateTime)),
        ("personalCode", optional(PersonalCode)),
        ("registrationId", optional(Identifier)),
        ("month", many(Month, 24)),
    ]


class Notice(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("noticeId", required(Identifier)),
        ("kind", required(NoticeKind)),
        ("createdAt", required(DateTime)),
        ("message", required(MessageText)),
        ("personalCode", optional(PersonalCode)),
        ("registrationId", optional(Identifier)),
        ("month", many(Month, 24)),
        ("issueCode", optional(DataIssueCode)),
        ("acknowledgedAt", optional(DateTime)),
    ]
