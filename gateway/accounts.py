"""Use cases on users: register one from a registration request, change one's own
password, and the ADMINISTRATION menu: list the users one administers, change their rights
and validity, disable and enable them, reset their password. Each is one transaction; the
rules (who administers whom, which rights a user may hold) are ``gateway.domain.users``.
The SOAP operations (``gateway.soap.access_service``) and the ``nvs-gateway users``
commands (the console acts as a central administrator) call the same methods.

Nothing here is cached: every call authenticates against the user row as stored
(``gateway.auth``), so a change is in force on every gateway process from its commit."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gateway.auth import DigestSecrets, hash_password, password_matches
from gateway.clock import Clock
from gateway.domain import users
from gateway.domain.access import Area, Caller, Right, Scope, ScopeKind
from gateway.domain.errors import AccessDenied, AuthenticationFailed, DuplicateUser, InvalidCursor, UserNotFound
from gateway.domain.users import User, UserRequest
from gateway.ports import UnitOfWork, UserAccount, UserChange

log = logging.getLogger(__name__)

USER_PAGE_SIZE = 50
MAX_USER_PAGE_SIZE = 100


def console_issuer(who: str) -> Caller:
    """The operator at the server's console (``nvs-gateway users ...``): a central administrator
    who is no user of the register (id 0), so never "their own user"."""
    return Caller(user_id=0, username=f"console:{who}", central=True)


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    next_cursor: str | None = None  # where the list goes on, when there are more


def _user_cursor(username: str) -> str:
    """The position after a user name (opaque, in the contract's Cursor alphabet)."""
    return "u" + base64.urlsafe_b64encode(username.encode()).decode().rstrip("=")


def _cursor_username(cursor: str) -> str:
    wrong = InvalidCursor("The cursor is not one ListUsers returned: send its nextCursor unchanged, or none.")
    if not cursor.startswith("u") or len(cursor) < 2:
        raise wrong
    body = cursor[1:]
    try:
        username = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, ValueError):
        raise wrong from None
    if _user_cursor(username) != cursor:  # b64decode skips what is not of its alphabet: only ours round-trips
        raise wrong
    return username


