"""Who is calling: a WS-Security UsernameToken, PasswordText or PasswordDigest.

* PasswordText (the default, and the one to use: over TLS) is checked against the
  user's argon2 hash.
* PasswordDigest (Base64(SHA-1(nonce + created + password))) needs the password
  itself on the server. It is accepted only when ``NVS_DIGEST_SECRET_KEY`` is set:
  every password set while it is keeps, beside the hash, a copy encrypted with that
  key (Fernet, ``DigestSecrets``). Its Created time must be within 5 minutes of ours,
  and each nonce is accepted once, across all worker processes: the database's
  primary key on ``used_nonce`` decides.
* After ``lockout_threshold`` failures in a row a user name (existing or not) is
  locked for ``lockout_minutes``; the count lives in the database, so it holds across
  workers.

The fault never says which of the user name or the password was wrong: both are
``AuthenticationFailed``, with the same message. Whether a registration has expired or
is not valid yet is only said once the password was right.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

from gateway.calls import current_call, keep_if_refused
from gateway.clock import Clock
from gateway.domain.access import Caller
from gateway.domain.errors import AccountLocked, AuthenticationFailed, MessageExpired, TokenReplayed
from gateway.ports import UnitOfWork

_hasher = PasswordHasher()
# Verified when the user does not exist, so that a wrong user name costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")

TOKEN_MAX_AGE = dt.timedelta(minutes=5)
MAX_USERNAME_LENGTH = 100


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class DigestSecrets:
    """Seals passwords for PasswordDigest with the key of ``NVS_DIGEST_SECRET_KEY``.

    Without a key, nothing is sealed and PasswordDigest is refused. A sealed secret
    that the current key cannot open (the key changed) counts as no secret: the user
    logs in with PasswordText and a password change seals it anew.
    """

    def __init__(self, key: str | None) -> None:
        self._fernet = Fernet(key.encode()) if key else None

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    @property
    def enabled(self) -> bool:
        return self._fernet is not None

    def seal(self, password: str) -> str | None:
        return self._fernet.encrypt(password.encode()).decode() if self._fernet else None

    def open(self, sealed: str | None) -> str | None:
        if self._fernet is None or not sealed:
            return None
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None


@dataclass(frozen=True)
class UsernameToken:
    """What a wsse:UsernameToken says (parsed by the SOAP layer)."""

    username: str | None
    password: str | None
    digest: bool = False
    nonce: str | None = None  # base64, as sent
    created: str | None = None  # xs:dateTime, as sent


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int = 5
    minutes: float = 15.0

    @property
    def lock_for(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.minutes)


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


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """The UsernameToken profile 1.0 digest: Base64(SHA-1(nonce + created + password))."""
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()  # noqa: S324 - the profile's


def parse_created(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        created = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return created if created.tzinfo is not None else created.replace(tzinfo=dt.UTC)


class Authenticator:
    """Turns a UsernameToken into a ``Caller`` or one of the authentication faults."""

    HOUSEKEEPING_EVERY = 60.0  # seconds between deleting expired nonces and stale failure counts

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        *,
        digest_secrets: DigestSecrets | None = None,
        lockout: LockoutPolicy | None = None,
        clock: Clock,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.digest_secrets = digest_secrets or DigestSecrets(None)
        self.lockout = lockout or LockoutPolicy()
        self._next_housekeeping = 0.0

    def authenticate(self, token: UsernameToken | None) -> Caller:
        if token is None or not token.username or token.password is None or len(token.username) > MAX_USERNAME_LENGTH:
            raise AuthenticationFailed()
        username = token.username
        now = self.clock.now()
        created = None
        if token.digest:
            # A token without a Created time (or with one that is not a time) is malformed, not expired.
            created = parse_created(token.created)
            if created is None or not token.nonce:
                raise AuthenticationFailed("A PasswordDigest UsernameToken needs a Nonce and a Created time.")
            if abs(now - created) > TOKEN_MAX_AGE:
                raise MessageExpired()
        with self.uow_factory() as uow:
            account, failures = uow.users.for_login(username)
            if failures is not None and failures[1] is not None and failures[1] > now:
                raise AccountLocked()
            matched = (
                self._digest_matches(account, token, created)
                if token.digest
                else self._text_matches(account, token.password)
            )
            if not matched:
                # Counted even though the call fails: inside a call, after its rollback (gateway.calls).
                keep_if_refused(
                    uow,
                    lambda kept: kept.login_failures.record_failure(
                        username, now=now, threshold=self.lockout.threshold, lock_for=self.lockout.lock_for
                    ),
                )
                raise AuthenticationFailed()
            assert account is not None
            if token.digest:
                assert created is not None and token.nonce is not None
                key = hashlib.sha256(f"{username}\0{token.nonce}".encode()).hexdigest()
                expires = created + TOKEN_MAX_AGE
                if not uow.nonces.use(key, expires):
                    raise TokenReplayed()
                # A nonce once seen stays used, also when the call is refused and its transaction rolled back.
                call = current_call()
                if call is not None:
                    call.keep_if_refused(lambda kept: kept.nonces.use(key, expires) and None)
            if not account.user.active:
                uow.commit()  # outside a call, so that the nonce stays used (inside one, see above)
                raise AuthenticationFailed()
            if failures is not None:
                uow.login_failures.clear(username)
            if not token.digest and _hasher.check_needs_rehash(account.password_hash):
                uow.users.set_password_hash(account.id, _hasher.hash(token.password))
            self._housekeeping(uow, now)
            uow.commit()
        account.user.check_valid_on(self.clock.today())
        return account.user.as_caller()

    def _text_matches(self, account, password: str) -> bool:
        if account is not None and _verified.knows(account.username, password, account.password_hash):
            return True
        if not password_matches(account.password_hash if account else _DUMMY_HASH, password) or account is None:
            return False
        if not _hasher.check_needs_rehash(account.password_hash):
            _verified.remember(account.username, password, account.password_hash)
        return True

    def _digest_matches(self, account, token: UsernameToken, created: dt.datetime | None) -> bool:
        secret = self.digest_secrets.open(account.digest_secret) if account is not None else None
        try:
            nonce = base64.b64decode(token.nonce or "", validate=True)
        except (binascii.Error, ValueError):
            return False
        expected = password_digest(nonce, token.created or "", secret if secret is not None else "\0no secret\0")
        return hmac.compare_digest(expected.encode(), (token.password or "").strip().encode()) and secret is not None

    def _housekeeping(self, uow: UnitOfWork, now: dt.datetime) -> None:
        if time.monotonic() < self._next_housekeeping:
            return
        self._next_housekeeping = time.monotonic() + self.HOUSEKEEPING_EVERY
        uow.nonces.forget_expired(now)
        uow.login_failures.forget_stale(now, self.lockout.lock_for)
