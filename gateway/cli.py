"""``nvs-gateway``: run the gateway, migrate, import reference data and enrolments, manage users, purge the
access log, run the data checks, export lists, roll groups over into the next school year, print the sandbox
fixture."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from gateway.clock import clock_for
from gateway.config import Settings

if TYPE_CHECKING:
    from gateway.domain.model import PersonRecord
    from gateway.domain.personal_code import PersonalCode

if TYPE_CHECKING:
    from tqdm import tqdm

    from gateway.domain.lists import ListFilter


def _configure_logging(level: str, log_format: str = "text") -> None:
    from gateway.logs import configure_logging

    configure_logging(level, log_format)


def _metrics_directory() -> str | None:
    """PROMETHEUS_MULTIPROC_DIR for this server start, set before anything imports prometheus-client (it picks
    its multiprocess values at import): the operator's, emptied of an earlier start's counts, or a fresh one,
    removed when the server stops (returned then)."""
    import os
    import tempfile

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        os.makedirs(given, exist_ok=True)
        for name in os.listdir(given):
            if name.endswith(".db"):
                os.remove(os.path.join(given, name))
        return None
    fresh = tempfile.mkdtemp(prefix="nvs-gateway-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = fresh
    return fresh


def _ensure_sqlite_directory(url: str) -> None:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and ":memory:" not in url:
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)


def migrate(settings: Settings, *, quiet: bool = False) -> None:
    """Bring the schema to the newest revision and load the classifiers when their version changed."""
    from gateway.bootstrap import prepare_database
    from storage.db import make_engine

    _ensure_sqlite_directory(settings.database_url)
    engine = make_engine(settings.database_url)
    version, loaded = prepare_database(engine)
    engine.dispose()
    if not quiet:
        print(f"schema at head; classifiers {version} " + ("loaded" if loaded else "already loaded"))


def _classifiers(engine):
    from gateway.bootstrap import unit_of_work_factory

    with unit_of_work_factory(engine)() as uow:
        return uow.classifiers.load()


def _advance(bar: tqdm[NoReturn]) -> Callable[[int], None]:
    """A progress callback, told the count done so far, that moves ``bar`` to it."""

    def progress(done: int) -> None:
        bar.update(done - bar.n)

    return progress


def _import(settings: Settings, kind: str, path: Path) -> int:
    from tqdm import tqdm

    from gateway import administration
    from gateway.bootstrap import unit_of_work_factory
    from gateway.imports import ImportFileInvalid, ImportSummary, parse_institutions, parse_programs
    from storage.db import make_engine

    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    try:
        store: Callable[[Callable[[int], None]], ImportSummary]
        try:
            with tqdm(desc=f"checking {path.name}", unit=" records", file=sys.stderr) as bar:
                if kind == "institutions":
                    institutions = parse_institutions(path, _classifiers(engine), progress=_advance(bar))
                    count = len(institutions)
                    store = partial(administration.import_institutions, unit_of_work_factory(engine), institutions)
                else:
                    programs = parse_programs(path, _classifiers(engine), progress=_advance(bar))
                    count = len(programs)
                    store = partial(administration.import_programs, unit_of_work_factory(engine), programs)
        except ImportFileInvalid as invalid:
            print(f"{path}: refused, nothing imported ({len(invalid.errors)} problem(s)):", file=sys.stderr)
            for problem in invalid.errors:
                print(f"  {problem}", file=sys.stderr)
            return 1
        try:
            with tqdm(total=count, desc="storing", unit=" records", file=sys.stderr) as bar:
                summary = store(_advance(bar))
        except administration.UnknownProviders as exc:
            print(f"{path}: refused, nothing imported: {exc}", file=sys.stderr)
            return 1
    finally:
        engine.dispose()
    print(f"{path.name}: imported {summary}")
    return 0


def _import_rates(settings: Settings, path: Path) -> int:
    from gateway import administration
    from gateway.bootstrap import unit_of_work_factory
    from gateway.imports import ImportFileInvalid
    from gateway.rates import parse_rates
    from storage.db import make_engine

    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    try:
        try:
            version, rates = parse_rates(path, _classifiers(engine))
        except ImportFileInvalid as invalid:
            print(f"{path}: refused, nothing imported ({len(invalid.errors)} problem(s)):", file=sys.stderr)
            for problem in invalid.errors:
                print(f"  {problem}", file=sys.stderr)
            return 1
        count = administration.import_rates(unit_of_work_factory(engine), version, rates)
    finally:
        engine.dispose()
    print(f"{path.name}: basket rates version {version} in force ({count} rates; the previous set is replaced)")
    return 0


def _accounts(settings: Settings, engine):
    from gateway.accounts import Accounts
    from gateway.bootstrap import digest_secrets_for, unit_of_work_factory

    return Accounts(unit_of_work_factory(engine), digest_secrets_for(settings), clock=clock_for(settings))


def users_add(settings: Settings, path: Path) -> int:
    """Create a user from a registration request file; print its initial password, once."""
    import getpass

    from gateway.accounts import console_issuer
    from gateway.domain.errors import GatewayError
    from gateway.imports import ImportFileInvalid, parse_user_request
    from storage.db import make_engine

    migrate(settings, quiet=True)
    try:
        request = parse_user_request(path)
    except ImportFileInvalid as invalid:
        print(f"{path}: refused, no user created ({len(invalid.errors)} problem(s)):", file=sys.stderr)
        for problem in invalid.errors:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except GatewayError as error:
        print(f"{path}: refused, no user created: {error.code}: {error.message}", file=sys.stderr)
        return 1
    # The operator at the server's console issues credentials as the central administrator does.
    issuer = console_issuer(getpass.getuser())
    engine = make_engine(settings.database_url)
    try:
        user, password = _accounts(settings, engine).register_user(issuer, request)
    except GatewayError as error:
        where = f" ({error.field})" if error.field else ""
        print(f"{path}: refused, no user created: {error.code}{where}: {error.message}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"created user {user.username} acting for {user.acts_for}, valid {user.valid_from} to {user.valid_until}")
    print(f"initial password (shown only now; hand it over securely, to be changed with ChangePassword): {password}")
    return 0


def users_set_active(settings: Settings, username: str, active: bool) -> int:
    """DisableUser / EnableUser at the console, as a central administrator."""
    import getpass

    from gateway.accounts import console_issuer
    from gateway.domain.errors import GatewayError
    from storage.db import make_engine

    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    try:
        _accounts(settings, engine).set_active(console_issuer(getpass.getuser()), username, active)
    except GatewayError as error:
        print(
            f"no user {username}" if error.code == "UserNotFound" else f"{error.code}: {error.message}", file=sys.stderr
        )
        return 1
    finally:
        engine.dispose()
    print(f"user {username} {'enabled' if active else 'disabled'}")
    return 0


def users_history(settings: Settings, username: str) -> int:
    """What administrators changed of a user (``user_change``), oldest first."""
    import getpass

    from gateway.accounts import console_issuer
    from gateway.domain.errors import GatewayError
    from storage.db import make_engine

    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    try:
        changes = _accounts(settings, engine).changes_of(console_issuer(getpass.getuser()), username)
    except GatewayError:
        print(f"no user {username}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    for change in changes:
        print(f"{change.at:%Y-%m-%d %H:%M:%S%z}  {change.operation:<17} {change.detail}  by {change.by_username}")
    print(f"{len(changes)} change(s) of {username}")
    return 0


def users_list(settings: Settings) -> int:
    """ListUsers at the console, as a central administrator: every user."""
    import getpass

    from gateway.accounts import console_issuer
    from gateway.domain.access import Area
    from storage.db import make_engine

    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    try:
        users = _accounts(settings, engine).all_users(console_issuer(getpass.getuser()))
    finally:
        engine.dispose()
    today = clock_for(settings).today()
    rows = [("USER", "NAME", "ACTS FOR", "VALID", "STATUS", "RIGHTS")]
    for u in users:
        status = (
            "disabled"
            if not u.active
            else "expired"
            if u.valid_until and u.valid_until < today
            else "not yet valid"
            if u.valid_from and u.valid_from > today
            else "active"
        )
        valid = f"{u.valid_from or '-'}..{u.valid_until or '-'}"
        rights = ", ".join(
            f"{r.area.value}:{r.level.value}" for r in sorted(u.rights, key=lambda r: list(Area).index(r.area))
        )
        rows.append(
            (u.username, f"{u.first_name} {u.last_name}".strip() or "-", str(u.acts_for), valid, status, rights or "-")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    print(f"{len(users)} user(s)")
    return 0


def access_log_purge(settings: Settings) -> int:
    from gateway.access_log import AccessLog
    from gateway.bootstrap import unit_of_work_factory
    from storage.db import make_engine

    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    try:
        summary = AccessLog(unit_of_work_factory(engine), clock=clock_for(settings)).purge(
            settings.access_log_retention_days
        )
    finally:
        engine.dispose()
    print(f"retention {settings.access_log_retention_days} day(s): {summary}")
    # For a log collector (the metrics show the result too: nvs_access_log_oldest_record_age_seconds).
    logging.getLogger("nvs.access_log").info(
        "access log purged",
        extra={
            "retention_days": settings.access_log_retention_days,
            "records_removed": summary.records,
            "persons_removed": summary.persons,
            "records_remaining": summary.remaining,
        },
    )
    # The housekeeping of the answers kept for retries runs with it (they name the same calls).
    return request_ids_purge(settings)


def request_ids_purge(settings: Settings) -> int:
    """Remove the answers kept for retries after NVS_REQUEST_ID_DAYS, and initial passwords past their window."""
    from gateway.bootstrap import digest_secrets_for, request_ids_for, unit_of_work_factory
    from storage.db import make_engine

    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    try:
        request_ids = request_ids_for(
            settings, unit_of_work_factory(engine), digest_secrets_for(settings), clock_for(settings)
        )
        summary = request_ids.purge()
    finally:
        engine.dispose()
    print(
        f"request ids kept {settings.request_id_days} day(s): {summary.answers} answer(s) older than "
        f"{summary.cutoff.isoformat(timespec='seconds')} removed, {summary.passwords} initial password(s) forgotten"
    )
    return 0


def users_reset_password(settings: Settings, username: str) -> int:
    """ResetPassword at the console, as a central administrator: a new initial password (printed once),
    e.g. when the first one was lost."""
    import getpass

    from gateway.accounts import console_issuer
    from gateway.domain.errors import GatewayError
    from storage.db import make_engine

    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    try:
        _, password = _accounts(settings, engine).reset_password(console_issuer(getpass.getuser()), username)
    except GatewayError as error:
        print(
            f"no user {username}" if error.code == "UserNotFound" else f"{error.code}: {error.message}", file=sys.stderr
        )
        return 1
    finally:
        engine.dispose()
    print(f"user {username}: new initial password (shown once) {password}")
    print("the user changes it with ChangePassword", file=sys.stderr)
    return 0


def _check(settings: Settings, which: str, *, restart: bool, concurrency: int | None, institution: str | None) -> int:
    """Run a data check with a progress bar and a closing summary; 0 when it completed."""
    from tqdm import tqdm

    from gateway.bootstrap import population_register, unit_of_work_factory
    from gateway.checks import CheckSummary, PopulationRegisterCheck, StudentDataCheck
    from gateway.domain.funding import BasketPolicy
    from storage.db import make_engine

    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    unit = " persons" if which == "population-register" else " registrations"
    try:
        with tqdm(desc=f"{which} check", unit=unit, file=sys.stderr, dynamic_ncols=True) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            uow_factory = unit_of_work_factory(engine)
            summary: CheckSummary
            if which == "population-register":
                print(f"asking the population register at {_population_register_shown(settings)}", file=sys.stderr)
                gr = population_register(settings)
                check = PopulationRegisterCheck(
                    uow_factory, gr, concurrency=concurrency or settings.gr_check_concurrency, clock=clock_for(settings)
                )
                summary = check.run(restart=restart, progress=progress)
            else:
                policy = BasketPolicy(minimum_age=settings.basket_min_age, maximum_age=settings.basket_max_age)
                summary = StudentDataCheck(uow_factory, policy=policy, clock=clock_for(settings)).run(
                    institution_code=institution, progress=progress
                )
    except KeyboardInterrupt:
        print(f"{which} check interrupted; run the command again to continue.", file=sys.stderr)
        return 130
    finally:
        engine.dispose()
    _print_summary(which, summary, settings)
    return 0 if summary.completed else 1


class _NoPopulationRegister:
    """The rollover moves stored learners only: it never asks GR (a call would be a bug)."""

    def find_person(self, personal_code: PersonalCode) -> PersonRecord | None:
        raise AssertionError("roll-over does not ask the population register")

    def find_persons(self, personal_codes: list[PersonalCode]) -> dict[PersonalCode, PersonRecord | None]:
        raise AssertionError("roll-over does not ask the population register")


def roll_over(settings: Settings, args: argparse.Namespace) -> int:
    """``nvs-gateway roll-over``: copy groups into the next school year (and carry their learners),
    one transaction per group, with a progress bar and a summary; 0 when no group was refused."""
    from tqdm import tqdm

    from gateway.bootstrap import unit_of_work_factory
    from gateway.domain.errors import GatewayError
    from gateway.domain.funding import BasketPolicy
    from gateway.services import Registry
    from storage.db import make_engine

    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    policy = BasketPolicy(minimum_age=settings.basket_min_age, maximum_age=settings.basket_max_age)
    registry = Registry(
        unit_of_work_factory(engine), _NoPopulationRegister(), clock=clock_for(settings), basket_policy=policy
    )
    try:
        with tqdm(desc=f"rolling over {args.from_year}", unit=" groups", file=sys.stderr, dynamic_ncols=True) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            done, refused = registry.roll_over_for_operator(
                args.from_year,
                args.to_year,
                institution_codes=tuple(args.institution or ()),
                group_ids=tuple(args.group or ()),
                carry_learners=args.carry_learners,
                progress=progress,
            )
    except GatewayError as error:
        print(f"roll-over refused: {error.code}: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("roll-over interrupted; run the command again: groups done are found, not copied again.", file=sys.stderr)
        return 130
    finally:
        engine.dispose()
    created = sum(r.created for r in done)
    carried = sum(len(r.carried) for r in done)
    warnings = sum(len(r.warnings) for r in done)
    print(
        f"roll-over {args.from_year} -> {args.to_year}: {len(done) + len(refused)} group(s); "
        f"{created} copied, {len(done) - created} copied before; "
        f"{carried} learner(s) carried" + ("" if args.carry_learners else " (learners not asked for)") + "; "
        f"{warnings} funding warning(s); {len(refused)} refused"
    )
    for refusal in refused:
        group = refusal.group
        print(f"  refused: group {group.id} '{group.name}' of {group.provider_code}: {refusal.code}: {refusal.message}")
    return 1 if refused else 0


def archive(settings: Settings, args: argparse.Namespace) -> int:
    """``nvs-gateway archive``: move closed school years past NVS_ARCHIVE_KEEP_YEARS to the archive tables,
    then erase the personal data past its retention (NVS_RETENTION_*), in batches (one transaction each),
    with progress bars and a summary; a rerun continues."""
    from tqdm import tqdm

    from gateway.archive import archive as run_archive
    from gateway.bootstrap import unit_of_work_factory
    from gateway.domain.retention import RetentionPeriods
    from gateway.retention import BATCH_SIZE as RETENTION_BATCH_SIZE
    from gateway.retention import apply_retention
    from storage.db import make_engine

    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    uow_factory = unit_of_work_factory(engine)
    clock = clock_for(settings)

    def progress_of(bar: tqdm) -> Callable[[int, int], None]:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        return progress

    try:
        with tqdm(desc="archiving", unit=" rows", file=sys.stderr, dynamic_ncols=True) as bar:
            summary = run_archive(
                uow_factory,
                clock,
                keep_years=settings.archive_keep_years,
                batch_size=args.batch_size,
                progress=progress_of(bar),
                max_batches=args.max_batches,
            )
        years = ", ".join(f"{y}-{y + 1}" for y in summary.years) or "none"
        print(
            f"archive (keeping {settings.archive_keep_years} closed school year(s)): years {years}; "
            f"{summary.registrations} registration(s), {summary.groups} group(s), {summary.club_marks} club mark(s) "
            f"moved in {summary.batches} batch(es); {summary.still_active} registration(s) still active kept"
        )
        batches_left = None if args.max_batches is None else args.max_batches - summary.batches
        if batches_left is not None and batches_left <= 0:
            print("retention: not reached (--max-batches); run the command again", file=sys.stderr)
            return 0
        periods = RetentionPeriods(settings.retention_learner_years, settings.retention_enrolment_years)
        with tqdm(desc="erasing", unit=" records", file=sys.stderr, dynamic_ncols=True) as bar:
            erased = apply_retention(
                uow_factory,
                clock,
                periods,
                batch_size=min(args.batch_size, RETENTION_BATCH_SIZE),
                progress=progress_of(bar),
                max_batches=batches_left,
            )
    except KeyboardInterrupt:
        print("archive interrupted; run the command again: batches done stay done, the rest follows.", file=sys.stderr)
        return 130
    finally:
        engine.dispose()
    print(
        f"retention (learners {periods.learner_years} closed school year(s), enrolments "
        f"{periods.enrolment_years}): {erased.learners} learner(s) of years up to "
        f"{erased.learners_through}-{erased.learners_through + 1} pseudonymised ({erased.tombstones} PERSON_ERASED "
        f"event(s)), leaders erased from {erased.group_leaders} archived group(s), {erased.enrolments} "
        f"enrolment(s) of years up to {erased.enrolments_through}-{erased.enrolments_through + 1} deleted"
    )
    return 0


def _population_register_shown(settings: Settings) -> str:
    """GR's address as the operator needs it to find a wrong setting: without user or password."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(settings.gr_url)
    url = urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))
    if settings.population_register_url:
        return f"{url} (NVS_POPULATION_REGISTER_URL)"
    return f"{url} (the sandbox of `nvs-gateway serve --sandbox` on NVS_HOST:NVS_PORT; NVS_POPULATION_REGISTER_URL sets another)"


