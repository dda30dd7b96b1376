"""The registry's SOAP operations: translate the wire message, call the use case, translate back.

No rule is decided here. ``ctx.udc`` carries the authenticated caller and the
``Registry`` (set by ``gateway.soap.app.RegistryApplication.call_wrapper``).
"""

from __future__ import annotations

from decimal import Decimal

from spyne import Boolean, ServiceBase, rpc

from gateway import services
from gateway.domain.model import Contract, Departure
from gateway.soap import types as t
from gateway.soap.types import make, many, optional, required


def _registry(ctx) -> services.Registry:
    return ctx.udc.registry


def _caller(ctx) -> services.Caller:
    return ctx.udc.caller


# --- domain -> wire -----------------------------------------------------------
def person_out(p) -> t.Person:
    residence = None
    if p.residence is not None:
        residence = make(
            t.DeclaredResidence,
            municipalityCode=p.residence.municipality_code,
            municipalityName=p.residence.municipality_name,
            address=p.residence.address,
        )
    return make(
        t.Person,
        personalCode=p.personal_code.value,
        firstName=p.first_name,
        lastName=p.last_name,
        sex=p.sex,
        birthDate=p.birth_date,
        deceasedDate=p.deceased_on,
        declaredResidence=residence,
        departedAbroadDate=p.departed_abroad_on,
    )


def group_out(view: services.GroupView) -> t.Group:
    g = view.group
    return make(
        t.Group,
        groupId=g.id,
        institutionCode=g.provider_code,
        schoolYear=str(g.school_year),
        programCode=g.program_code,
        programName=view.program_name,
        purpose=g.purpose.value,
        name=g.name,
        subDirectionCode=list(g.sub_direction_codes),
        leader=[
            make(
                t.Leader,
                firstName=leader.first_name,
                lastName=leader.last_name,
                personalCode=leader.personal_code.value if leader.personal_code else None,
            )
            for leader in g.leaders
        ],
        activeLearners=view.active_learners,
        closedOn=g.closed_on,
        rolledOverFromGroupId=g.rolled_over_from,
    )


def registration_out(view: services.RegistrationView) -> t.Registration:
    r = view.registration
    contract = r.contract and make(
        t.Contract, typeCode=r.contract.type_code, date=r.contract.signed_on, number=r.contract.number
    )
    departure = r.departure and make(
        t.Departure,
        date=r.departure.date,
        reasonCode=r.departure.reason_code,
        reasonName=view.departure_reason_name,
        orderNumber=r.departure.order_number,
    )
    return make(
        t.Registration,
        registrationId=r.id,
        status=r.status.value,
        institutionCode=r.provider_code,
        groupId=r.group_id,
        groupName=view.group.name,
        schoolYear=str(view.group.school_year),
        programCode=view.group.program_code,
        person=person_out(view.person),
        firstLearningDate=r.first_learning_date,
        contract=contract or None,
        registeredOn=r.registered_on,
        departure=departure or None,
        cancelledOn=r.cancelled_on,
        cancellationReason=r.cancellation_reason,
        transferredFromRegistrationId=r.transferred_from,
    )


def warnings_out(warnings) -> list[t.Warning]:
    return [make(t.Warning, code=w.code, message=w.message) for w in warnings]


# --- wire -> domain -----------------------------------------------------------
def contract_in(c) -> Contract | None:
    return None if c is None else Contract(type_code=c.typeCode, signed_on=c.date, number=c.number)


def leaders_in(leaders) -> tuple[services.LeaderInput, ...]:
    return tuple(
        services.LeaderInput(leader.firstName, leader.lastName, leader.personalCode) for leader in leaders or ()
    )


def funding_mark_out(m, names: dict[str, str]) -> t.FundingMark:
    return make(
        t.FundingMark,
        markId=m.id,
        fundingTypeCode=m.funding_type,
        fundingTypeName=names.get(m.funding_type),
        fromMonth=str(m.from_month),
        toMonth=str(m.to_month),
        specialNeeds=m.special_needs,
    )


