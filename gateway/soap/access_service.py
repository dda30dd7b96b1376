"""The access-control operations: RegisterUser, ChangePassword, GetAccessLog, and the
ADMINISTRATION menu (1.8): ListUsers, ChangeUserRights, SetUserValidity, DisableUser, EnableUser, ResetPassword.

As in ``gateway.soap.service``: translate the wire message, call the use case
(``gateway.accounts.Accounts``, ``gateway.access_log.AccessLog``), translate back.
"""

from __future__ import annotations

from spyne import ServiceBase, rpc

from gateway.accounts import USER_PAGE_SIZE
from gateway.domain.access import Area, Caller, Level, Right, Scope, ScopeKind
from gateway.domain.errors import InvalidUserRequest
from gateway.domain.personal_code import PersonalCode
from gateway.domain.users import Confirmations, User, UserRequest
from gateway.ports import AccessRecord
from gateway.services import parse_personal_code
from gateway.soap import types as t
from gateway.soap.types import many, optional, required


def _caller(ctx) -> Caller:
    return ctx.udc.caller


# --- wire -> domain -----------------------------------------------------------
def acts_for_in(acts_for) -> Scope:
    given = [
        scope
        for scope in (
            acts_for.institutionCode and Scope.institution(acts_for.institutionCode),
            acts_for.municipalityCode and Scope.municipality(acts_for.municipalityCode),
            Scope.central() if acts_for.central else None,
        )
        if scope
    ]
    if getattr(acts_for, "portal", None):
        raise InvalidUserRequest(
            "The state e-services portal's system user is created by the operator, not by RegisterUser.",
            field="actsFor/portal",
        )
    if len(given) != 1:
        raise InvalidUserRequest(
            "actsFor names exactly one of an institutionCode, a municipalityCode or central = true.", field="actsFor"
        )
    return given[0]


def user_request_in(
    personalCode,
    firstName,
    lastName,
    email,
    phone,
    position,
    institutionCode,
    institutionName,
    workplaceAddress,
    validFrom,
    validUntil,
    filledOn,
    confirmations,
    actsFor,
    right,
    username,
) -> UserRequest:
    code: PersonalCode = parse_personal_code(personalCode)
    return UserRequest(
        personal_code=code,
        first_name=firstName,
        last_name=lastName,
        email=email,
        phone=phone,
        position=position,
        employer_code=institutionCode,
        employer_name=institutionName,
        workplace_address=workplaceAddress,
        valid_from=validFrom,
        valid_until=validUntil,
        filled_on=filledOn,
        confirmations=Confirmations(
            law_read=bool(confirmations.lawOnPersonalDataProtectionRead),
            regulations_read=bool(confirmations.registerRegulationsRead),
            manual_read=bool(confirmations.userManualRead),
            pledge_signed=bool(confirmations.confidentialityPledgeSigned),
        ),
        acts_for=acts_for_in(actsFor),
        rights=rights_in(right),
        username=username,
    )


# --- domain -> wire -----------------------------------------------------------
def acts_for_out(scope: Scope) -> t.ActsFor:
    return t.ActsFor(
        institutionCode=scope.code if scope.kind is ScopeKind.INSTITUTION else None,
        municipalityCode=scope.code if scope.kind is ScopeKind.MUNICIPALITY else None,
        central=True if scope.kind is ScopeKind.CENTRAL else None,
        portal=True if scope.kind is ScopeKind.PORTAL else None,
    )


def user_out(user: User) -> t.User:
    return t.User(
        username=user.username,
        firstName=user.first_name,
        lastName=user.last_name,
        actsFor=acts_for_out(user.acts_for),
        validFrom=user.valid_from,
        validUntil=user.valid_until,
        right=[
            t.UserRight(area=r.area.value, level=r.level.value)
            for r in sorted(user.rights, key=lambda r: list(Area).index(r.area))
        ],
    )


def administered_user_out(user: User) -> t.AdministeredUser:
    """Never a password, its hash or a personal code: ``User`` carries none."""
    return t.AdministeredUser(
        username=user.username,
        firstName=user.first_name or None,
        lastName=user.last_name or None,
        actsFor=acts_for_out(user.acts_for),
        validFrom=user.valid_from,
        validUntil=user.valid_until,
        active=user.active,
        issuedBy=user.issued_by or None,
        right=[
            t.UserRight(area=r.area.value, level=r.level.value)
            for r in sorted(user.rights, key=lambda r: list(Area).index(r.area))
        ],
    )


def rights_in(right) -> tuple[Right, ...]:
    return tuple(Right(Area(r.area), Level(r.level)) for r in right or ())