class Accounts:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        digest_secrets: DigestSecrets,
        *,
        clock: Clock,
    ) -> None:
        self.uow_factory = uow_factory
        self.digest_secrets = digest_secrets
        self.clock = clock

    def register_user(self, issuer: Caller, request: UserRequest) -> tuple[User, str]:
        """Create the user the request asks for; returns it with its initial password (shown once)."""
        with self.uow_factory() as uow:
            institution = None
            if request.acts_for.kind is ScopeKind.INSTITUTION:
                institution = uow.institutions.get(request.acts_for.code or "")
            users.check_request(
                request,
                issuer=issuer,
                institution=institution,
                classifiers=uow.classifiers.load(),
                today=self.clock.today(),
            )
            if uow.users.holds_valid_user(request.personal_code, request.acts_for, self.clock.today()):
                raise DuplicateUser(
                    "This person already has a valid user acting for the same institution or municipality."
                )
            if request.username is not None:
                if uow.users.by_username(request.username) is not None:
                    raise DuplicateUser("This user name is taken.", field="username")
                username = request.username
            else:
                username = users.username_for(
                    request.first_name, request.last_name, lambda n: uow.users.by_username(n) is not None
                )
            password, password_hash, sealed = self._initial_password()
            user = User(
                id=0,
                username=username,
                acts_for=request.acts_for,
                rights=frozenset(request.rights),
                valid_from=request.valid_from,
                valid_until=request.valid_until,
                active=True,
                first_name=request.first_name,
                last_name=request.last_name,
                issued_by=issuer.username,
            )
            stored = uow.users.add(user, password_hash, sealed, request, at=self.clock.now())
            uow.commit()
            return stored, password

    def _initial_password(self) -> tuple[str, str, str | None]:
        """An initial password (RegisterUser's and ResetPassword's): shown once; stored as its argon2
        hash and, where PasswordDigest is enabled, sealed."""
        password = users.generate_password()
        return password, hash_password(password), self.digest_secrets.seal(password)

    def change_password(self, caller: Caller, new_password: str) -> None:
        with self.uow_factory() as uow:
            account = uow.users.by_username(caller.username)
            if account is None or account.id != caller.user_id:
                raise AuthenticationFailed()
            users.check_new_password(
                new_password,
                username=caller.username,
                same_as_current=password_matches(account.password_hash, new_password),
            )
            uow.users.set_password(
                account.id, hash_password(new_password), self.digest_secrets.seal(new_password), at=self.clock.now()
            )
            uow.commit()

    # --- ADMINISTRATION ------------------------------------------------------------
    def list_users(
        self,
        issuer: Caller,
        *,
        institution_code: str | None = None,
        cursor: str | None = None,
        page_size: int = USER_PAGE_SIZE,
    ) -> UserPage:
        """The users ``issuer`` administers (everyone, or a coordinator's municipal schools' users), by
        user name, a page at a time; optionally of one institution."""
        if issuer.institution_code is not None:
            raise AccessDenied("Users are administered by the central administrator or a municipality coordinator.")
        page_size = max(1, min(page_size, MAX_USER_PAGE_SIZE))
        after = _cursor_username(cursor) if cursor is not None else None
        with self.uow_factory() as uow:
            found = uow.users.page(
                municipal_of=None if issuer.central else issuer.municipality_code,
                institution_code=institution_code,
                after=after,
                limit=page_size + 1,
            )
        more = len(found) > page_size
        return UserPage(found[:page_size], _user_cursor(found[page_size - 1].username) if more else None)

    def all_users(self, issuer: Caller) -> list[User]:
        """Every page of ``list_users`` (the console's list)."""
        found: list[User] = []
        cursor = None
        while True:
            page = self.list_users(issuer, cursor=cursor, page_size=MAX_USER_PAGE_SIZE)
            found += page.users
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    def _administered(self, uow: UnitOfWork, issuer: Caller, username: str) -> UserAccount:
        account = uow.users.by_username(username)
        institution = None
        if account is not None and account.user.acts_for.kind is ScopeKind.INSTITUTION:
            institution = uow.institutions.get(account.user.acts_for.code or "")
        users.check_administers(issuer, account.user if account else None, institution)
        assert account is not None
        return account

    def _changed(self, uow: UnitOfWork, issuer: Caller, account: UserAccount, operation: str, detail: str) -> User:
        """Record the change (``user_change``: when, what, by whom), commit, and return the user as it is now."""
        uow.users.record_change(
            account.id,
            UserChange(
                at=self.clock.now(),
                username=account.username,
                operation=operation,
                detail=detail,
                by_username=issuer.username,
                by_user_id=issuer.user_id or None,
            ),
        )
        changed = uow.users.by_username(account.username)
        assert changed is not None
        uow.commit()
        log.info("user %s: %s (%s) by %s", account.username, operation, detail, issuer.username)
        return changed.user

    def changes_of(self, issuer: Caller, username: str) -> list[UserChange]:
        """What administrators changed of a user, oldest first (the console's ``users history``)."""
        with self.uow_factory() as uow:
            account = uow.users.by_username(username)
            institution = None
            if account is not None and account.user.acts_for.kind is ScopeKind.INSTITUTION:
                institution = uow.institutions.get(account.user.acts_for.code or "")
            if account is None or not users.administers(issuer, account.user, institution):
                raise UserNotFound()
            return uow.users.changes_of(account.id)

    def change_rights(self, issuer: Caller, username: str, rights: Iterable[Right]) -> User:
        """Replace the user's rights with ``rights`` (the registration request's rules apply)."""
        wanted = tuple(rights)
        with self.uow_factory() as uow:
            account = self._administered(uow, issuer, username)
            users.check_rights(wanted, account.user.acts_for)
            uow.users.set_rights(account.id, frozenset(wanted))
            detail = ", ".join(
                f"{r.area.value}:{r.level.value}" for r in sorted(wanted, key=lambda r: list(Area).index(r.area))
            )
            return self._changed(uow, issuer, account, "ChangeUserRights", detail)

    def set_validity(self, issuer: Caller, username: str, valid_from: dt.date, valid_until: dt.date) -> User:
        with self.uow_factory() as uow:
            account = self._administered(uow, issuer, username)
            users.check_validity(valid_from, valid_until, self.clock.today())
            uow.users.set_validity(account.id, valid_from, valid_until)
            return self._changed(uow, issuer, account, "SetUserValidity", f"valid {valid_from} to {valid_until}")

    def set_active(self, issuer: Caller, username: str, active: bool) -> User:
        """Disable (the user's next call fails with AuthenticationFailed) or enable again."""
        with self.uow_factory() as uow:
            account = self._administered(uow, issuer, username)
            uow.users.set_active(username, active)
            operation, detail = ("EnableUser", "enabled") if active else ("DisableUser", "disabled")
            return self._changed(uow, issuer, account, operation, detail)

    def reset_password(self, issuer: Caller, username: str) -> tuple[User, str]:
        """A new initial password, generated and shown once as RegisterUser's; the old one stops working
        at once, and a lock after failed log-ins is lifted."""
        with self.uow_factory() as uow:
            account = self._administered(uow, issuer, username)
            password, password_hash, sealed = self._initial_password()
            uow.users.set_password(account.id, password_hash, sealed, at=self.clock.now())
            uow.login_failures.clear(username)
            return self._changed(uow, issuer, account, "ResetPassword", "a new initial password"), password

    def ensure_user(
        self,
        username: str,
        password: str,
        scope: Scope,
        rights: Iterable[Right],
        *,
        valid_from: dt.date | None = None,
        valid_until: dt.date | None = None,
        issued_by: str = "sandbox",
    ) -> bool:
        """Create the user unless it exists (sandbox and fixtures); True when created."""
        with self.uow_factory() as uow:
            if uow.users.by_username(username) is not None:
                return False
            user = User(0, username, scope, frozenset(rights), valid_from, valid_until, True, issued_by=issued_by)
            uow.users.add(user, hash_password(password), self.digest_secrets.seal(password), at=self.clock.now())
            uow.commit()
            return True
