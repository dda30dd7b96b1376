"""Use cases on users: register one from a registration request, change one's own
password, disable, list. Each is one transaction; the rules are ``gateway.domain.users``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from gateway.auth import DigestSecrets, hash_password, password_matches
from gateway.clock import Clock
from gateway.domain import users
from gateway.domain.access import Caller, Right, Scope, ScopeKind
from gateway.domain.errors import AuthenticationFailed, DuplicateUser
from gateway.domain.users import User, UserRequest
from gateway.ports import UnitOfWork


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
            password = users.generate_password()
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
            stored = uow.users.add(
                user, hash_password(password), self.digest_secrets.seal(password), request, at=self.clock.now()
            )
            uow.commit()
            return stored, password

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

    def reset_password(self, username: str) -> str | None:
        """A new generated initial password for the user (None: no such user), e.g. when the first was lost."""
        with self.uow_factory() as uow:
            account = uow.users.by_username(username)
            if account is None:
                return None
            password = users.generate_password()
            uow.users.set_password(
                account.id, hash_password(password), self.digest_secrets.seal(password), at=self.clock.now()
            )
            uow.commit()
            return password

    def set_active(self, username: str, active: bool) -> bool:
        with self.uow_factory() as uow:
            found = uow.users.set_active(username, active)
            uow.commit()
            return found

    def list_users(self) -> list[User]:
        with self.uow_factory() as uow:
            return uow.users.all()

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