def _import_enrolments(settings: Settings, path: Path) -> int:
    from tqdm import tqdm

    from gateway.bootstrap import unit_of_work_factory
    from gateway.enrolments import import_enrolments, institution_lookup, parse_enrolments
    from gateway.imports import ImportFileInvalid
    from storage.db import make_engine

    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    try:
        uow_factory = unit_of_work_factory(engine)
        try:
            with tqdm(desc=f"checking {path.name}", unit=" records", file=sys.stderr) as bar:
                enrolments = parse_enrolments(
                    path,
                    _classifiers(engine),
                    institution_lookup(uow_factory),
                    progress=_advance(bar),
                )
        except ImportFileInvalid as invalid:
            print(f"{path}: refused, nothing imported ({len(invalid.errors)} problem(s)):", file=sys.stderr)
            for problem in invalid.errors:
                print(f"  {problem}", file=sys.stderr)
            return 1
        with tqdm(total=len(enrolments), desc="storing", unit=" records", file=sys.stderr) as bar:
            summary = import_enrolments(uow_factory, enrolments, _advance(bar))
    finally:
        engine.dispose()
    print(f"{path.name}: imported {summary}")
    return 0


def _import_registrations(settings: Settings, args: argparse.Namespace) -> int:
    """``nvs-gateway import-registrations FILE``: check the file, then load it in batches of 500
    (each one transaction), with a progress bar, a per-record result file and a summary."""
    import getpass

    from tqdm import tqdm

    from gateway.bootstrap import population_register, unit_of_work_factory
    from gateway.calls import Transactions
    from gateway.domain.funding import BasketPolicy
    from gateway.population_register_cache import CachedPopulationRegister
    from gateway.registration_import import ImportFileInvalid, check_file, import_registrations
    from gateway.services import Registry
    from storage.db import make_engine

    path: Path = args.file
    results: Path = args.results or path.with_name(path.stem + ".results.csv")
    try:
        with tqdm(desc=f"checking {path.name}", unit=" records", file=sys.stderr, dynamic_ncols=True) as bar:
            institution, count = check_file(path, progress=_advance(bar))
    except (ImportFileInvalid, OSError) as invalid:
        print(f"{path}: refused, nothing imported: {invalid}", file=sys.stderr)
        return 2
    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    clock = clock_for(settings)
    transactions = Transactions(unit_of_work_factory(engine))
    cached = CachedPopulationRegister(
        population_register(settings), ttl_seconds=settings.population_register_cache_seconds
    )
    policy = BasketPolicy(minimum_age=settings.basket_min_age, maximum_age=settings.basket_max_age)
    registry = Registry(transactions, cached, clock=clock, basket_policy=policy)
    operator = f"console:{getpass.getuser()}"
    verb = "checking" if args.validate_only else "registering"
    try:
        with tqdm(total=count, desc=verb, unit=" records", file=sys.stderr, dynamic_ncols=True) as bar:
            summary = import_registrations(
                path,
                registry=registry,
                transactions=transactions,
                fetch_persons=cached.fetch,
                clock=clock,
                operator=operator,
                results=results,
                validate_only=args.validate_only,
                progress=_advance(bar),
            )
    except KeyboardInterrupt:
        print(
            f"import interrupted: the batches done are stored (see {results}); the batch under way was not. "
            "Remove the stored records from the file (or leave them: they are refused as AlreadyRegistered) "
            "and run again.",
            file=sys.stderr,
        )
        return 130
    finally:
        engine.dispose()
    what = "would be stored (validate only, nothing written)" if args.validate_only else "stored"
    print(
        f"{path.name} for {institution}: {summary.records} record(s) in {summary.batches} batch(es); "
        f"{summary.accepted} {what}, {summary.refused} refused; results in {results}"
    )
    return 1 if summary.refused else 0


