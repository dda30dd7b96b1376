"""Settings, read from the environment once and passed in. Nothing connects at import."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
# The contract (xsd/, wsdl/) and the shipped data (data/): beside the packages in a checkout; in gateway/_files/
# once installed from the wheel (setup.py copies them there, the packages alone being installed).
_INSTALLED_FILES = Path(__file__).resolve().parent / "_files"
FILES_ROOT = _INSTALLED_FILES if _INSTALLED_FILES.is_dir() else REPOSITORY_ROOT


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/nvs-gateway.db"
    host: str = "127.0.0.1"
    port: int = 8080
    # The address clients reach us at (behind a TLS proxy: https://...); it goes into the served WSDL.
    public_url: str = ""
    population_register_url: str = ""
    population_register_connect_timeout: float = 3.0
    population_register_read_timeout: float = 5.0
    population_register_retries: int = 1
    # The longest any call waits on GR, all attempts together (seconds); and how long an answer is remembered.
    population_register_deadline: float = 8.0
    population_register_cache_seconds: float = 300.0
    sandbox_gr_latency: float = 0.0
    sandbox_gr_failure_rate: float = 0.0
    max_request_bytes: int = 1024 * 1024
    # The HTTP server of `nvs-gateway serve`: gunicorn (prefork: `workers` processes of `threads`
    # threads; 0 workers: one per core) in production, waitress (one process) for development.
    server: str = "gunicorn"
    workers: int = 0
    threads: int = 8
    # Seconds a stopping or restarting worker gives its requests to finish; above GR's longest wait.
    graceful_timeout: float = 30.0
    validate_responses: bool = False
    log_level: str = "INFO"
    # json: one JSON object per line; text: human-readable lines. Empty: json for `serve`, text for the other commands.
    log_format: str = ""
    # 0: /metrics on the registry's port; another port: there only (served by gunicorn's master, or waitress's process).
    metrics_port: int = 0
    # The basket's age window on the first day of each funded month (decision in rules.md; a setting).
    basket_min_age: int = 6
    basket_max_age: int = 19
    # Failed log-ins in a row that lock a user name, and for how long (minutes).
    lockout_threshold: int = 5
    lockout_minutes: float = 15.0
    # Fernet key sealing passwords for PasswordDigest; empty: PasswordDigest is refused (PasswordText over TLS).
    digest_secret_key: str = ""
    access_log_retention_days: int = 730
    # Days the answer to a request sent with a request id is kept for its retries (gateway.request_ids),
    # and minutes a retried RegisterUser gets the same initial password again.
    request_id_days: int = 7
    initial_password_replay_minutes: float = 15.0
    # GetPersons calls (of 100 codes each) the population-register check keeps in flight.
    gr_check_concurrency: int = 4
    # The instant the gateway's clock starts at (ISO 8601 with an offset), running on from there;
    # empty: the machine's clock. For sandboxes and tests (a school year's first day, say), never production.
    clock_start: str = ""
    # Closed school years kept in the active tables; `nvs-gateway archive` moves older ones to the archive.
    archive_keep_years: int = 2
    # Closed school years a learner's personal data is kept after the learner's last one, and imported
    # formal-education enrolments after theirs (gateway/domain/retention.py; the README says why).
    retention_learner_years: int = 10
    retention_enrolment_years: int = 2

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        values: dict[str, Any] = dict(  # Settings' fields, each of its own type
            database_url=os.environ.get("NVS_DATABASE_URL", cls.database_url),
            host=os.environ.get("NVS_HOST", cls.host),
            port=_int("NVS_PORT", cls.port),
            public_url=os.environ.get("NVS_PUBLIC_URL", ""),
            population_register_url=os.environ.get("NVS_POPULATION_REGISTER_URL", ""),
            population_register_connect_timeout=_float(
                "NVS_GR_CONNECT_TIMEOUT", cls.population_register_connect_timeout
            ),
            population_register_read_timeout=_float("NVS_GR_READ_TIMEOUT", cls.population_register_read_timeout),
            population_register_retries=_int("NVS_GR_RETRIES", cls.population_register_retries),
            population_register_deadline=_float("NVS_GR_DEADLINE", cls.population_register_deadline),
            population_register_cache_seconds=_float("NVS_GR_CACHE_SECONDS", cls.population_register_cache_seconds),
            sandbox_gr_latency=_float("NVS_SANDBOX_GR_LATENCY", cls.sandbox_gr_latency),
            sandbox_gr_failure_rate=_float("NVS_SANDBOX_GR_FAILURE_RATE", cls.sandbox_gr_failure_rate),
            max_request_bytes=_int("NVS_MAX_REQUEST_BYTES", cls.max_request_bytes),
            server=os.environ.get("NVS_SERVER", cls.server).strip().lower(),
            workers=_int("NVS_WORKERS", cls.workers),
            threads=_int("NVS_THREADS", cls.threads),
            graceful_timeout=_float("NVS_GRACEFUL_TIMEOUT", cls.graceful_timeout),
            validate_responses=_bool("NVS_VALIDATE_RESPONSES", cls.validate_responses),
            log_level=os.environ.get("NVS_LOG_LEVEL", cls.log_level),
            log_format=os.environ.get("NVS_LOG_FORMAT", cls.log_format).strip().lower(),
            metrics_port=_int("NVS_METRICS_PORT", cls.metrics_port),
            basket_min_age=_int("NVS_BASKET_MIN_AGE", cls.basket_min_age),
            basket_max_age=_int("NVS_BASKET_MAX_AGE", cls.basket_max_age),
            lockout_threshold=_int("NVS_LOCKOUT_THRESHOLD", cls.lockout_threshold),
            lockout_minutes=_float("NVS_LOCKOUT_MINUTES", cls.lockout_minutes),
            digest_secret_key=os.environ.get("NVS_DIGEST_SECRET_KEY", ""),
            access_log_retention_days=_int("NVS_ACCESS_LOG_RETENTION_DAYS", cls.access_log_retention_days),
            request_id_days=_int("NVS_REQUEST_ID_DAYS", cls.request_id_days),
            initial_password_replay_minutes=_float(
                "NVS_INITIAL_PASSWORD_REPLAY_MINUTES", cls.initial_password_replay_minutes
            ),
            gr_check_concurrency=_int("NVS_GR_CHECK_CONCURRENCY", cls.gr_check_concurrency),
            clock_start=os.environ.get("NVS_CLOCK_START", ""),
            archive_keep_years=_int("NVS_ARCHIVE_KEEP_YEARS", cls.archive_keep_years),
            retention_learner_years=_int("NVS_RETENTION_LEARNER_YEARS", cls.retention_learner_years),
            retention_enrolment_years=_int("NVS_RETENTION_ENROLMENT_YEARS", cls.retention_enrolment_years),
        )
        values.update(overrides)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def registry_url(self) -> str:
        return f"{self.base_url}/registry"

    @property
    def local_url(self) -> str:
        """Where a process on this machine reaches the server: NVS_HOST and NVS_PORT, except that a
        wildcard listening address (0.0.0.0, ::) is no address to call, so loopback stands for it."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}.get(self.host, self.host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # an IPv6 literal
        return f"http://{host}:{self.port}"

    @property
    def worker_count(self) -> int:
        """NVS_WORKERS, or the number of cores this process may run on."""
        if self.workers:
            return self.workers
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

    @property
    def population_register_bound(self) -> float:
        """The longest a call can wait on GR: the deadline, or every attempt connecting and reading to its
        timeout when that is sooner."""
        attempts = self.population_register_retries + 1
        every_attempt = attempts * (self.population_register_connect_timeout + self.population_register_read_timeout)
        return min(self.population_register_deadline, every_attempt)

    @property
    def gr_url(self) -> str:
        """The population register: NVS_POPULATION_REGISTER_URL, or the sandbox that ``serve --sandbox``
        serves beside the registry (NVS_HOST, NVS_PORT). Commands in other processes (the GR check)
        find GR here; ``serve --sandbox`` gives its own registry a private copy of the same sandbox."""
        return self.population_register_url or f"{self.local_url}/population-register"


