"""Spyne wire types mirroring ``xsd/nvs-gateway-v1.xsd`` (names, order, occurrences, facets).

The fault detail is not here: ``gateway.soap.app.GatewayFault`` builds it with lxml,
because Spyne cannot serialise a namespaced ComplexModel as fault detail.

The XSD is the contract; these classes only let Spyne (de)serialise it.
``tests/contract/test_wsdl_equivalence.py`` proves the two agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from spyne import Boolean, ComplexModel, Date, DateTime, Decimal, Integer, Integer64, Unicode

TNS = "urn:lt:mokiniu-registras:nvs-gateway:v1"


def required(t):
    return t.customize(min_occurs=1, nillable=False)


def optional(t):
    return t.customize(min_occurs=0, nillable=False)


def many(t, at_most: int | str, at_least: int = 0):
    return t.customize(min_occurs=at_least, max_occurs=at_most, nillable=False)


PersonalCode = Unicode(min_len=11, max_len=11, pattern="[0-9]{11}", type_name="PersonalCode")
SchoolYear = Unicode(
    min_len=9, max_len=9, pattern="(199[0-9]|20[0-9]{2})-(199[1-9]|20[0-9]{2}|2100)", type_name="SchoolYear"
)
RegisterDate = Date(ge=dt.date(1990, 1, 1), le=dt.date(2100, 12, 31), type_name="RegisterDate")
ProgramCode = Unicode(min_len=9, max_len=9, pattern="[0-9]{9}", type_name="ProgramCode")
InstitutionCode = Unicode(min_len=6, max_len=9, pattern="[0-9]{6,9}", type_name="InstitutionCode")
ClassifierCode = Unicode(min_len=1, max_len=20, pattern=r"[A-Za-z0-9._\-]{1,20}", type_name="ClassifierCode")
PersonName = Unicode(min_len=1, max_len=100, type_name="PersonName")
GroupName = Unicode(min_len=1, max_len=200, type_name="GroupName")
ProgramName = Unicode(min_len=1, max_len=500, type_name="ProgramName")
InstitutionName = Unicode(min_len=1, max_len=300, type_name="InstitutionName")
ContractNumber = Unicode(min_len=1, max_len=50, type_name="ContractNumber")
OrderNumber = Unicode(min_len=1, max_len=50, type_name="OrderNumber")
ReasonText = Unicode(min_len=1, max_len=500, type_name="ReasonText")
Identifier = Integer64(ge=1, type_name="Identifier")
Count = Integer(ge=0, type_name="Count")
Sex = Unicode(max_len=1, values=["M", "F"], type_name="Sex")
ProgramPurpose = Unicode(max_len=4, values=["NVS", "FSPU"], type_name="ProgramPurpose")
RegistrationStatus = Unicode(max_len=12, values=["active", "deregistered", "cancelled"], type_name="RegistrationStatus")
WarningCode = Unicode(min_len=1, max_len=50, type_name="WarningCode")
MessageText = Unicode(min_len=1, max_len=1000, type_name="MessageText")
ClassifierName = Unicode(min_len=1, max_len=300, type_name="ClassifierName")
Address = Unicode(min_len=1, max_len=300, type_name="Address")
Month = Unicode(min_len=7, max_len=7, pattern="(199[0-9]|20[0-9]{2}|2100)-(0[1-9]|1[0-2])", type_name="Month")
Amount = Decimal(total_digits=14, fraction_digits=2, ge=0, type_name="Amount")


class Contract(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("typeCode", required(ClassifierCode)),
        ("date", required(RegisterDate)),
        ("number", required(ContractNumber)),
    ]


class Leader(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("firstName", required(PersonName)),
        ("lastName", required(PersonName)),
        ("personalCode", optional(PersonalCode)),
    ]


class DeclaredResidence(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("municipalityCode", optional(ClassifierCode)),
        ("municipalityName", optional(ClassifierName)),
        ("address", optional(Address)),
    ]


class Person(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("personalCode", required(PersonalCode)),
        ("firstName", required(PersonName)),
        ("lastName", required(PersonName)),
        ("sex", optional(Sex)),
        ("birthDate", optional(Date)),
        ("deceasedDate", optional(Date)),
        ("declaredResidence", optional(DeclaredResidence)),
        ("departedAbroadDate", optional(Date)),
    ]


class LastRegistration(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("institutionCode", required(InstitutionCode)),
        ("institutionName", required(InstitutionName)),
        ("firstLearningDate", required(Date)),
        ("departureDate", optional(Date)),
        ("departureReasonCode", optional(ClassifierCode)),
        ("departureReasonName", optional(ClassifierName)),
    ]


class Group(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("groupId", required(Identifier)),
        ("institutionCode", required(InstitutionCode)),
        ("schoolYear", required(SchoolYear)),
        ("programCode", required(ProgramCode)),
        ("programName", required(ProgramName)),
        ("purpose", required(ProgramPurpose)),
        ("name", required(GroupName)),
        ("subDirectionCode", many(ClassifierCode, 20, at_least=1)),
        ("leader", many(Leader, 50)),
        ("activeLearners", required(Count)),
        ("closedOn", optional(Date)),  # since 1.7
        ("rolledOverFromGroupId", optional(Identifier)),  # since 1.7
    ]


class GroupSection(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("purpose", required(ProgramPurpose)),
        ("count", required(Count)),
        ("group", many(Group, 1000)),
    ]


class Departure(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("date", required(Date)),
        ("reasonCode", required(ClassifierCode)),
        ("reasonName", optional(ClassifierName)),
        ("orderNumber", optional(OrderNumber)),
    ]


class Registration(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("registrationId", required(Identifier)),
        ("status", required(RegistrationStatus)),
        ("institutionCode", required(InstitutionCode)),
        ("groupId", required(Identifier)),
        ("groupName", required(GroupName)),
        ("schoolYear", required(SchoolYear)),
        ("programCode", required(ProgramCode)),
        ("person", required(Person)),
        ("firstLearningDate", required(Date)),
        ("contract", optional(Contract)),
        ("registeredOn", required(Date)),
        ("departure", optional(Departure)),
        ("cancelledOn", optional(Date)),
        ("cancellationReason", optional(ReasonText)),
        ("transferredFromRegistrationId", optional(Identifier)),  # since 1.7
    ]


class Warning(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("code", required(WarningCode)),
        ("message", required(MessageText)),
    ]


class FundingMark(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("markId", required(Identifier)),
        ("fundingTypeCode", required(ClassifierCode)),
        ("fundingTypeName", optional(ClassifierName)),
        ("fromMonth", required(Month)),
        ("toMonth", required(Month)),
        ("specialNeeds", required(Boolean)),
    ]


class MonthAvailability(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("month", required(Month)),
        ("available", required(Boolean)),
    ]


class BasketLine(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("institutionCode", required(InstitutionCode)),
        ("institutionName", required(InstitutionName)),
        ("municipalityCode", required(ClassifierCode)),
        ("month", required(Month)),
        ("fundedChildren", required(Count)),
        ("rate", required(Amount)),
        ("amount", required(Amount)),
    ]


# --- access control and accountability (contract 1.1) --------------------------
Username = Unicode(min_len=1, max_len=100, pattern=r"[A-Za-z0-9._@\-]{1,100}", type_name="Username")
Password = Unicode(min_len=1, max_len=128, type_name="Password")
EmailAddress = Unicode(min_len=3, max_len=254, pattern=r"[^@\s]+@[^@\s]+", type_name="EmailAddress")
PhoneNumber = Unicode(min_len=5, max_len=30, pattern=r"\+?[0-9][0-9 ()\-]{4,29}", type_name="PhoneNumber")
PositionTitle = Unicode(min_len=1, max_len=200, type_name="PositionTitle")
FunctionalArea = Unicode(
    max_len=30,
    values=[
        "student-personal-data",
        "student-learning-data",
        "registration-correction",
        "blank-distribution",
        "certificates",
        "basket-calculation",
        "exam-planning",
        "list-forming",
        "competence-assessor",
    ],
    type_name="FunctionalArea",
)
RightLevel = Unicode(max_len=7, values=["viewer", "manager"], type_name="RightLevel")
OperationName = Unicode(min_len=1, max_len=50, type_name="OperationName")
PurposeText = Unicode(min_len=1, max_len=500, type_name="PurposeText")
ShortText = Unicode(min_len=1, max_len=100, type_name="ShortText")
AccessOutcome = Unicode(min_len=1, max_len=50, type_name="AccessOutcome")
CorrelationId = Unicode(min_len=1, max_len=64, type_name="CorrelationId")
PageNumber = Integer(ge=1, type_name="PageNumber")
PageSize = Integer(ge=1, le=100, type_name="PageSize")


class Confirmations(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("lawOnPersonalDataProtectionRead", required(Boolean)),
        ("registerRegulationsRead", required(Boolean)),
        ("userManualRead", required(Boolean)),
        ("confidentialityPledgeSigned", required(Boolean)),
    ]


class ActsFor(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("institutionCode", optional(InstitutionCode)),
        ("municipalityCode", optional(ClassifierCode)),
        ("central", optional(Boolean)),
        ("portal", optional(Boolean)),  # since 1.11
    ]


class UserRight(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("area", required(FunctionalArea)),
        ("level", required(RightLevel)),
    ]


class User(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("username", required(Username)),
        ("firstName", required(PersonName)),
        ("lastName", required(PersonName)),
        ("actsFor", required(ActsFor)),
        ("validFrom", required(Date)),
        ("validUntil", required(Date)),
        ("right", many(UserRight, 9, at_least=1)),
    ]


class AccessRecord(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("at", required(DateTime)),
        ("username", optional(ShortText)),
        ("actsFor", optional(ActsFor)),
        ("operation", required(OperationName)),
        ("requestId", required(CorrelationId)),
        ("purpose", optional(PurposeText)),
        ("xroadIssue", optional(PurposeText)),
        ("xroadUserId", optional(ShortText)),
        ("outcome", required(AccessOutcome)),
    ]


class AdministeredUser(ComplexModel):
    """Contract 1.8: a user as ListUsers and the administration operations show it."""

    __namespace__ = TNS
    _type_info = [
        ("username", required(Username)),
        ("firstName", optional(PersonName)),
        ("lastName", optional(PersonName)),
        ("actsFor", required(ActsFor)),
        ("validFrom", optional(Date)),
        ("validUntil", optional(Date)),
        ("active", required(Boolean)),
        ("issuedBy", optional(ShortText)),
        ("right", many(UserRight, 9)),
    ]


# --- clubs and lists (contract 1.2) ------------------------------------------------
ListPageSize = Integer(ge=1, le=500, type_name="ListPageSize")
Cursor = Unicode(min_len=1, max_len=200, pattern=r"[A-Za-z0-9_\-]{1,200}", type_name="Cursor")


class ListedPerson(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("personalCode", required(PersonalCode)),
        ("firstName", required(PersonName)),
        ("lastName", required(PersonName)),
        ("birthDate", optional(Date)),
    ]


class ListedRegistration(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("registrationId", required(Identifier)),
        ("status", required(RegistrationStatus)),
        ("institutionCode", required(InstitutionCode)),
        ("groupId", required(Identifier)),
        ("groupName", required(GroupName)),
        ("schoolYear", required(SchoolYear)),
        ("programCode", required(ProgramCode)),
        ("programName", required(ProgramName)),
        ("person", required(ListedPerson)),
        ("firstLearningDate", required(Date)),
        ("departureDate", optional(Date)),
        ("departureReasonCode", optional(ClassifierCode)),
        ("departureReasonName", optional(ClassifierName)),
    ]


class BasketRecipient(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("registrationId", required(Identifier)),
        ("institutionCode", required(InstitutionCode)),
        ("month", required(Month)),
        ("person", required(ListedPerson)),
        ("firstLearningDate", required(Date)),
        ("programCode", required(ProgramCode)),
        ("programName", required(ProgramName)),
        ("schoolCode", optional(InstitutionCode)),
        ("schoolMunicipalityCode", optional(ClassifierCode)),
        ("schoolMunicipalityName", optional(ClassifierName)),
    ]


class ClubAttendance(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("attendanceId", required(Identifier)),
        ("institutionCode", required(InstitutionCode)),
        ("schoolYear", required(SchoolYear)),
        ("person", required(ListedPerson)),
        ("directionCode", many(ClassifierCode, 20)),
        ("subDirectionCode", many(ClassifierCode, 40)),
        ("fromDate", required(Date)),
        ("endDate", optional(Date)),
    ]


class RolledOverGroup(ComplexModel):
    """Since 1.7: one group's rollover (RollOverGroupsResponse/rolledOver)."""

    __namespace__ = TNS
    _type_info = [
        ("fromGroupId", required(Identifier)),
        ("group", required(Group)),
        ("created", required(Boolean)),
        ("carriedLearners", required(Count)),
        ("registration", many(Registration, 1000)),
        ("warning", many(Warning, 1000)),
    ]