LIST_FILTERS = {
    "learners": ("--school-year", "[--group-id N] [--program-code CODE]"),
    "arrivals": ("--from-date, --to-date", ""),
    "departures": ("--from-date, --to-date", ""),
    "basket-recipients": ("--month", "[--provider CODE]"),
    "club-attendance": ("--school-year", "[--direction CODE] [--active-on DATE]"),
}


def _print_summary(which: str, summary, settings: Settings) -> None:
    from gateway.checks import GR_UNAVAILABLE

    things = "persons" if which == "population-register" else "registrations"
    done = summary.done_before + summary.done_now
    if summary.completed:
        print(f"{which} check: run {summary.run_id} completed, {done} {things} checked.")
    else:
        print(
            f"{which} check: run {summary.run_id} stopped ({summary.stopped_by}) after {done} of {summary.total} {things}; "
            "run the command again to continue where it stopped."
        )
    if summary.stopped_by == GR_UNAVAILABLE:
        # Not a result: nothing was compared for the persons left. Say where GR was asked.
        print(f"  the population register could not be reached at {_population_register_shown(settings)}")
        print(f"  {summary.total - done} {things} not checked; the previous completed run's findings still stand")
    if summary.resumed:
        print(f"  continued an interrupted run: {summary.done_before} {things} had been checked before")
    print(
        f"  checked now: {summary.done_now} {things} in {summary.seconds:.1f} s ({summary.per_second:.0f} {things}/s)"
    )
    if summary.findings:
        for code, count in sorted(summary.findings.items()):
            print(f"  {code}: {count}")
    elif summary.completed:
        print("  nothing found")
    print(f"  notices raised: {summary.notices}")
    if summary.completed:
        print("  per institution: GetDataCheckStatus and ListDataIssues")