# Documented in the README's settings table; a test keeps the two in step.
ENVIRONMENT_VARIABLES = {
    "NVS_DATABASE_URL": "database_url",
    "NVS_HOST": "host",
    "NVS_PORT": "port",
    "NVS_PUBLIC_URL": "public_url",
    "NVS_POPULATION_REGISTER_URL": "population_register_url",
    "NVS_GR_CONNECT_TIMEOUT": "population_register_connect_timeout",
    "NVS_GR_READ_TIMEOUT": "population_register_read_timeout",
    "NVS_GR_RETRIES": "population_register_retries",
    "NVS_GR_DEADLINE": "population_register_deadline",
    "NVS_GR_CACHE_SECONDS": "population_register_cache_seconds",
    "NVS_SANDBOX_GR_LATENCY": "sandbox_gr_latency",
    "NVS_SANDBOX_GR_FAILURE_RATE": "sandbox_gr_failure_rate",
    "NVS_MAX_REQUEST_BYTES": "max_request_bytes",
    "NVS_SERVER": "server",
    "NVS_WORKERS": "workers",
    "NVS_THREADS": "threads",
    "NVS_GRACEFUL_TIMEOUT": "graceful_timeout",
    "NVS_VALIDATE_RESPONSES": "validate_responses",
    "NVS_LOG_LEVEL": "log_level",
    "NVS_LOG_FORMAT": "log_format",
    "NVS_METRICS_PORT": "metrics_port",
    "NVS_BASKET_MIN_AGE": "basket_min_age",
    "NVS_BASKET_MAX_AGE": "basket_max_age",
    "NVS_LOCKOUT_THRESHOLD": "lockout_threshold",
    "NVS_LOCKOUT_MINUTES": "lockout_minutes",
    "NVS_DIGEST_SECRET_KEY": "digest_secret_key",
    "NVS_ACCESS_LOG_RETENTION_DAYS": "access_log_retention_days",
    "NVS_REQUEST_ID_DAYS": "request_id_days",
    "NVS_INITIAL_PASSWORD_REPLAY_MINUTES": "initial_password_replay_minutes",
    "NVS_GR_CHECK_CONCURRENCY": "gr_check_concurrency",
    "NVS_CLOCK_START": "clock_start",
    "NVS_ARCHIVE_KEEP_YEARS": "archive_keep_years",
    "NVS_RETENTION_LEARNER_YEARS": "retention_learner_years",
    "NVS_RETENTION_ENROLMENT_YEARS": "retention_enrolment_years",
}
