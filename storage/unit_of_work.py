"""One transaction per request: ``with uow: ...; uow.commit()``; anything else rolls back."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from storage.feed_checks import SqlCheckRepository, SqlFeedRepository, SqlNoticeRepository
from storage.lists import SqlClubRepository, SqlEnrolmentRepository, SqlListRepository
from storage.repositories import (
    SqlAccessLogRepository,
    SqlClassifierRepository,
    SqlFundingRepository,
    SqlGroupRepository,
    SqlInstitutionRepository,
    SqlLoginFailureRepository,
    SqlNonceRepository,
    SqlPersonRepository,
    SqlProgramRepository,
    SqlRateRepository,
    SqlRegistrationRepository,
    SqlRequestOutcomeRepository,
    SqlUserRepository,
)


class SqlAlchemyUnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory
        self.session: Session | None = None

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        session = self.session = self.session_factory()
        self.classifiers = SqlClassifierRepository(session)
        self.institutions = SqlInstitutionRepository(session)
        self.programs = SqlProgramRepository(session)
        self.groups = SqlGroupRepository(session)
        self.persons = SqlPersonRepository(session)
        self.registrations = SqlRegistrationRepository(session)
        self.users = SqlUserRepository(session)
        self.funding = SqlFundingRepository(session)
        self.rates = SqlRateRepository(session)
        self.nonces = SqlNonceRepository(session)
        self.login_failures = SqlLoginFailureRepository(session)
        self.access_log = SqlAccessLogRepository(session)
        self.feed = SqlFeedRepository(session)
        self.notices = SqlNoticeRepository(session)
        self.checks = SqlCheckRepository(session)
        self.clubs = SqlClubRepository(session)
        self.enrolments = SqlEnrolmentRepository(session)
        self.lists = SqlListRepository(session)
        self.request_outcomes = SqlRequestOutcomeRepository(session)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.session is not None
        try:
            self.session.rollback()  # a no-op after commit; undoes everything otherwise
        finally:
            self.session.close()
            self.session = None

    def commit(self) -> None:
        assert self.session is not None
        # The change events are numbered last, just before the commit: see SqlFeedRepository.
        self.feed.publish_pending()
        self.session.commit()

    def rollback(self) -> None:
        assert self.session is not None
        self.feed.discard_pending()
        self.session.rollback()