def _export(settings: Settings, args: argparse.Namespace) -> int:
    """Stream a list to a file; without --institution or --municipality, everything (an operator's export)."""
    from tqdm import tqdm

    from gateway import lists
    from gateway.bootstrap import unit_of_work_factory
    from gateway.domain import classifiers as cls
    from gateway.domain.errors import GatewayError
    from gateway.domain.lists import ListName, Scope
    from gateway.exports import export_list
    from storage.db import make_engine

    name = ListName(args.list)
    required = {
        ListName.LEARNERS: ("school_year",),
        ListName.ARRIVALS: ("from_date", "to_date"),
        ListName.DEPARTURES: ("from_date", "to_date"),
        ListName.BASKET_RECIPIENTS: ("month",),
        ListName.CLUB_ATTENDANCE: ("school_year",),
    }[name]
    missing = ["--" + option.replace("_", "-") for option in required if getattr(args, option) is None]
    if missing:
        print(f"export {name.value} needs {' and '.join(missing)}", file=sys.stderr)
        return 2
    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    try:
        uow_factory = unit_of_work_factory(engine)
        with uow_factory() as uow:
            if args.institution and uow.institutions.get(args.institution) is None:
                print(f"--institution {args.institution}: no such institution", file=sys.stderr)
                return 2
            if args.municipality and uow.classifiers.load().get(cls.MUNICIPALITY, args.municipality) is None:
                print(
                    f"--municipality {args.municipality}: not a municipality code of the classifiers", file=sys.stderr
                )
                return 2
        scope = (
            Scope.of_institution(args.institution)
            if args.institution
            else Scope.of_municipality(args.municipality)
            if args.municipality
            else Scope.everything()
        )
        use_case = lists.Lists(uow_factory)
        try:
            filters: dict[ListName, Callable[[], ListFilter]] = {
                ListName.LEARNERS: lambda: lists.learner_filter(args.school_year, args.group_id, args.program_code),
                ListName.ARRIVALS: lambda: lists.arrival_filter(args.from_date, args.to_date),
                ListName.DEPARTURES: lambda: lists.departure_filter(args.from_date, args.to_date),
                ListName.BASKET_RECIPIENTS: lambda: lists.basket_filter(args.month, args.provider),
                ListName.CLUB_ATTENDANCE: lambda: lists.club_filter(args.school_year, args.direction, args.active_on),
            }
            list_filter = filters[name]()
            total = use_case.count(scope, name, list_filter)
            with tqdm(total=total, desc=f"exporting {name.value}", unit=" rows", file=sys.stderr) as bar:
                summary = export_list(
                    use_case,
                    scope,
                    name,
                    list_filter,
                    args.format,
                    args.output,
                    progress=_advance(bar),
                    clock=clock_for(settings),
                )
        except GatewayError as error:
            print(f"export {name.value}: {error.message}", file=sys.stderr)
            return 1
    finally:
        engine.dispose()
    print(f"{summary} (scope: {scope})")
    return 0