def funding_out(view: services.FundingView, names: dict[str, str]) -> tuple[int, list[t.FundingMark]]:
    return view.registration_id, [funding_mark_out(m, names) for m in view.marks]


REGISTRATION_AND_WARNINGS = dict(
    _returns=(required(t.Registration), many(t.Warning, 10)), _out_variable_names=("registration", "warning")
)
REGISTRATION_AND_MARKS = dict(
    _returns=(required(t.Identifier), many(t.FundingMark, 100)), _out_variable_names=("registrationId", "mark")
)


class NvsRegistryService(ServiceBase):
    @rpc(
        required(t.PersonalCode),
        _returns=(required(t.Person), optional(t.LastRegistration)),
        _out_variable_names=("person", "lastRegistration"),
    )
    def LookupPerson(ctx, personalCode):
        found = _registry(ctx).lookup_person(_caller(ctx), personalCode)
        last = found.last_registration
        last_out = last and t.LastRegistration(
            institutionCode=last.institution_code,
            institutionName=last.institution_name,
            firstLearningDate=last.first_learning_date,
            departureDate=last.departure_date,
            departureReasonCode=last.departure_reason_code,
            departureReasonName=last.departure_reason_name,
        )
        return person_out(found.person), last_out or None

    @rpc(
        required(t.SchoolYear),
        required(t.ProgramCode),
        optional(t.ProgramPurpose),
        required(t.GroupName),
        many(t.ClassifierCode, 20, at_least=1),
        many(t.Leader, 50),
        _returns=required(t.Group),
        _out_variable_name="group",
    )
    def CreateGroup(ctx, schoolYear, programCode, purpose, name, subDirectionCode, leader):
        new = services.NewGroup(
            school_year=schoolYear,
            program_code=programCode,
            purpose=purpose,
            name=name,
            sub_direction_codes=tuple(subDirectionCode or ()),
            leaders=leaders_in(leader),
        )
        return group_out(_registry(ctx).create_group(_caller(ctx), new))

    @rpc(
        required(t.Identifier),
        required(t.GroupName),
        many(t.ClassifierCode, 20, at_least=1),
        many(t.Leader, 50),
        _returns=required(t.Group),
        _out_variable_name="group",
    )
    def UpdateGroup(ctx, groupId, name, subDirectionCode, leader):
        change = services.GroupInput(
            name=name, sub_direction_codes=tuple(subDirectionCode or ()), leaders=leaders_in(leader)
        )
        return group_out(_registry(ctx).update_group(_caller(ctx), groupId, change))

    @rpc(
        required(t.SchoolYear),
        optional(t.ProgramPurpose),
        optional(t.InstitutionCode),
        optional(Boolean),
        _returns=(required(t.SchoolYear), many(t.GroupSection, 2)),
        _out_variable_names=("schoolYear", "section"),
    )
    def ListGroups(ctx, schoolYear, purpose, institutionCode, includeClosed):
        sections = _registry(ctx).list_groups(
            _caller(ctx), schoolYear, purpose, institutionCode, include_closed=bool(includeClosed)
        )
        return schoolYear, [
            t.GroupSection(purpose=s.purpose.value, count=len(s.groups), group=[group_out(g) for g in s.groups])
            for s in sections
        ]

    @rpc(
        required(t.PersonalCode),
        required(t.Identifier),
        required(t.RegisterDate),
        optional(t.Contract),
        **REGISTRATION_AND_WARNINGS,
    )
    def RegisterStudent(ctx, personalCode, groupId, firstLearningDate, contract):
        new = services.NewRegistration(personalCode, groupId, firstLearningDate, contract_in(contract))
        view, warnings = _registry(ctx).register_student(_caller(ctx), new)
        return registration_out(view), warnings_out(warnings)

    @rpc(required(t.Identifier), optional(t.RegisterDate), optional(t.Contract), **REGISTRATION_AND_WARNINGS)
    def CorrectRegistration(ctx, registrationId, firstLearningDate, contract):
        view, warnings = _registry(ctx).correct_registration(
            _caller(ctx), registrationId, firstLearningDate, contract_in(contract)
        )
        return registration_out(view), warnings_out(warnings)

    @rpc(
        required(t.Identifier),
        required(t.ReasonText),
        _returns=required(t.Registration),
        _out_variable_name="registration",
    )
    def CancelRegistration(ctx, registrationId, reason):
        return registration_out(_registry(ctx).cancel_registration(_caller(ctx), registrationId, reason))

    @rpc(
        required(t.Identifier),
        required(t.RegisterDate),
        required(t.ClassifierCode),
        optional(t.OrderNumber),
        **REGISTRATION_AND_WARNINGS,
    )
    def DeregisterStudent(ctx, registrationId, departureDate, departureReasonCode, orderNumber):
        departure = Departure(date=departureDate, reason_code=departureReasonCode, order_number=orderNumber)
        view, warnings = _registry(ctx).deregister_student(_caller(ctx), registrationId, departure)
        return registration_out(view), warnings_out(warnings)

    @rpc(
        required(t.PersonalCode),
        optional(t.InstitutionCode),
        _returns=(required(t.Person), many(t.Registration, 100)),
        _out_variable_names=("person", "registration"),
    )
    def GetStudent(ctx, personalCode, institutionCode):
        record = _registry(ctx).get_student(_caller(ctx), personalCode, institutionCode)
        return person_out(record.person), [registration_out(r) for r in record.registrations]

    # --- funding ---------------------------------------------------------------
    @rpc(
        required(t.Identifier),
        many(t.ClassifierCode, 4, at_least=1),
        required(t.Month),
        optional(t.Month),
        optional(Boolean),
        **REGISTRATION_AND_MARKS,
    )
    def MarkFunding(ctx, registrationId, fundingTypeCode, fromMonth, toMonth, specialNeeds):
        new = services.NewFunding(registrationId, tuple(fundingTypeCode or ()), fromMonth, toMonth, bool(specialNeeds))
        registry = _registry(ctx)
        return funding_out(registry.mark_funding(_caller(ctx), new), registry.funding_type_names())

    @rpc(required(t.Identifier), required(t.ClassifierCode), required(t.Month), **REGISTRATION_AND_MARKS)
    def EndFunding(ctx, registrationId, fundingTypeCode, lastFundedMonth):
        registry = _registry(ctx)
        view = registry.end_funding(_caller(ctx), registrationId, fundingTypeCode, lastFundedMonth)
        return funding_out(view, registry.funding_type_names())

    @rpc(required(t.Identifier), **REGISTRATION_AND_MARKS)
    def GetFunding(ctx, registrationId):
        registry = _registry(ctx)
        return funding_out(registry.get_funding(_caller(ctx), registrationId), registry.funding_type_names())

    @rpc(
        required(t.PersonalCode),
        required(t.Month),
        required(t.Month),
        _returns=(required(Boolean), many(t.MonthAvailability, 24, at_least=1)),
        _out_variable_names=("available", "month"),
    )
    def CheckBasketAvailability(ctx, personalCode, fromMonth, toMonth):
        months = _registry(ctx).check_basket_availability(_caller(ctx), personalCode, fromMonth, toMonth)
        return all(free for _, free in months), [
            t.MonthAvailability(month=str(m), available=free) for m, free in months
        ]

    @rpc(
        required(t.Month),
        required(t.Month),
        _returns=(many(t.BasketLine, "unbounded"), required(t.Amount)),
        _out_variable_names=("line", "totalAmount"),
    )
    def CalculateBasket(ctx, fromMonth, toMonth):
        report = _registry(ctx).calculate_basket(_caller(ctx), fromMonth, toMonth)
        lines = [
            t.BasketLine(
                institutionCode=r.line.provider_code,
                institutionName=r.institution_name,
                municipalityCode=r.municipality_code,
                month=str(r.line.month),
                fundedChildren=r.line.funded_children,
                rate=r.line.rate,
                amount=r.line.amount,
            )
            for r in report
        ]
        return lines, sum((r.line.amount for r in report), Decimal("0.00"))
