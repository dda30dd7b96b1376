"""SOAP operations of the change feed, the data checks and the notices (contract 1.2).

Translate, delegate, translate: the use cases are ``gateway.feed``, ``gateway.checks``
and ``gateway.notices``, bound to the request's ``Registry`` dependencies.
"""

from __future__ import annotations

from spyne import Boolean, ServiceBase, rpc

from gateway import checks, feed, notices, services
from gateway.domain.checks import Category, CheckStatus
from gateway.domain.feed import ChangeEvent
from gateway.domain.notices import Notice
from gateway.soap import feed_types as f
from gateway.soap import types as t
from gateway.soap.service import person_out
from gateway.soap.types import many, optional, required


def _registry(ctx) -> services.Registry:
    return ctx.udc.registry


def _caller(ctx) -> services.Caller:
    return ctx.udc.caller


def _data_checks(ctx) -> checks.DataChecks:
    registry = _registry(ctx)
    return checks.DataChecks(registry.uow_factory, registry.population_register, clock=registry.clock)


def _notices(ctx) -> notices.Notices:
    registry = _registry(ctx)
    return notices.Notices(registry.uow_factory, clock=registry.clock)


# --- domain -> wire -----------------------------------------------------------
def event_out(event: ChangeEvent) -> f.ChangeEvent:
    registration = funding = club = None
    r = event.registration
    if r is not None:
        registration = f.RegistrationChange(
            registrationId=r.registration_id,
            status=r.status,
            groupId=r.group_id,
            groupName=r.group_name,
            schoolYear=r.school_year,
            programCode=r.program_code,
            firstLearningDate=r.first_learning_date,
            contract=r.contract
            and t.Contract(typeCode=r.contract.type_code, date=r.contract.signed_on, number=r.contract.number),
            registeredOn=r.registered_on,
            departure=r.departure
            and t.Departure(
                date=r.departure.date, reasonCode=r.departure.reason_code, orderNumber=r.departure.order_number
            ),
            cancelledOn=r.cancelled_on,
        )
    m = event.funding
    if m is not None:
        funding = f.FundingChange(
            markId=m.mark_id,
            registrationId=m.registration_id,
            fundingTypeCode=m.funding_type,
            fromMonth=str(m.from_month),
            toMonth=str(m.to_month),
            specialNeeds=m.special_needs,
        )
    c = event.club_attendance
    if c is not None:
        club = f.ClubAttendanceChange(
            attendanceId=c.attendance_id,
            schoolYear=c.school_year,
            directionCode=list(c.direction_codes),
            subDirectionCode=list(c.sub_direction_codes),
            endedOn=c.ended_on,
        )
    e = event.erasure
    erasure = e and f.ErasureChange(
        registrationId=list(e.registration_ids), clubAttendanceId=list(e.club_attendance_ids)
    )
    return f.ChangeEvent(
        sequence=event.sequence,
        kind=event.kind.value,
        occurredAt=event.occurred_at,
        institutionCode=event.institution_code,
        personalCode=event.personal_code.value,
        registration=registration,
        funding=funding,
        clubAttendance=club,
        erasure=erasure,
    )


def notice_out(notice: Notice) -> f.Notice:
    return f.Notice(
        noticeId=notice.id,
        kind=notice.kind.value,
        createdAt=notice.created_at,
        message=notice.message,
        personalCode=notice.personal_code.value if notice.personal_code else None,
        registrationId=notice.registration_id,
        month=[str(m) for m in notice.months],
        issueCode=notice.issue_code,
        acknowledgedAt=notice.acknowledged_at,
    )


def _population_register_status(status: CheckStatus | None) -> f.PopulationRegisterCheckStatus | None:
    if status is None:
        return None
    return f.PopulationRegisterCheckStatus(
        checkedAt=status.checked_at,
        personalDataMismatches=status.count(Category.PERSONAL_DATA),
        residenceMismatches=status.count(Category.RESIDENCE),
    )


def _student_data_status(status: CheckStatus | None) -> f.StudentDataCheckStatus | None:
    if status is None:
        return None
    return f.StudentDataCheckStatus(checkedAt=status.checked_at, issues=status.count(Category.STUDENT_DATA))


class NvsFeedService(ServiceBase):
    @rpc(
        required(f.ChangeSequence),
        optional(f.FeedLimit),
        _returns=(many(f.ChangeEvent, 1000), required(f.ChangeSequence), required(Boolean)),
        _out_variable_names=("event", "lastSequence", "more"),
    )
    def GetChanges(ctx, after, limit):
        page = feed.Feed(_registry(ctx).uow_factory).get_changes(_caller(ctx), after, limit)
        return [event_out(e) for e in page.events], page.last_sequence, page.more

    @rpc(
        optional(t.InstitutionCode),
        _returns=(optional(f.PopulationRegisterCheckStatus), optional(f.StudentDataCheckStatus)),
        _out_variable_names=("populationRegisterCheck", "studentDataCheck"),
    )
    def GetDataCheckStatus(ctx, institutionCode):
        status = _data_checks(ctx).status(_caller(ctx), institutionCode)
        return _population_register_status(status.population_register), _student_data_status(status.student_data)

    @rpc(
        optional(f.DataCheckKind),
        optional(f.DataIssueCode),
        optional(f.InboxPageToken),
        optional(f.InboxLimit),
        _returns=(many(f.DataIssue, 500), optional(f.InboxPageToken)),
        _out_variable_names=("issue", "nextPageToken"),
    )
    def ListDataIssues(ctx, check, code, pageToken, limit):
        page = _data_checks(ctx).list_issues(_caller(ctx), check=check, code=code, page_token=pageToken, limit=limit)
        issues = [
            f.DataIssue(
                issueId=i.id,
                check=i.check.value,
                code=i.code,
                message=i.message,
                detectedAt=i.detected_at,
                personalCode=i.personal_code.value if i.personal_code else None,
                registrationId=i.registration_id,
                month=[str(m) for m in i.months],
            )
            for i in page.issues
        ]
        return issues, page.next_page_token

    @rpc(
        optional(t.PersonalCode),
        _returns=(required(t.Count), required(t.Count), required(Boolean), many(t.Person, 1000)),
        _out_variable_names=("fixed", "notFixed", "more", "person"),
    )
    def FixPersonData(ctx, personalCode):
        result = _data_checks(ctx).fix_person_data(_caller(ctx), personalCode)
        return len(result.fixed), result.not_fixed, result.more, [person_out(p) for p in result.fixed]

    @rpc(
        optional(f.NoticeState),
        optional(f.NoticeKind),
        optional(f.InboxPageToken),
        optional(f.InboxLimit),
        _returns=(required(t.Count), many(f.Notice, 500), optional(f.InboxPageToken)),
        _out_variable_names=("unacknowledged", "notice", "nextPageToken"),
    )
    def ListNotices(ctx, state, kind, pageToken, limit):
        page = _notices(ctx).list_notices(_caller(ctx), state=state, kind=kind, page_token=pageToken, limit=limit)
        return page.unacknowledged, [notice_out(n) for n in page.notices], page.next_page_token

    @rpc(many(t.Identifier, 100, at_least=1), _returns=many(f.Notice, 100, at_least=1), _out_variable_name="notice")
    def AcknowledgeNotice(ctx, noticeId):
        return [notice_out(n) for n in _notices(ctx).acknowledge(_caller(ctx), list(noticeId or ()))]
