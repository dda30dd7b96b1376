"""Who is calling: WS-Security UsernameToken (PasswordText) checked against argon2 hashes.

Rights per functional area, municipality scope and digest tokens come with the
access-control work; the seam is ``authenticate``, which returns the ``Caller``.
"""
from __future__ import annotations

from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.domain.errors import AuthenticationFailed
from gateway.ports import UnitOfWork
from gateway.services import Caller

_hasher = PasswordHasher()
# Verified when the user does not exist, so that a wrong user name costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def authenticate(uow_factory: Callable[[], UnitOfWork], username: str | None, password: str | None) -> Caller:
    """The same fault whatever was wrong: never say whether the user or the password was."""
    if not username or password is None:
        raise AuthenticationFailed()
    with uow_factory() as uow:
        user = uow.users.by_username(username)
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            raise AuthenticationFailed() from None
        if user is None or not user.active:
            raise AuthenticationFailed()
        if _hasher.check_needs_rehash(user.password_hash):
            uow.users.set_password_hash(user.id, _hasher.hash(password))
            uow.commit()
        return Caller(user_id=user.id, username=user.username, institution_code=user.institution_code)