def _report(settings: Settings, args: argparse.Namespace) -> int:
    """The statistics of a period and scope as CSV, XLSX and a chart (gateway/reports.py)."""
    from gateway import reports
    from gateway.bootstrap import unit_of_work_factory
    from gateway.domain import classifiers as cls
    from gateway.domain.errors import GatewayError
    from gateway.domain.lists import Scope
    from gateway.statistics import StatisticsReport
    from storage.db import make_engine

    if not (args.csv or args.xlsx or args.chart):
        print("report: name at least one of --csv, --xlsx and --chart", file=sys.stderr)
        return 2
    if args.chart and args.chart.suffix.lower() not in (".svg", ".png"):
        print("report: --chart writes an .svg or a .png file", file=sys.stderr)
        return 2
    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    try:
        uow_factory = unit_of_work_factory(engine)
        with uow_factory() as uow:
            municipalities = {e.code: e.name for e in uow.classifiers.load().entries(cls.MUNICIPALITY)}
            institution = uow.institutions.get(args.institution) if args.institution else None
        if args.institution and institution is None:
            print(f"--institution {args.institution}: no such institution", file=sys.stderr)
            return 2
        if args.municipality and args.municipality not in municipalities:
            print(f"--municipality {args.municipality}: not a municipality code of the classifiers", file=sys.stderr)
            return 2
        if institution is not None:
            scope, described = Scope.of_institution(institution.code), f"{institution.name} ({institution.code})"
        elif args.municipality:
            scope, described = Scope.of_municipality(args.municipality), municipalities[args.municipality]
        else:
            scope, described = Scope.everything(), "the whole register"
        use_case = StatisticsReport(uow_factory)
        period = {"school_year": args.school_year, "month": args.month}
        written = []
        try:
            report = use_case.of_scope(scope, group_by=args.group_by or ["municipality"], **period)
            reasons = use_case.departure_reasons()
            if args.csv:
                reports.write_csv(report, reasons, args.csv)
                written.append(args.csv)
            if args.xlsx:
                made_at = clock_for(settings).now()
                reports.write_xlsx(report, reasons, args.xlsx, scope=described, made_at=made_at)
                written.append(args.xlsx)
            if args.chart:
                chart = use_case.of_scope(scope, group_by=["municipality", "direction"], **period)
                reports.write_chart(chart, args.chart, scope=described)
                written.append(args.chart)
        except GatewayError as error:
            print(f"report: {error.message}", file=sys.stderr)
            return 1
    finally:
        engine.dispose()
    total = report.statistics.total
    print(
        f"report {report.statistics.period} of {described}: {len(report.statistics.lines)} lines, "
        f"{total.learners} learners, {total.arrivals} arrivals, {total.departures} departures, "
        f"{total.basket_recipients} basket child-months ({total.basket_amount} EUR), "
        f"{total.club_attendance} club marks; wrote {', '.join(str(p) for p in written)}"
    )
    return 0


