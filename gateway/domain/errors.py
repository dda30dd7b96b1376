"""The register's errors. Each has a stable public ``code`` (part of the contract:
add codes, never rename them) and a role: the caller can fix a ``RequestRejected``
(SOAP faultcode Client); ``ServiceUnavailable`` is ours or upstream's (Server).

GatewayError
  RequestRejected                   -> Client (VersionMismatch and MustUnderstand: SOAP 1.1 §4.4.1)
    InvalidMessage, MalformedMessage, ForbiddenXmlConstruct, RequestTooLarge,
    UnknownOperation, InvalidXRoadHeader,
    AuthenticationFailed, AccountLocked, MessageExpired, TokenReplayed,
    CredentialsExpired, CredentialsNotYetValid, AccessDenied,
    InvalidUserRequest, ConfidentialityPledgeNotSigned, WrongIssuer, DuplicateUser, UserNotFound, OwnAccount, PasswordTooWeak,
    InvalidPersonalCode, PersonNotFound, PersonDeceased, ...
  ServiceUnavailable                -> Server
    PopulationRegisterUnavailable, InternalError

The catalogue of codes with their meaning and the caller's remedy is data:
``gateway/faults.toml``; a test keeps it and these classes in step.
"""

from __future__ import annotations

from typing import ClassVar


class GatewayError(Exception):
    code: ClassVar[str] = "GatewayError"
    role: ClassVar[str] = "Server"
    default_message: ClassVar[str] = "The request could not be processed."

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = message or self.default_message
        self.field = field
        super().__init__(self.message)


class RequestRejected(GatewayError):
    role = "Client"


class ServiceUnavailable(GatewayError):
    role = "Server"


# --- the message itself -------------------------------------------------------
class MalformedMessage(RequestRejected):
    code = "MalformedMessage"
    default_message = "The request is not a well-formed SOAP 1.1 message."


class ForbiddenXmlConstruct(RequestRejected):
    code = "ForbiddenXmlConstruct"
    default_message = "DTDs and entity declarations are not allowed in SOAP messages."


class RequestTooLarge(RequestRejected):
    code = "RequestTooLarge"
    default_message = "The request body is larger than this gateway accepts."


class UnknownOperation(RequestRejected):
    code = "UnknownOperation"
    default_message = "The body's element is not an operation of this service."


class SoapVersionMismatch(RequestRejected):
    """SOAP 1.1 §4.4.1: an Envelope in another namespace (SOAP 1.2) gets faultcode VersionMismatch."""

    code = "VersionMismatch"
    role = "VersionMismatch"
    default_message = (
        "This service speaks SOAP 1.1 only (envelope namespace http://schemas.xmlsoap.org/soap/envelope/, "
        "Content-Type text/xml); the message is in another SOAP version."
    )


class HeaderNotUnderstood(RequestRejected):
    """SOAP 1.1 §4.4.1: a mandatory header we do not process gets faultcode MustUnderstand."""

    code = "HeaderNotUnderstood"
    role = "MustUnderstand"
    default_message = "A SOAP header marked mustUnderstand is not processed by this service."


class InvalidMessage(RequestRejected):
    code = "InvalidMessage"
    default_message = "The request does not conform to the published schema."


class DateOutOfRange(RequestRejected):
    code = "DateOutOfRange"
    default_message = "Dates, months and school years of the register lie between 1990 and 2100."


class BlankText(RequestRejected):
    code = "BlankText"
    default_message = "The text is empty or holds only white space or invisible characters."


# --- who is calling -----------------------------------------------------------
class AuthenticationFailed(RequestRejected):
    code = "AuthenticationFailed"
    default_message = "Authentication failed: a valid WS-Security UsernameToken is required."


class AccountLocked(RequestRejected):
    code = "AccountLocked"
    default_message = "Too many failed log-ins with this user name: it is locked for a while. Try again later."


class MessageExpired(RequestRejected):
    code = "MessageExpired"
    default_message = "The UsernameToken's Created time is more than 5 minutes away from the gateway's clock."


class TokenReplayed(RequestRejected):
    code = "TokenReplayed"
    default_message = "This UsernameToken nonce was already used: every PasswordDigest token needs a fresh nonce."


