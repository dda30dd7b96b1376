"""The clubs and lists operations (contract 1.2): translate the wire message, call the use case,
translate back. No rule is decided here; the caller's scope is ``gateway.domain.lists.scope_of``'s.
"""

from __future__ import annotations

from spyne import ServiceBase, rpc

from gateway import lists
from gateway.clubs import Clubs, NewClubAttendance
from gateway.domain.lists import (
    BasketRecipient,
    ListedClubAttendance,
    ListedPerson,
    ListedRegistration,
    ListName,
    Page,
    scope_of,
)
from gateway.services import Caller, Registry
from gateway.soap import types as t
from gateway.soap.types import many, optional, required


def _registry(ctx) -> Registry:
    return ctx.udc.registry


def _caller(ctx) -> Caller:
    return ctx.udc.caller


def _clubs(ctx) -> Clubs:
    registry = _registry(ctx)
    return Clubs(registry.uow_factory, registry.population_register, clock=registry.clock)


def _lists(ctx) -> lists.Lists:
    return lists.Lists(_registry(ctx).uow_factory)


# --- domain -> wire -------------------------------------------------------------------
def person_out(p: ListedPerson) -> t.ListedPerson:
    return t.ListedPerson(
        personalCode=p.personal_code.value, firstName=p.first_name, lastName=p.last_name, birthDate=p.birth_date
    )


def registration_row_out(r: ListedRegistration, reason_names: dict[str, str]) -> t.ListedRegistration:
    return t.ListedRegistration(
        registrationId=r.registration_id,
        status=r.status,
        institutionCode=r.institution_code,
        groupId=r.group_id,
        groupName=r.group_name,
        schoolYear=str(r.school_year),
        programCode=r.program_code,
        programName=r.program_name,
        person=person_out(r.person),
        firstLearningDate=r.first_learning_date,
        departureDate=r.departure_date,
        departureReasonCode=r.departure_reason_code,
        departureReasonName=reason_names.get(r.departure_reason_code or ""),
    )


def basket_row_out(r: BasketRecipient, municipality_names: dict[str, str]) -> t.BasketRecipient:
    return t.BasketRecipient(
        registrationId=r.registration_id,
        institutionCode=r.institution_code,
        month=str(r.month),
        person=person_out(r.person),
        firstLearningDate=r.first_learning_date,
        programCode=r.program_code,
        programName=r.program_name,
        schoolCode=r.school_code,
        schoolMunicipalityCode=r.school_municipality_code,
        schoolMunicipalityName=municipality_names.get(r.school_municipality_code or ""),
    )


def club_out(a: ListedClubAttendance) -> t.ClubAttendance:
    return t.ClubAttendance(
        attendanceId=a.attendance_id,
        institutionCode=a.school_code,
        schoolYear=str(a.school_year),
        person=person_out(a.person),
        directionCode=list(a.direction_codes),
        subDirectionCode=list(a.sub_direction_codes),
        fromDate=a.from_date,
        endDate=a.end_date,
    )


def _registrations(ctx, name: ListName, list_filter, page_size, cursor):
    use_case = _lists(ctx)
    page: Page[ListedRegistration] = use_case.page(scope_of(_caller(ctx)), name, list_filter, page_size, cursor)
    names = use_case.names().departure_reasons if any(r.departure_reason_code for r in page.rows) else {}
    return [registration_row_out(r, names) for r in page.rows], page.next_cursor


def _page_of(row, at_most: int = 500):
    return dict(_returns=(many(row, at_most), optional(t.Cursor)))


class NvsListsService(ServiceBase):
    # --- clubs (general-education schools) ----------------------------------------------
    @rpc(
        required(t.PersonalCode),
        required(t.SchoolYear),
        many(t.ClassifierCode, 20),
        many(t.ClassifierCode, 40),
        optional(t.RegisterDate),
        _returns=required(t.ClubAttendance),
        _out_variable_name="attendance",
    )
    def MarkClubAttendance(ctx, personalCode, schoolYear, directionCode, subDirectionCode, fromDate):
        new = NewClubAttendance(
            personalCode, schoolYear, tuple(directionCode or ()), tuple(subDirectionCode or ()), fromDate
        )
        return club_out(_clubs(ctx).mark(_caller(ctx), new))

    @rpc(
        required(t.Identifier),
        required(t.RegisterDate),
        _returns=required(t.ClubAttendance),
        _out_variable_name="attendance",
    )
    def EndClubAttendance(ctx, attendanceId, endDate):
        return club_out(_clubs(ctx).end(_caller(ctx), attendanceId, endDate))

    # --- lists ---------------------------------------------------------------------------
    @rpc(
        required(t.SchoolYear),
        optional(t.Identifier),
        optional(t.ProgramCode),
        optional(t.ListPageSize),
        optional(t.Cursor),
        _out_variable_names=("learner", "nextCursor"),
        **_page_of(t.ListedRegistration),
    )
    def ListLearners(ctx, schoolYear, groupId, programCode, pageSize, cursor):
        list_filter = lists.learner_filter(schoolYear, groupId, programCode)
        return _registrations(ctx, ListName.LEARNERS, list_filter, pageSize, cursor)

    @rpc(
        required(t.RegisterDate),
        required(t.RegisterDate),
        optional(t.ListPageSize),
        optional(t.Cursor),
        _out_variable_names=("arrival", "nextCursor"),
        **_page_of(t.ListedRegistration),
    )
    def ListArrivals(ctx, fromDate, toDate, pageSize, cursor):
        return _registrations(ctx, ListName.ARRIVALS, lists.arrival_filter(fromDate, toDate), pageSize, cursor)

    @rpc(
        required(t.RegisterDate),
        required(t.RegisterDate),
        optional(t.ListPageSize),
        optional(t.Cursor),
        _out_variable_names=("departure", "nextCursor"),
        **_page_of(t.ListedRegistration),
    )
    def ListDepartures(ctx, fromDate, toDate, pageSize, cursor):
        return _registrations(ctx, ListName.DEPARTURES, lists.departure_filter(fromDate, toDate), pageSize, cursor)

    @rpc(
        required(t.Month),
        optional(t.InstitutionCode),
        optional(t.ListPageSize),
        optional(t.Cursor),
        _out_variable_names=("recipient", "nextCursor"),
        **_page_of(t.BasketRecipient),
    )
    def ListBasketRecipients(ctx, month, institutionCode, pageSize, cursor):
        use_case = _lists(ctx)
        list_filter = lists.basket_filter(month, institutionCode)
        page = use_case.page(scope_of(_caller(ctx)), ListName.BASKET_RECIPIENTS, list_filter, pageSize, cursor)
        names = use_case.names().municipalities if page.rows else {}
        return [basket_row_out(r, names) for r in page.rows], page.next_cursor

    @rpc(
        required(t.SchoolYear),
        optional(t.ClassifierCode),
        optional(t.RegisterDate),
        optional(t.ListPageSize),
        optional(t.Cursor),
        _out_variable_names=("attendance", "nextCursor"),
        **_page_of(t.ClubAttendance),
    )
    def ListClubAttendance(ctx, schoolYear, directionCode, activeOn, pageSize, cursor):
        list_filter = lists.club_filter(schoolYear, directionCode, activeOn)
        page = _lists(ctx).page(scope_of(_caller(ctx)), ListName.CLUB_ATTENDANCE, list_filter, pageSize, cursor)
        return [club_out(a) for a in page.rows], page.next_cursor