def _date_argument(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD") from None


def _install_sandbox(settings: Settings, clock):
    from gateway.bootstrap import unit_of_work_factory
    from gateway.sandbox import install_sandbox
    from storage.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        return install_sandbox(unit_of_work_factory(engine), _classifiers(engine), clock=clock)
    finally:
        engine.dispose()  # no connection of this process may be inherited by gunicorn's workers


def serve(settings: Settings, *, sandbox: bool) -> int:
    """Migrate, install the sandbox when asked, and serve until Ctrl+C (or SIGTERM).

    With ``sandbox``, the sandbox GR runs in a process of its own (``sandbox-gr``), which the
    registry calls and the site's /population-register forwards to; it stops with us.
    """
    import shutil

    fresh_metrics_directory = _metrics_directory() if settings.server == "gunicorn" else None
    try:
        return _serve(settings, sandbox=sandbox)
    finally:
        if fresh_metrics_directory is not None:
            shutil.rmtree(fresh_metrics_directory, ignore_errors=True)


def _serve(settings: Settings, *, sandbox: bool) -> int:
    from gateway.server import SandboxPopulationRegister, check_serving_settings, describe, serve_wsgi

    try:
        check_serving_settings(settings)
    except ValueError as problem:
        print(f"nvs-gateway serve: {problem}", file=sys.stderr)
        return 2
    migrate(settings)
    # One clock for every worker: forked from here, they all run on from the same start.
    clock = clock_for(settings)
    users = _install_sandbox(settings, clock) if sandbox else []
    sandbox_gr = SandboxPopulationRegister(settings) if sandbox else None
    try:
        if sandbox_gr is not None and not settings.population_register_url:
            settings = replace(settings, population_register_url=sandbox_gr.url)
        base = settings.public_url or f"http://{settings.host}:{settings.port}"
        print(f"\nnvs-gateway on {base}  (database: {settings.database_url.split('@')[-1]}; {describe(settings)})")
        print(f"  registry            {base}/registry        WSDL {base}/registry?wsdl")
        print(f"  schemas             {base}/xsd/nvs-gateway-v1.xsd")
        if sandbox:
            print(f"  sandbox GR          {base}/population-register   WSDL {base}/population-register?wsdl")
            print(
                "  GR check            nvs-gateway check population-register (with the same NVS_HOST, NVS_PORT) asks it"
            )
            print(
                f"  sandbox users       {len(users)}, e.g. {users[0].username} / {users[0].password} ({users[0].institution_name});"
            )
            print(f"                      administrator {users[-1].username} / {users[-1].password}")
            print("  all test data       nvs-gateway sandbox --json   (README: 'The sandbox')")
        else:
            print(f"  population register {settings.gr_url}")
        print("Stop with Ctrl+C.\n", flush=True)

        def load():
            from gateway.bootstrap import build_gateway

            gr_url = sandbox_gr.url if sandbox_gr is not None else None
            return build_gateway(settings, sandbox=sandbox, clock=clock, sandbox_gr_url=gr_url).site

        return serve_wsgi(load, settings)
    finally:
        if sandbox_gr is not None:
            sandbox_gr.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nvs-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the gateway (migrates first)")
    run.add_argument(
        "--sandbox", action="store_true", help="also serve the sandbox population register and load sandbox data"
    )
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument(
        "--server", choices=("gunicorn", "waitress"), help="the HTTP server (default NVS_SERVER: gunicorn)"
    )
    sandbox_gr = commands.add_parser(
        "sandbox-gr", help="run the sandbox population register alone (serve --sandbox starts one itself)"
    )
    sandbox_gr.add_argument("--host", default="127.0.0.1")
    sandbox_gr.add_argument("--port", type=int, default=8081)
    sandbox_gr.add_argument("--threads", type=int, default=8)
    sandbox_gr.add_argument(
        "--listen-fd", type=int, help=argparse.SUPPRESS
    )  # serve --sandbox's child: an inherited socket
    commands.add_parser("migrate", help="apply schema migrations and load the classifiers")
    for kind, register in (("institutions", "ŠMIR"), ("programs", "NŠPR")):
        command = commands.add_parser(
            f"import-{kind}", help=f"import {register} {kind} from an XML file (all or nothing)"
        )
        command.add_argument("file", type=Path)
    enrolments = commands.add_parser(
        "import-enrolments",
        help="import formal enrolments in general-education schools (xsd/formal-enrolments-v1.xsd; all or nothing)",
    )
    enrolments.add_argument("file", type=Path)
    registrations = commands.add_parser(
        "import-registrations",
        help="register a provider's children from a file (xsd/nvs-registrations-import-v1.xsd), in batches of 500",
    )
    registrations.add_argument("file", type=Path)
    registrations.add_argument(
        "--validate-only", action="store_true", help="run every check (GR included), write nothing"
    )
    registrations.add_argument(
        "--results", type=Path, help="the per-record result file (CSV; default: FILE's name + .results.csv)"
    )
    export = commands.add_parser(
        "export",
        help="stream a list to an XML (xsd/nvs-export-v1.xsd) or CSV file, with constant memory",
        description="Filters each list needs: "
        + "; ".join(f"{name}: {needs} {optional}".strip() for name, (needs, optional) in LIST_FILTERS.items())
        + ". Scope: --institution or --municipality; neither: everything.",
    )
    export.add_argument("list", choices=list(LIST_FILTERS))
    export.add_argument("--format", choices=("xml", "csv"), required=True)
    export.add_argument("--output", type=Path, required=True, help="the file to write (replaced when complete)")
    where = export.add_mutually_exclusive_group()
    where.add_argument("--institution", metavar="CODE", help="only what this institution's users see")
    where.add_argument("--municipality", metavar="CODE", help="only what this municipality's coordinator sees")
    export.add_argument("--school-year", metavar="YYYY-YYYY")
    export.add_argument("--group-id", type=int)
    export.add_argument("--program-code", metavar="CODE")
    export.add_argument("--from-date", type=_date_argument, metavar="YYYY-MM-DD")
    export.add_argument("--to-date", type=_date_argument, metavar="YYYY-MM-DD")
    export.add_argument("--month", metavar="YYYY-MM")
    export.add_argument("--provider", metavar="CODE", help="basket-recipients: only this provider's")
    export.add_argument("--direction", metavar="CODE", help="club-attendance: only this NVŠ direction")
    export.add_argument(
        "--active-on", type=_date_argument, metavar="YYYY-MM-DD", help="club-attendance: marks in force that day"
    )
    report = commands.add_parser(
        "report",
        help="the statistics of a school year or month (as GetStatistics) as CSV, XLSX and a chart",
        description="Counts of learners, arrivals, departures by reason, basket recipients and amounts, and club "
        "attendance, each the count of its list. Scope: --institution or --municipality; neither: everything.",
    )
    period = report.add_mutually_exclusive_group(required=True)
    period.add_argument("--school-year", metavar="YYYY-YYYY")
    period.add_argument("--month", metavar="YYYY-MM")
    report.add_argument(
        "--group-by",
        action="append",
        choices=["municipality", "provider", "direction", "purpose", "ageBand", "sex"],
        help="a dimension of the lines (once or twice; default: municipality)",
    )
    report_scope = report.add_mutually_exclusive_group()
    report_scope.add_argument("--institution", metavar="CODE", help="only what this institution's users see")
    report_scope.add_argument("--municipality", metavar="CODE", help="only what this municipality's coordinator sees")
    report.add_argument("--csv", type=Path, metavar="FILE.csv")
    report.add_argument("--xlsx", type=Path, metavar="FILE.xlsx")
    report.add_argument(
        "--chart", type=Path, metavar="FILE.svg|FILE.png", help="learners by NVŠ direction and municipality"
    )
    rates = commands.add_parser("rates", help="basket rates")
    rates_commands = rates.add_subparsers(dest="rates_command", required=True)
    rates_import = rates_commands.add_parser(
        "import", help="replace the basket rates with an XML file's (xsd/basket-rates-v1.xsd)"
    )
    rates_import.add_argument("file", type=Path)
    users = commands.add_parser(
        "users", help="register users from registration requests, disable, list"
    ).add_subparsers(dest="users_command", required=True)
    users.add_parser(
        "add", help="create a user from a registration request file (xsd/user-registration-request-v1.xsd)"
    ).add_argument("file", type=Path)
    users.add_parser("disable", help="disable a user: it can no longer log in").add_argument("username")
    users.add_parser("enable", help="enable a disabled user again").add_argument("username")
    users.add_parser("list", help="every user: what it acts for, validity, status, rights")
    users.add_parser(
        "history", help="what administrators changed of a user: rights, validity, disabled, password reset"
    ).add_argument("username")
    users.add_parser(
        "reset-password", help="give a user a new initial password, printed once (e.g. the first one was lost)"
    ).add_argument("username")
    access_log = commands.add_parser("access-log", help="the access log of personal data").add_subparsers(
        dest="access_log_command", required=True
    )
    access_log.add_parser(
        "purge", help="remove records older than NVS_ACCESS_LOG_RETENTION_DAYS (and the request ids' old answers)"
    )
    request_ids = commands.add_parser("request-ids", help="the answers kept for retries").add_subparsers(
        dest="request_ids_command", required=True
    )
    request_ids.add_parser("purge", help="remove answers older than NVS_REQUEST_ID_DAYS")
    check = commands.add_parser("check", help="run a data check (progress bar; a summary at the end)")
    check_commands = check.add_subparsers(dest="check_command", required=True)
    gr_check = check_commands.add_parser(
        "population-register",
        help="compare every stored person with the population register (continues an interrupted run)",
    )
    gr_check.add_argument(
        "--restart", action="store_true", help="abandon an interrupted run and start from the beginning"
    )
    gr_check.add_argument(
        "--concurrency", type=int, help="GetPersons calls in flight (default NVS_GR_CHECK_CONCURRENCY)"
    )
    data_check = check_commands.add_parser("data", help="check the registrations against the student-data rules")
    data_check.add_argument("--institution", help="only this institution's registrations (default: all)")
    rollover = commands.add_parser(
        "roll-over",
        help="copy groups into the next school year, optionally with their learners (idempotent; a summary at the end)",
    )
    rollover.add_argument("--from", dest="from_year", required=True, metavar="YYYY-YYYY")
    rollover.add_argument("--to", dest="to_year", required=True, metavar="YYYY-YYYY")
    rollover.add_argument("--institution", action="append", metavar="CODE", help="only this provider's (repeatable)")
    rollover.add_argument("--group", action="append", type=int, metavar="ID", help="only this group (repeatable)")
    rollover.add_argument(
        "--carry-learners",
        action="store_true",
        help="move active learners into the copies from the new year's first day",
    )
    archiving = commands.add_parser(
        "archive",
        help="move closed school years older than NVS_ARCHIVE_KEEP_YEARS to the archive tables, then erase "
        "personal data past NVS_RETENTION_* (batches; resumable)",
    )
    archiving.add_argument(
        "--batch-size",
        type=int,
        default=5000,
        help="rows per transaction (default 5000; learners erased: 1000 at most)",
    )
    archiving.add_argument("--max-batches", type=int, help="stop after this many batches (a rerun continues)")
    fixture = commands.add_parser(
        "sandbox", help="print the sandbox fixture (institutions, programs, users, special persons)"
    )
    fixture.add_argument("--json", action="store_true", required=True)
    faults = commands.add_parser("faults", help="print the fault catalogue")
    faults.add_argument("--markdown", action="store_true", required=True)
    args = parser.parse_args(argv)

    if args.command == "sandbox-gr":
        from gateway.server import run_sandbox_gr

        settings = Settings.from_env()
        _configure_logging(settings.log_level, settings.log_format or "text")
        return run_sandbox_gr(
            listen_fd=args.listen_fd,
            host=args.host,
            port=args.port,
            threads=args.threads,
            latency=settings.sandbox_gr_latency,
            failure_rate=settings.sandbox_gr_failure_rate,
        )
    options = (
        ("host", getattr(args, "host", None)),
        ("port", getattr(args, "port", None)),
        ("server", getattr(args, "server", None)),
    )
    settings = Settings.from_env(**{k: v for k, v in options if v})
    if not settings.log_format:  # JSON lines for a server's log collector; text at the console
        settings = replace(settings, log_format="json" if args.command == "serve" else "text")
    try:
        _configure_logging(settings.log_level, settings.log_format)
    except ValueError as problem:
        print(f"nvs-gateway: {problem}", file=sys.stderr)
        return 2

    if args.command == "serve":
        return serve(settings, sandbox=args.sandbox)
    if args.command == "migrate":
        migrate(settings)
        return 0
    if args.command in ("import-institutions", "import-programs"):
        return _import(settings, args.command.split("-", 1)[1], args.file)
    if args.command == "export":
        return _export(settings, args)
    if args.command == "report":
        return _report(settings, args)
    if args.command == "import-registrations":
        return _import_registrations(settings, args)
    if args.command == "import-enrolments":
        return _import_enrolments(settings, args.file)
    if args.command == "rates":
        return _import_rates(settings, args.file)
    if args.command == "users":
        if args.users_command == "add":
            return users_add(settings, args.file)
        if args.users_command == "reset-password":
            return users_reset_password(settings, args.username)
        if args.users_command in ("disable", "enable"):
            return users_set_active(settings, args.username, args.users_command == "enable")
        if args.users_command == "history":
            return users_history(settings, args.username)
        return users_list(settings)
    if args.command == "access-log":
        return access_log_purge(settings)
    if args.command == "request-ids":
        return request_ids_purge(settings)
    if args.command == "check":
        return _check(
            settings,
            args.check_command,
            restart=getattr(args, "restart", False),
            concurrency=getattr(args, "concurrency", None),
            institution=getattr(args, "institution", None),
        )
    if args.command == "roll-over":
        return roll_over(settings, args)
    if args.command == "archive":
        return archive(settings, args)
    if args.command == "sandbox":
        from gateway.reference_data import load_classifiers
        from gateway.sandbox import sandbox_fixture

        print(json.dumps(sandbox_fixture(load_classifiers(), settings.base_url), ensure_ascii=False, indent=2))
        return 0
    if args.command == "faults":
        from gateway.fault_catalogue import load_catalogue, render_markdown

        print(render_markdown(load_catalogue()), end="")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
