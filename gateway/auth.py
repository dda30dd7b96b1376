"""Who is calling: WS-Security UsernameToken (PasswordText) checked against argon2 hashes.

Rights per functional area, municipality scope and digest tokens come with the
access-control work; the seam is ``authenticate``, which returns the ``Caller``.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
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


class VerifiedCredentials:
    """Remembers, for a short while, that a password matched a stored argon2 hash.

    argon2 costs ~100 ms by design; PasswordText arrives with every request. The
    cache keeps only a keyed digest (the key never leaves this process) and is bound
    to the stored hash, so a password change takes effect at once; the user row is
    still read on every request, so disabling a user does too.
    """

    def __init__(self, ttl_seconds: float = 300.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._key = os.urandom(32)
        self._entries: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def _digest(self, username: str, password: str, stored_hash: str) -> bytes:
        message = "\0".join((username, password, stored_hash)).encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def knows(self, username: str, password: str, stored_hash: str) -> bool:
        digest = self._digest(username, password, stored_hash)
        with self._lock:
            expires = self._entries.get(digest)
            return expires is not None and expires > time.monotonic()

    def remember(self, username: str, password: str, stored_hash: str) -> None:
        digest = self._digest(username, password, stored_hash)
        with self._lock:
            if len(self._entries) >= self.max_entries:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[digest] = time.monotonic() + self.ttl


_verified = VerifiedCredentials()


def authenticate(uow_factory: Callable[[], UnitOfWork], username: str | None, password: str | None) -> Caller:
    """The same fault whatever was wrong: never say whether the user or the password was."""
    if not username or password is None:
        raise AuthenticationFailed()
    with uow_factory() as uow:
        user = uow.users.by_username(username)
        if user is not None and user.active and _verified.knows(username, password, user.password_hash):
            return Caller(user_id=user.id, username=user.username, institution_code=user.institution_code)
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            raise AuthenticationFailed() from None
        if user is None or not user.active:
            raise AuthenticationFailed()
        if _hasher.check_needs_rehash(user.password_hash):
            uow.users.set_password_hash(user.id, _hasher.hash(password))
            uow.commit()
        else:
            _verified.remember(username, password, user.password_hash)
        return Caller(user_id=user.id, username=user.username, institution_code=user.institution_code)
