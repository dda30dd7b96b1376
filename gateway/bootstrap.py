"""Wiring: settings in, a ready site out. The one place that knows every adapter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from clients.population_register.client import ZeepPopulationRegister
from gateway import metrics
from gateway.access_log import AccessLog
from gateway.accounts import Accounts
from gateway.auth import Authenticator, DigestSecrets, LockoutPolicy
from gateway.calls import Transactions
from gateway.clock import Clock, clock_for
from gateway.config import Settings
from gateway.domain.funding import BasketPolicy
from gateway.health import Readiness
from gateway.http import RequestBodyGuard
from gateway.population_register_cache import CachedPopulationRegister
from gateway.ports import PopulationRegister, UnitOfWork
from gateway.request_ids import RequestIds
from gateway.services import Registry
from gateway.soap.app import build_registry_app
from gateway.wsgi import Site
from storage.db import make_engine, make_session_factory, migration_transaction
from storage.unit_of_work import SqlAlchemyUnitOfWork


@dataclass
class Gateway:
    settings: Settings
    engine: Engine
    uow_factory: Callable[[], UnitOfWork]
    registry: Registry
    accounts: Accounts
    access_log: AccessLog
    site: Site


def unit_of_work_factory(engine: Engine) -> Callable[[], UnitOfWork]:
    session_factory = make_session_factory(engine)
    return lambda: SqlAlchemyUnitOfWork(session_factory)


def population_register(settings: Settings) -> PopulationRegister:
    return ZeepPopulationRegister(
        settings.gr_url,
        connect_timeout=settings.population_register_connect_timeout,
        read_timeout=settings.population_register_read_timeout,
        retries=settings.population_register_retries,
        deadline=settings.population_register_deadline,
    )


def build_gateway(
    settings: Settings,
    *,
    sandbox: bool,
    engine: Engine | None = None,
    gr: PopulationRegister | None = None,
    clock: Clock | None = None,
    sandbox_gr_url: str | None = None,
) -> Gateway:
    """The site; its clock is ``clock``, else the one the settings name. With ``sandbox``, the site's
    /population-register forwards to ``sandbox_gr_url`` (the sandbox GR's own process), or serves
    the sandbox GR itself (the tests' in-process gateways)."""
    clock = clock or clock_for(settings)
    engine = engine or make_engine(settings.database_url, pool_class=metrics.WaitCountingQueuePool)
    metrics.instrument_pool(engine)
    # Every use case's unit of work joins the transaction of the SOAP call it serves (gateway.calls).
    uow_factory = Transactions(unit_of_work_factory(engine))
    policy = BasketPolicy(minimum_age=settings.basket_min_age, maximum_age=settings.basket_max_age)
    cached_gr = CachedPopulationRegister(
        gr or population_register(settings), ttl_seconds=settings.population_register_cache_seconds
    )
    registry = Registry(uow_factory, cached_gr, clock=clock, basket_policy=policy)
    digest_secrets = digest_secrets_for(settings, sandbox=sandbox)
    accounts = Accounts(uow_factory, digest_secrets, clock=clock)
    access_log = AccessLog(uow_factory, clock=clock)
    authenticator = Authenticator(
        uow_factory,
        digest_secrets=digest_secrets,
        lockout=LockoutPolicy(threshold=settings.lockout_threshold, minutes=settings.lockout_minutes),
        clock=clock,
    )
    request_ids = request_ids_for(settings, uow_factory, digest_secrets, clock)
    registry_app = build_registry_app(
        registry,
        uow_factory,
        max_request_bytes=settings.max_request_bytes,
        validate_responses=settings.validate_responses,
        authenticator=authenticator,
        accounts=accounts,
        access_log=access_log,
        request_ids=request_ids,
    )
    gr_app = None
    if sandbox and sandbox_gr_url:
        from gateway.server import forward_to

        gr_app = forward_to(sandbox_gr_url)
    elif sandbox:
        from clients.population_register.sandbox import build_sandbox_app

        gr_app = build_sandbox_app(
            latency_seconds=settings.sandbox_gr_latency,
            failure_rate=settings.sandbox_gr_failure_rate,
            public_url=settings.public_url,
        )
    site = Site(
        RequestBodyGuard(registry_app, settings.max_request_bytes),
        public_url=settings.public_url,
        population_register_app=gr_app,
        readiness=Readiness(engine, population_register_url=None if gr is not None else settings.gr_url),
        metrics_app=None if settings.metrics_port else site_metrics(settings, engine, clock),
    )
    return Gateway(
        settings=settings,
        engine=engine,
        uow_factory=uow_factory,
        registry=registry,
        accounts=accounts,
        access_log=access_log,
        site=site,
    )


def request_ids_for(
    settings: Settings, uow_factory: Callable[[], UnitOfWork], digest_secrets: DigestSecrets, clock: Clock
) -> RequestIds:
    return RequestIds(
        digest_secrets,
        clock=clock,
        keep_days=settings.request_id_days,
        password_replay_minutes=settings.initial_password_replay_minutes,
        uow_factory=uow_factory,
    )


def site_metrics(settings: Settings, engine: Engine, clock: Clock) -> Callable[[dict, Callable], list[bytes]]:
    """/metrics: every worker's counts and, read at scrape time, what the database says."""
    return metrics.metrics_app(
        metrics.DatabaseCollector(engine, clock.now), metrics.StaticCollector(settings.access_log_retention_days)
    )


# A public key for the sandbox only, so that integrators can try PasswordDigest there (README: 'The sandbox').
SANDBOX_DIGEST_SECRET_KEY = "c2FuZGJveC1vbmx5LWRpZ2VzdC1rZXktcHVibGljISE="


def digest_secrets_for(settings: Settings, *, sandbox: bool = False) -> DigestSecrets:
    """The key of NVS_DIGEST_SECRET_KEY; in the sandbox, a public one when none is set."""
    return DigestSecrets(settings.digest_secret_key or (SANDBOX_DIGEST_SECRET_KEY if sandbox else None))


def prepare_database(engine: Engine) -> tuple[str, bool]:
    """Bring the schema to the newest Alembic revision and load the classifiers when their version changed.

    Returns the classifier version and whether it was (re)loaded now.
    """
    from alembic import command
    from alembic.config import Config

    from gateway import administration
    from gateway.config import REPOSITORY_ROOT
    from gateway.reference_data import CLASSIFIER_FILE, load_classifier_file

    config = Config()
    config.set_main_option("script_location", str(REPOSITORY_ROOT / "storage" / "migrations"))
    with migration_transaction(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    version, entries = load_classifier_file(CLASSIFIER_FILE)
    uow_factory = unit_of_work_factory(engine)
    loaded = administration.load_reference_data(uow_factory, version, entries)
    administration.load_shipped_rates(uow_factory)
    return version, loaded
