"""Citizens through the state e-services portal (contract 1.11): GetMyChildren, GetChildRecord,
GetDataAccessHistory.

Thin, as the other services: the call wrapper (``gateway.soap.app``) has checked that the caller is
the portal and read the citizen from the X-Road userId header (``RequestContext.citizen``); whom the
citizen sees is ``gateway.domain.portal``'s, the reads ``gateway.portal.Portal``'s.
"""

from __future__ import annotations

from spyne import ServiceBase, rpc

from gateway import portal
from gateway.domain.personal_code import PersonalCode
from gateway.soap import types as t
from gateway.soap.service import funding_mark_out, person_out, registration_out
from gateway.soap.types import make, many, optional, required


def _citizen(ctx) -> PersonalCode:
    citizen = ctx.udc.citizen
    assert citizen is not None, "the call wrapper names the citizen of every portal call"
    return citizen


def _portal(ctx) -> portal.Portal:
    return ctx.udc.portal


def child_out(child: portal.ChildSummary) -> t.PortalChild:
    return make(
        t.PortalChild,
        person=person_out(child.person),
        relation=child.relation.value,
        registration=[registration_out(r) for r in child.registrations],
    )


def record_registration_out(row: portal.RecordRegistration, names: dict[str, str]) -> t.ChildRegistration:
    return make(
        t.ChildRegistration,
        registration=registration_out(row.view),
        institutionName=row.provider_name,
        programName=row.program_name,
        fundingMark=[funding_mark_out(m, names) for m in row.marks],
    )


def club_out(club: portal.Club) -> t.ChildClub:
    a = club.attendance
    return make(
        t.ChildClub,
        institutionCode=a.school_code,
        institutionName=club.school_name,
        schoolYear=str(a.school_year),
        directionCode=list(a.direction_codes),
        subDirectionCode=list(a.sub_direction_codes),
        fromDate=a.from_date,
        endDate=a.end_date,
    )


def access_out(entry: portal.HistoryEntry) -> t.DataAccess:
    return make(
        t.DataAccess,
        at=entry.at,
        actorKind=entry.actor_kind,
        actorCode=entry.actor_code,
        actorName=entry.actor_name,
        operation=entry.operation,
        purpose=entry.purpose,
        outcome=entry.outcome,
    )


class NvsPortalService(ServiceBase):
    @rpc(_returns=many(t.PortalChild, 31), _out_variable_name="child")
    def GetMyChildren(ctx):
        return [child_out(c) for c in _portal(ctx).my_children(_citizen(ctx))]

    @rpc(
        required(t.PersonalCode),
        _returns=(
            required(t.Person),
            required(t.ChildRelation),
            many(t.ChildRegistration, 100),
            many(t.BasketMonth, 240),
            many(t.ChildClub, 100),
        ),
        _out_variable_names=("person", "relation", "registration", "basketMonth", "club"),
    )
    def GetChildRecord(ctx, personalCode):
        record = _portal(ctx).child_record(_citizen(ctx), personalCode)
        names = ctx.udc.registry.funding_type_names()
        return (
            person_out(record.person),
            record.relation.value,
            [record_registration_out(r, names) for r in record.registrations],
            [
                make(
                    t.BasketMonth,
                    month=str(m.month),
                    institutionCode=m.institution_code,
                    institutionName=m.institution_name,
                )
                for m in record.basket_months
            ],
            [club_out(c) for c in record.clubs],
        )

    @rpc(
        required(t.PersonalCode),
        required(t.RegisterDate),
        required(t.RegisterDate),
        optional(t.PageSize),
        optional(t.Cursor),
        _returns=(many(t.DataAccess, 100), optional(t.Cursor)),
        _out_variable_names=("access", "nextCursor"),
    )
    def GetDataAccessHistory(ctx, personalCode, dateFrom, dateTo, pageSize, cursor):
        page = _portal(ctx).access_history(
            _citizen(ctx), personalCode, dateFrom, dateTo, cursor=cursor, page_size=pageSize or portal.HISTORY_PAGE_SIZE
        )
        return [access_out(e) for e in page.entries], page.next_cursor
