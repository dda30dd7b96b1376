"""Safe retries: a request sent again with its request id gets the answer the first one got.

Every operation that changes something takes an optional request id: the ``nvs:requestId`` SOAP
header (contract 1.6), or else the X-Road ``id`` header. Within the call's own transaction
(``gateway.calls``), before the use case runs, the user's request id is claimed:

* another transaction, in any gateway process, holds it: ``RequestInProgress`` (Server: retry);
* an answer is stored for it and the request's Body is the same: that answer is sent again, the
  use case does not run, nothing is written but the access-log record (outcome ``replayed``);
* an answer is stored and the Body differs: ``RequestIdReused``;
* nothing is stored: the use case runs, and its answer (the response element, as sent) is stored
  in the same transaction, so that it commits with the change or not at all.

A call that ends in a fault stores nothing: a retry after a refusal runs again (and may succeed,
say once the population register answers). The Body is compared by a keyed digest of its exclusive
canonical form (C14N), so the WS-Security token (nonce, created) and the X-Road headers, which differ
between retries, do not count. A ``RegisterUser`` or ``ResetPassword`` answer carries an initial password: it is kept only
sealed with ``NVS_DIGEST_SECRET_KEY`` and replayed within ``NVS_INITIAL_PASSWORD_REPLAY_MINUTES``; later,
or without a key, the retry gets ``RequestReplayExpired``, which names the way to a new password.
Answers are purged after ``NVS_REQUEST_ID_DAYS`` (``nvs-gateway request-ids purge``, and
``access-log purge``, the existing housekeeping, runs it too).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from gateway.auth import DigestSecrets
from gateway.clock import Clock
from gateway.domain.errors import RequestIdReused, RequestInProgress, RequestReplayExpired
from gateway.ports import StoredOutcome, UnitOfWork

# The contract's RequestId: a UUID, or up to 64 characters of these.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
# Operations whose answer carries a password: kept sealed, replayed within the short window only.
SEALED_OPERATIONS = frozenset({"RegisterUser", "ResetPassword"})


def request_id_from_xroad(message_id: str) -> str:
    """An X-Road message id as a request id: as it is when it fits the contract's type, else its digest."""
    message_id = message_id.strip()
    if REQUEST_ID.fullmatch(message_id):
        return message_id
    return hashlib.sha256(message_id.encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """A request id claimed in the call's transaction: store the answer with ``keep``."""

    user_id: int
    request_id: str
    operation: str
    body_hash: str


@dataclass(frozen=True)
class PurgeSummary:
    cutoff: dt.datetime
    answers: int
    passwords: int


class RequestIds:
    def __init__(
        self,
        secrets: DigestSecrets,
        *,
        clock: Clock,
        keep_days: int = 7,
        password_replay_minutes: float = 15.0,
        uow_factory: Callable[[], UnitOfWork] | None = None,
    ) -> None:
        self.secrets = secrets
        self.clock = clock
        self.keep_days = keep_days
        self.password_window = dt.timedelta(minutes=password_replay_minutes)
        self.uow_factory = uow_factory

    def body_hash(self, body: etree._Element) -> str:
        return self.secrets.keyed_digest(etree.tostring(body, method="c14n", exclusive=True, with_comments=False))

    def claim(
        self, uow: UnitOfWork, user_id: int, request_id: str, operation: str, body: etree._Element
    ) -> tuple[Claim | None, bytes | None]:
        """(a claim to keep the answer with, None) for a new request id; (None, the stored answer) for a retry."""
        if not uow.request_outcomes.lock(user_id, request_id):
            raise RequestInProgress()
        body_hash = self.body_hash(body)
        stored = uow.request_outcomes.get(user_id, request_id)
        if stored is None or stored.created_at < self.clock.now() - dt.timedelta(days=self.keep_days):
            if stored is not None:  # kept past its days, not yet purged: a new request after all
                uow.request_outcomes.forget(user_id, request_id)
            return Claim(user_id, request_id, operation, body_hash), None
        if stored.operation != operation or stored.body_hash != body_hash:
            raise RequestIdReused()
        if stored.operation in SEALED_OPERATIONS:
            opened = self.secrets.open(stored.sealed_response)
            if opened is None or self.clock.now() - stored.created_at > self.password_window:
                minutes = self.password_window.total_seconds() / 60
                done = (
                    "the user was registered by it" if stored.operation == "RegisterUser" else "the password was reset"
                )
                raise RequestReplayExpired(
                    f"This {stored.operation} request was done: {done}, but its initial password "
                    f"is shown again only within {minutes:g} minutes. Ask the register's operator to reset the "
                    "user's password (nvs-gateway users reset-password USERNAME, or ResetPassword); the user then "
                    "sets its own with ChangePassword."
                )
            return None, opened.encode("utf-8")
        return None, stored.response

    def keep(self, uow: UnitOfWork, claim: Claim, response: bytes) -> None:
        """Store the answer in the call's transaction: it commits with the change."""
        sealed = claim.operation in SEALED_OPERATIONS
        uow.request_outcomes.add(
            StoredOutcome(
                user_id=claim.user_id,
                request_id=claim.request_id,
                operation=claim.operation,
                body_hash=claim.body_hash,
                created_at=self.clock.now(),
                response=None if sealed else response,
                sealed_response=self.secrets.seal(response.decode("utf-8")) if sealed else None,
            )
        )

    def purge(self) -> PurgeSummary:
        """Housekeeping: answers older than ``keep_days`` go, initial passwords past their window too."""
        assert self.uow_factory is not None
        now = self.clock.now()
        cutoff = now - dt.timedelta(days=self.keep_days)
        with self.uow_factory() as uow:
            answers = uow.request_outcomes.purge(cutoff)
            passwords = uow.request_outcomes.forget_sealed(now - self.password_window)
            uow.commit()
        return PurgeSummary(cutoff=cutoff, answers=answers, passwords=passwords)