def access_record_out(record: AccessRecord) -> t.AccessRecord:
    return t.AccessRecord(
        at=record.at,
        username=record.username,
        actsFor=acts_for_out(record.scope) if record.scope else None,
        operation=record.operation,
        requestId=record.request_id,
        purpose=record.purpose,
        xroadIssue=record.xroad_issue,
        xroadUserId=record.xroad_user_id,
        outcome=record.outcome,
    )


class AccessControlService(ServiceBase):
    @rpc(
        required(t.PersonalCode),
        required(t.PersonName),
        required(t.PersonName),
        required(t.EmailAddress),
        required(t.PhoneNumber),
        required(t.PositionTitle),
        required(t.InstitutionCode),
        required(t.InstitutionName),
        required(t.Address),
        required(t.RegisterDate),
        required(t.RegisterDate),
        required(t.RegisterDate),
        required(t.Confirmations),
        required(t.ActsFor),
        many(t.UserRight, 9, at_least=1),
        optional(t.Username),
        _returns=(required(t.User), required(t.Password)),
        _out_variable_names=("user", "initialPassword"),
    )
    def RegisterUser(
        ctx,
        personalCode,
        firstName,
        lastName,
        email,
        phone,
        position,
        institutionCode,
        institutionName,
        workplaceAddress,
        validFrom,
        validUntil,
        filledOn,
        confirmations,
        actsFor,
        right,
        username,
    ):
        request = user_request_in(
            personalCode,
            firstName,
            lastName,
            email,
            phone,
            position,
            institutionCode,
            institutionName,
            workplaceAddress,
            validFrom,
            validUntil,
            filledOn,
            confirmations,
            actsFor,
            right,
            username,
        )
        user, password = ctx.udc.accounts.register_user(_caller(ctx), request)
        return user_out(user), password

    @rpc(required(t.Password), _returns=required(t.Username), _out_variable_name="username")
    def ChangePassword(ctx, newPassword):
        ctx.udc.accounts.change_password(_caller(ctx), newPassword)
        return _caller(ctx).username

    @rpc(
        required(t.PersonalCode),
        required(t.RegisterDate),
        required(t.RegisterDate),
        optional(t.PageNumber),
        optional(t.PageSize),
        optional(t.Cursor),
        _returns=(required(t.Count), required(t.PageNumber), many(t.AccessRecord, 100), optional(t.Cursor)),
        _out_variable_names=("total", "page", "record", "nextCursor"),
    )
    def GetAccessLog(ctx, personalCode, dateFrom, dateTo, page, pageSize, cursor):
        found = ctx.udc.access_log.who_accessed(
            _caller(ctx), personalCode, dateFrom, dateTo, page=page or 1, page_size=pageSize or 50, cursor=cursor
        )
        return found.total, found.page, [access_record_out(r) for r in found.records], found.next_cursor

    # --- ADMINISTRATION (contract 1.8): gateway.accounts.Accounts decides ------------------
    @rpc(
        optional(t.InstitutionCode),
        optional(t.PageSize),
        optional(t.Cursor),
        _returns=(many(t.AdministeredUser, 100), optional(t.Cursor)),
        _out_variable_names=("user", "nextCursor"),
    )
    def ListUsers(ctx, institutionCode, pageSize, cursor):
        found = ctx.udc.accounts.list_users(
            _caller(ctx), institution_code=institutionCode, cursor=cursor, page_size=pageSize or USER_PAGE_SIZE
        )
        return [administered_user_out(u) for u in found.users], found.next_cursor

    @rpc(
        required(t.Username),
        many(t.UserRight, 9, at_least=1),
        _returns=required(t.AdministeredUser),
        _out_variable_name="user",
    )
    def ChangeUserRights(ctx, username, right):
        return administered_user_out(ctx.udc.accounts.change_rights(_caller(ctx), username, rights_in(right)))

    @rpc(
        required(t.Username),
        required(t.RegisterDate),
        required(t.RegisterDate),
        _returns=required(t.AdministeredUser),
        _out_variable_name="user",
    )
    def SetUserValidity(ctx, username, validFrom, validUntil):
        return administered_user_out(ctx.udc.accounts.set_validity(_caller(ctx), username, validFrom, validUntil))

    @rpc(required(t.Username), _returns=required(t.AdministeredUser), _out_variable_name="user")
    def DisableUser(ctx, username):
        return administered_user_out(ctx.udc.accounts.set_active(_caller(ctx), username, False))

    @rpc(required(t.Username), _returns=required(t.AdministeredUser), _out_variable_name="user")
    def EnableUser(ctx, username):
        return administered_user_out(ctx.udc.accounts.set_active(_caller(ctx), username, True))

    @rpc(
        required(t.Username),
        _returns=(required(t.AdministeredUser), required(t.Password)),
        _out_variable_names=("user", "initialPassword"),
    )
    def ResetPassword(ctx, username):
        user, password = ctx.udc.accounts.reset_password(_caller(ctx), username)
        return administered_user_out(user), password