# --- batches (contract 1.9) ---------------------------------------------------------
RecordIndex = Integer(ge=1, le=500, type_name="RecordIndex")
RecordOutcome = Unicode(max_len=8, values=["stored", "valid", "refused"], type_name="RecordOutcome")
FaultCode = Unicode(min_len=1, max_len=50, type_name="FaultCode")
FieldPath = Unicode(min_len=1, max_len=200, type_name="FieldPath")


class RecordFault(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("code", required(FaultCode)),
        ("message", required(MessageText)),
        ("field", required(FieldPath)),
    ]


class StudentRegistrationRecord(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("personalCode", required(PersonalCode)),
        ("groupId", required(Identifier)),
        ("firstLearningDate", required(RegisterDate)),
        ("contract", optional(Contract)),
    ]


class DeregistrationRecord(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("registrationId", required(Identifier)),
        ("departureDate", required(RegisterDate)),
        ("departureReasonCode", required(ClassifierCode)),
        ("orderNumber", optional(OrderNumber)),
    ]


class FundingRecord(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("registrationId", required(Identifier)),
        ("fundingTypeCode", many(ClassifierCode, 4, at_least=1)),
        ("fromMonth", required(Month)),
        ("toMonth", optional(Month)),
        ("specialNeeds", optional(Boolean)),
    ]