class RequestIdReused(RequestRejected):
    code = "RequestIdReused"
    default_message = (
        "This requestId was already used by you for a different request: a requestId names one request; "
        "send a new one for a new request."
    )

    def __init__(self, message: str | None = None, *, field: str | None = "requestId") -> None:
        super().__init__(message, field=field)


class RequestReplayExpired(RequestRejected):
    code = "RequestReplayExpired"
    default_message = (
        "This RegisterUser request was done: the user was registered by it, but its initial password is shown "
        "again only shortly after. Ask the register's operator to reset the user's password "
        "(nvs-gateway users reset-password USERNAME); the user then changes it with ChangePassword."
    )

    def __init__(self, message: str | None = None, *, field: str | None = "requestId") -> None:
        super().__init__(message, field=field)


class CredentialsExpired(RequestRejected):
    code = "CredentialsExpired"
    default_message = "The user's registration has expired (its valid-until date has passed)."


class CredentialsNotYetValid(RequestRejected):
    code = "CredentialsNotYetValid"
    default_message = "The user's registration is not valid yet (its valid-from date is in the future)."


class AccessDenied(RequestRejected):
    code = "AccessDenied"
    default_message = "The user has no right to this operation."


class InvalidXRoadHeader(RequestRejected):
    code = "InvalidXRoadHeader"
    default_message = "The X-Road headers are incomplete or do not match the request."


class CitizenNotIdentified(RequestRejected):
    """A portal call (contract 1.11) without a valid citizen in the X-Road userId header."""

    code = "CitizenNotIdentified"
    default_message = "A portal call names the citizen in the X-Road userId header: LT and a valid personal code."

    def __init__(self, message: str | None = None, *, field: str | None = "userId") -> None:
        super().__init__(message, field=field)


class ChildNotFound(RequestRejected):
    """A person the citizen does not represent, or one nobody knows: the same answer (contract 1.11)."""

    code = "ChildNotFound"
    default_message = "There is no child with this personal code whose data you may see."

    def __init__(self, message: str | None = None, *, field: str | None = "personalCode") -> None:
        super().__init__(message, field=field)


class InstitutionCodeRequired(RequestRejected):
    code = "InstitutionCodeRequired"
    default_message = "A municipality coordinator or central administrator must say which institution to look at."

    def __init__(self, message: str | None = None, *, field: str | None = "institutionCode") -> None:
        super().__init__(message, field=field)


class UnknownInstitution(RequestRejected):
    code = "UnknownInstitution"
    default_message = "No institution with this code is registered in ŠMIR (as imported into the register)."

    def __init__(self, message: str | None = None, *, field: str | None = "institutionCode") -> None:
        super().__init__(message, field=field)


# --- users and the access log ---------------------------------------------------
class InvalidUserRequest(RequestRejected):
    code = "InvalidUserRequest"
    default_message = "The user registration request is inconsistent."


class ConfidentialityPledgeNotSigned(RequestRejected):
    code = "ConfidentialityPledgeNotSigned"
    default_message = "A user can only be registered once the confidentiality pledge is signed."

    def __init__(
        self, message: str | None = None, *, field: str | None = "confirmations/confidentialityPledgeSigned"
    ) -> None:
        super().__init__(message, field=field)


class WrongIssuer(RequestRejected):
    code = "WrongIssuer"
    default_message = "This user's credentials are not issued by you."


class DuplicateUser(RequestRejected):
    code = "DuplicateUser"
    default_message = "The user name is taken, or this person already has a valid user acting for the same institution or municipality."


class UserNotFound(RequestRejected):
    code = "UserNotFound"
    default_message = "You administer no user with this user name."

    def __init__(self, message: str | None = None, *, field: str | None = "username") -> None:
        super().__init__(message, field=field)


class OwnAccount(RequestRejected):
    code = "OwnAccount"
    default_message = (
        "Nobody administers their own user: another administrator changes your rights, validity or status;"
        " you change your own password with ChangePassword."
    )

    def __init__(self, message: str | None = None, *, field: str | None = "username") -> None:
        super().__init__(message, field=field)


class PasswordTooWeak(RequestRejected):
    code = "PasswordTooWeak"
    default_message = "The new password is too weak."

    def __init__(self, message: str | None = None, *, field: str | None = "newPassword") -> None:
        super().__init__(message, field=field)


