"""One transaction per request: ``with uow: ...; uow.commit()``; anything else rolls back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from sqlalchemy.orm import Session, sessionmaker

from gateway.ports import (
    AccessLogRepository,
    ArchiveRepository,
    CheckRepository,
    ClassifierRepository,
    ClubRepository,
    EnrolmentRepository,
    FeedRepository,
    FundingRepository,
    GroupRepository,
    InstitutionRepository,
    ListRepository,
    LoginFailureRepository,
    NonceRepository,
    NoticeRepository,
    PersonRepository,
    ProgramRepository,
    RateRepository,
    RegistrationRepository,
    RequestOutcomeRepository,
    RetentionRepository,
    Savepoint,
    StatisticsRepository,
    UserRepository,
)
from storage.archive import SqlArchiveRepository
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
from storage.retention import SqlRetentionRepository
from storage.statistics import SqlStatisticsRepository


class SqlAlchemyUnitOfWork:
    """The ``UnitOfWork`` port on SQLAlchemy; its repositories are typed as their ports, so the
    type checker holds each ``Sql*Repository`` to the protocol the use cases rely on."""

    classifiers: ClassifierRepository
    institutions: InstitutionRepository
    programs: ProgramRepository
    groups: GroupRepository
    persons: PersonRepository
    registrations: RegistrationRepository
    users: UserRepository
    funding: FundingRepository
    rates: RateRepository
    nonces: NonceRepository
    login_failures: LoginFailureRepository
    access_log: AccessLogRepository
    _access_log: SqlAccessLogRepository
    feed: FeedRepository
    _feed: SqlFeedRepository
    notices: NoticeRepository
    checks: CheckRepository
    clubs: ClubRepository
    enrolments: EnrolmentRepository
    lists: ListRepository
    statistics: StatisticsRepository
    request_outcomes: RequestOutcomeRepository
    archive: ArchiveRepository
    retention: RetentionRepository

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory
        self.session: Session | None = None

    def __enter__(self) -> Self:
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
        self.access_log = self._access_log = SqlAccessLogRepository(session)  # written at the commit
        self.feed = self._feed = SqlFeedRepository(session)  # _feed: the queue only this class publishes
        self.notices = SqlNoticeRepository(session)
        self.checks = SqlCheckRepository(session)
        self.clubs = SqlClubRepository(session)
        self.enrolments = SqlEnrolmentRepository(session)
        self.lists = SqlListRepository(session)
        self.statistics = SqlStatisticsRepository(session)
        self.request_outcomes = SqlRequestOutcomeRepository(session)
        self.archive = SqlArchiveRepository(session)
        self.retention = SqlRetentionRepository(session)
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
        # The change events are numbered last, just before the commit (see SqlFeedRepository), and the
        # access-log records written with them.
        self._feed.publish_pending(self._access_log.take_pending())
        self.session.commit()

    def rollback(self) -> None:
        assert self.session is not None
        self._feed.discard_pending()
        self._access_log.discard_queued_after(0)
        self.session.rollback()

    @contextmanager
    def savepoint(self) -> Iterator[Savepoint]:
        assert self.session is not None
        queued, records = self._feed.queued(), self._access_log.queued()
        nested = self.session.begin_nested()
        handle = Savepoint()
        try:
            yield handle
        except BaseException:
            nested.rollback()
            self._feed.discard_queued_after(queued)
            self._access_log.discard_queued_after(records)
            raise
        if handle.discarded:
            nested.rollback()
            self._feed.discard_queued_after(queued)
            self._access_log.discard_queued_after(records)
        else:
            nested.commit()