class RegistrationResult(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("index", required(RecordIndex)),
        ("outcome", required(RecordOutcome)),
        ("registration", optional(Registration)),
        ("warning", many(Warning, 10)),
        ("fault", optional(RecordFault)),
    ]


class FundingResult(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("index", required(RecordIndex)),
        ("outcome", required(RecordOutcome)),
        ("registrationId", optional(Identifier)),
        ("mark", many(FundingMark, 100)),
        ("fault", optional(RecordFault)),
    ]


# --- building answers fast -------------------------------------------------------------
_BLANKS: dict[Any, dict[str, object]] = {}


def make(cls: Any, **values: object) -> Any:
    """``cls(**values)`` for an answer's records, without Spyne's per-field ``__init__`` walk (a fifth
    of a 500-record batch answer's CPU): the instance gets exactly the attributes ``__init__`` would
    give it (every field None: these classes declare no defaults), then ``values``."""
    blank = _BLANKS.get(cls)
    if blank is None:
        blank = _BLANKS[cls] = dict(cls().__dict__)
        assert all(v is None for v in blank.values()), f"{cls.__name__} has defaults: build it with {cls.__name__}()"
    instance = cls.__new__(cls)
    instance.__dict__.update(blank)
    instance.__dict__.update(values)
    return instance