class InvalidPeriod(RequestRejected):
    code = "InvalidPeriod"
    default_message = "The end of the period is before its start."

    def __init__(self, message: str | None = None, *, field: str | None = "dateTo") -> None:
        super().__init__(message, field=field)


# --- persons ------------------------------------------------------------------
class InvalidPersonalCode(RequestRejected):
    code = "InvalidPersonalCode"
    default_message = "The personal code is not a valid Lithuanian personal code (length, birth date or check digit)."

    def __init__(self, message: str | None = None, *, field: str | None = "personalCode") -> None:
        super().__init__(message, field=field)


class PersonNotFound(RequestRejected):
    code = "PersonNotFound"
    default_message = "The population register has no person with this personal code."

    def __init__(self, message: str | None = None, *, field: str | None = "personalCode") -> None:
        super().__init__(message, field=field)


class PersonDeceased(RequestRejected):
    code = "PersonDeceased"
    default_message = "The population register records this person as deceased; the person cannot be registered."

    def __init__(self, message: str | None = None, *, field: str | None = "personalCode") -> None:
        super().__init__(message, field=field)


class PersonNotALearner(RequestRejected):
    code = "PersonNotALearner"
    default_message = (
        "The personal code or the population register gives a birth date before 1900: not a learner of this register."
    )

    def __init__(self, message: str | None = None, *, field: str | None = "personalCode") -> None:
        super().__init__(message, field=field)


class StudentNotFound(RequestRejected):
    code = "StudentNotFound"
    default_message = "This institution has no registration of a person with this personal code."

    def __init__(self, message: str | None = None, *, field: str | None = "personalCode") -> None:
        super().__init__(message, field=field)


# --- providers, programs, groups ----------------------------------------------
class ProviderNotEligible(RequestRejected):
    code = "ProviderNotEligible"
    default_message = (
        "The institution is not an NVŠ provider in ŠMIR (group or purpose code) and cannot run NVŠ groups."
    )


class UnknownProgram(RequestRejected):
    code = "UnknownProgram"
    default_message = "No such program is registered in NŠPR for this provider."


class ProgramNotRegistered(RequestRejected):
    code = "ProgramNotRegistered"
    default_message = "The program has the temporary code 999999999 or is not yet registered in NŠPR."


class ProgramDeregistered(RequestRejected):
    code = "ProgramDeregistered"
    default_message = "The program is deregistered in NŠPR."


class PurposeMismatch(RequestRejected):
    code = "PurposeMismatch"
    default_message = "The group's purpose must be the purpose of its program."


class InvalidSubDirection(RequestRejected):
    code = "InvalidSubDirection"
    default_message = "The sub-direction is unknown or does not belong to the program's directions."


class InvalidGroupName(RequestRejected):
    code = "InvalidGroupName"
    default_message = "A group name must contain something besides white space."


class DuplicateGroupName(RequestRejected):
    code = "DuplicateGroupName"
    default_message = "The provider already has a group with this name in this school year."


class InvalidSchoolYear(RequestRejected):
    code = "InvalidSchoolYear"
    default_message = (
        "A school year is written YYYY-YYYY with consecutive years, e.g. 2025-2026, from 1990-1991 to 2099-2100."
    )


class GroupNotFound(RequestRejected):
    code = "GroupNotFound"
    default_message = "No group with this id belongs to the caller's institution."

    def __init__(self, message: str | None = None, *, field: str | None = "groupId") -> None:
        super().__init__(message, field=field)


class GroupHasLearners(RequestRejected):
    code = "GroupHasLearners"
    default_message = "The change is not possible while the group has active learners."

    def __init__(self, message: str | None = None, *, field: str | None = "groupId") -> None:
        super().__init__(message, field=field)


class GroupClosed(RequestRejected):
    """CloseGroup ended the group: it accepts no registrations (nor transfers or rollover into it)."""

    code = "GroupClosed"
    default_message = "The group is closed: it accepts no registrations."

    def __init__(self, message: str | None = None, *, field: str | None = "groupId") -> None:
        super().__init__(message, field=field)


class GroupHasRegistrations(RequestRejected):
    """DeleteGroup: only a group that never had a registration (not even a cancelled one) can be deleted."""

    code = "GroupHasRegistrations"
    default_message = "The group has had registrations: it is part of the register's history and cannot be deleted."

    def __init__(self, message: str | None = None, *, field: str | None = "groupId") -> None:
        super().__init__(message, field=field)


class InvalidClosingDate(RequestRejected):
    code = "InvalidClosingDate"
    default_message = "The closing date must lie inside the group's school year, not before its last departure."

    def __init__(self, message: str | None = None, *, field: str | None = "closingDate") -> None:
        super().__init__(message, field=field)


# --- registrations ------------------------------------------------------------
class FirstLearningDateOutsideSchoolYear(RequestRejected):
    code = "FirstLearningDateOutsideSchoolYear"
    default_message = "The first learning date must lie inside the group's school year."

    def __init__(self, message: str | None = None, *, field: str | None = "firstLearningDate") -> None:
        super().__init__(message, field=field)


class ContractRequired(RequestRejected):
    code = "ContractRequired"
    default_message = "A contract (type, date, number) is required for a first learning date on or after 2012-09-01."

    def __init__(self, message: str | None = None, *, field: str | None = "contract") -> None:
        super().__init__(message, field=field)


class UnknownClassifierCode(RequestRejected):
    code = "UnknownClassifierCode"
    default_message = "The code is not in its classifier."


class AlreadyRegistered(RequestRejected):
    code = "AlreadyRegistered"
    default_message = "The person already has an active registration in this group."


class RegistrationNotFound(RequestRejected):
    code = "RegistrationNotFound"
    default_message = "No registration with this id belongs to the caller's institution."

    def __init__(self, message: str | None = None, *, field: str | None = "registrationId") -> None:
        super().__init__(message, field=field)


class RegistrationNotActive(RequestRejected):
    code = "RegistrationNotActive"
    default_message = "The registration is deregistered or cancelled; the operation needs an active registration."

    def __init__(self, message: str | None = None, *, field: str | None = "registrationId") -> None:
        super().__init__(message, field=field)


class InvalidTransferDate(RequestRejected):
    code = "InvalidTransferDate"
    default_message = "The transfer date must be after the first learning date and inside the new group's school year."

    def __init__(self, message: str | None = None, *, field: str | None = "fromDate") -> None:
        super().__init__(message, field=field)


class SameGroup(RequestRejected):
    code = "SameGroup"
    default_message = "The registration is already in this group."

    def __init__(self, message: str | None = None, *, field: str | None = "groupId") -> None:
        super().__init__(message, field=field)


class InvalidDepartureDate(RequestRejected):
    code = "InvalidDepartureDate"
    default_message = "The departure date must not be before the first learning date nor after the current month."

    def __init__(self, message: str | None = None, *, field: str | None = "departureDate") -> None:
        super().__init__(message, field=field)


# --- upstream and ourselves ---------------------------------------------------
class PopulationRegisterUnavailable(ServiceUnavailable):
    code = "PopulationRegisterUnavailable"
    default_message = "The population register did not answer in time. Nothing was changed; try again later."


class RequestInProgress(ServiceUnavailable):
    code = "RequestInProgress"
    default_message = (
        "A request with this requestId is still being processed. Send it again, with the same requestId, "
        "in a few seconds: you then get its answer."
    )

    def __init__(self, message: str | None = None, *, field: str | None = "requestId") -> None:
        super().__init__(message, field=field)


class InternalError(ServiceUnavailable):
    code = "InternalError"
    default_message = "Internal error. Nothing was changed; quote the correlation id when reporting it."