# --- the REPORTS menu (contract 1.10) ---------------------------------------------------
StatisticsDimension = Unicode(
    max_len=12,
    values=["municipality", "provider", "direction", "purpose", "ageBand", "sex"],
    type_name="StatisticsDimension",
)


class StatisticsGroup(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("dimension", required(StatisticsDimension)),
        ("code", required(ClassifierCode)),
        ("name", optional(ClassifierName)),
    ]


class DepartureCount(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("reasonCode", required(ClassifierCode)),
        ("reasonName", optional(ClassifierName)),
        ("count", required(Count)),
    ]


class StatisticsCounts(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("learners", required(Count)),
        ("arrivals", required(Count)),
        ("departures", required(Count)),
        ("departure", many(DepartureCount, 100)),
        ("basketRecipients", required(Count)),
        ("basketAmount", required(Amount)),
        ("clubAttendance", required(Count)),
    ]


class StatisticsLine(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("group", many(StatisticsGroup, 2, at_least=1)),
        ("counts", required(StatisticsCounts)),
    ]


# --- citizens through the state e-services portal (contract 1.11) ---------------------
ChildRelation = Unicode(max_len=20, values=["SELF", "LEGAL_REPRESENTATIVE"], type_name="ChildRelation")
ActorKind = Unicode(
    max_len=12, values=["institution", "municipality", "central", "portal", "unknown"], type_name="ActorKind"
)


class PortalChild(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("person", required(Person)),
        ("relation", required(ChildRelation)),
        ("registration", many(Registration, 100)),
    ]


class ChildRegistration(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("registration", required(Registration)),
        ("institutionName", required(InstitutionName)),
        ("programName", required(ProgramName)),
        ("fundingMark", many(FundingMark, 100)),
    ]


class BasketMonth(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("month", required(Month)),
        ("institutionCode", required(InstitutionCode)),
        ("institutionName", required(InstitutionName)),
    ]


class ChildClub(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("institutionCode", required(InstitutionCode)),
        ("institutionName", required(InstitutionName)),
        ("schoolYear", required(SchoolYear)),
        ("directionCode", many(ClassifierCode, 20)),
        ("subDirectionCode", many(ClassifierCode, 40)),
        ("fromDate", required(Date)),
        ("endDate", optional(Date)),
    ]


class DataAccess(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("at", required(DateTime)),
        ("actorKind", required(ActorKind)),
        ("actorCode", optional(ClassifierCode)),
        ("actorName", required(InstitutionName)),
        ("operation", required(OperationName)),
        ("purpose", optional(PurposeText)),
        ("outcome", required(AccessOutcome)),
    ]