def all_error_classes() -> list[type[GatewayError]]:
    """Every concrete error with a public code (for the catalogue check)."""
    found: list[type[GatewayError]] = []
    stack: list[type[GatewayError]] = [GatewayError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if "code" in cls.__dict__ and cls is not GatewayError:
            found.append(cls)
    return sorted(found, key=lambda c: c.code)


# --- funding ------------------------------------------------------------------
class InvalidMonth(RequestRejected):
    code = "InvalidMonth"
    default_message = "A month is written YYYY-MM, e.g. 2026-09, from 1990-01 to 2100-12."


class InvalidFundingPeriod(RequestRejected):
    code = "InvalidFundingPeriod"
    default_message = "The funding period is empty or too long: the first month must not be after the last."


class FundingOutsideRegistration(RequestRejected):
    code = "FundingOutsideRegistration"
    default_message = "Funding can be marked only for months the active registration covers."


class FundingAlreadyMarked(RequestRejected):
    code = "FundingAlreadyMarked"
    default_message = "The registration already has this funding type for some of these months."


class FundingNotMarked(RequestRejected):
    code = "FundingNotMarked"
    default_message = "The registration has no mark of this funding type after the given month."


class BasketProgramNotEligible(RequestRejected):
    code = "BasketProgramNotEligible"
    default_message = (
        "The NVŠ basket is only for accredited NVŠ programs: not for programs supplementing formal education (FŠPU)"
        " nor for programs not accredited for the month."
    )


class BasketProviderNotEligible(RequestRejected):
    code = "BasketProviderNotEligible"
    default_message = "A general-education school cannot receive NVŠ basket funding."


class BasketAgeOutOfRange(RequestRejected):
    code = "BasketAgeOutOfRange"
    default_message = "The child is outside the basket's age window on the first day of a month."


class BasketAlreadyClaimed(RequestRejected):
    code = "BasketAlreadyClaimed"
    default_message = "Another registration of this child already carries the NVŠ basket for some of these months."


class BasketRateMissing(RequestRejected):
    code = "BasketRateMissing"
    default_message = "No basket rate is in force for the provider's municipality in a month asked for."


# --- the change feed, notices and data checks ----------------------------------
class ChangeSequenceAhead(RequestRejected):
    code = "ChangeSequenceAhead"
    default_message = (
        "The cursor is beyond the last change of the register: it belongs to another register, or this one was "
        "restored from a backup. Keep nothing from that cursor on: resynchronise from 0."
    )

    def __init__(self, message: str | None = None, *, field: str | None = "after") -> None:
        super().__init__(message, field=field)


class NoticeNotFound(RequestRejected):
    code = "NoticeNotFound"
    default_message = "No notice with this id was sent to the caller's institution."

    def __init__(self, message: str | None = None, *, field: str | None = "noticeId") -> None:
        super().__init__(message, field=field)


# --- clubs and formal enrolments -----------------------------------------------
class NotGeneralEducationSchool(RequestRejected):
    code = "NotGeneralEducationSchool"
    default_message = (
        "Only a general-education school (registered in ŠMIR, not deregistered) can mark the clubs its pupils attend."
    )


class ClubDirectionRequired(RequestRejected):
    code = "ClubDirectionRequired"
    default_message = "Mark at least one NVŠ direction or sub-direction the pupil attends."

    def __init__(self, message: str | None = None, *, field: str | None = "directionCode") -> None:
        super().__init__(message, field=field)


class InvalidClubPeriod(RequestRejected):
    code = "InvalidClubPeriod"
    default_message = (
        "The club attendance's dates must lie inside its school year; the end date not before the from date"
        " nor after the end of the current month."
    )


class ClubAttendanceNotFound(RequestRejected):
    code = "ClubAttendanceNotFound"
    default_message = "No club attendance with this id belongs to the caller's school."

    def __init__(self, message: str | None = None, *, field: str | None = "attendanceId") -> None:
        super().__init__(message, field=field)


class ClubAttendanceEnded(RequestRejected):
    code = "ClubAttendanceEnded"
    default_message = "The club attendance has already ended."

    def __init__(self, message: str | None = None, *, field: str | None = "attendanceId") -> None:
        super().__init__(message, field=field)


# --- lists ----------------------------------------------------------------------
class InvalidDateRange(RequestRejected):
    code = "InvalidDateRange"
    default_message = "The first date of the range is after the last one."

    def __init__(self, message: str | None = None, *, field: str | None = "toDate") -> None:
        super().__init__(message, field=field)


class OnePeriodRequired(RequestRejected):
    code = "OnePeriodRequired"
    default_message = "Statistics are of one period: send either schoolYear or month, not both and not neither."

    def __init__(self, message: str | None = None, *, field: str | None = "schoolYear") -> None:
        super().__init__(message, field=field)


class InvalidCursor(RequestRejected):
    code = "InvalidCursor"
    default_message = (
        "The cursor is not one this list returned for these filters: send the nextCursor of the previous page"
        " unchanged, with the same filters, or no cursor for the first page."
    )

    def __init__(self, message: str | None = None, *, field: str | None = "cursor") -> None:
        super().__init__(message, field=field)
