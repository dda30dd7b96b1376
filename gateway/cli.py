"""``nvs-gateway``: run the gateway, migrate, import reference data and enrolments, export lists, print the sandbox fixture."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from gateway.config import REPOSITORY_ROOT, Settings


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # Envelopes carry personal codes and passwords: these libraries never log them here.
    for noisy in ("zeep", "urllib3", "waitress.queue", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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


def _classifiers(engine):  # type: ignore[no-untyped-def]
    from gateway.bootstrap import unit_of_work_factory

    with unit_of_work_factory(engine)() as uow:
        return uow.classifiers.load()


def _import(settings: Settings, kind: str, path: Path) -> int:
    from tqdm import tqdm

    from gateway import administration
    from gateway.bootstrap import unit_of_work_factory
    from gateway.imports import ImportFileInvalid, parse_institutions, parse_programs
    from storage.db import make_engine

    migrate(settings, quiet=True)
    engine = make_engine(settings.database_url)
    try:
        parse = parse_institutions if kind == "institutions" else parse_programs
        store = administration.import_institutions if kind == "institutions" else administration.import_programs
        try:
            with tqdm(desc=f"checking {path.name}", unit=" records", file=sys.stderr) as bar:
                records = parse(path, _classifiers(engine), progress=lambda n: bar.update(n - bar.n))
        except ImportFileInvalid as invalid:
            print(f"{path}: refused, nothing imported ({len(invalid.errors)} problem(s)):", file=sys.stderr)
            for problem in invalid.errors:
                print(f"  {problem}", file=sys.stderr)
            return 1
        try:
            with tqdm(total=len(records), desc="storing", unit=" records", file=sys.stderr) as bar:
                summary = store(unit_of_work_factory(engine), records, lambda n: bar.update(n - bar.n))
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
                    path, _classifiers(engine), institution_lookup(uow_factory), progress=lambda n: bar.update(n - bar.n)
                )
        except ImportFileInvalid as invalid:
            print(f"{path}: refused, nothing imported ({len(invalid.errors)} problem(s)):", file=sys.stderr)
            for problem in invalid.errors:
                print(f"  {problem}", file=sys.stderr)
            return 1
        with tqdm(total=len(enrolments), desc="storing", unit=" records", file=sys.stderr) as bar:
            summary = import_enrolments(uow_factory, enrolments, lambda n: bar.update(n - bar.n))
    finally:
        engine.dispose()
    print(f"{path.name}: imported {summary}")
    return 0


LIST_FILTERS = {
    "learners": ("--school-year", "[--group-id N] [--program-code CODE]"),
    "arrivals": ("--from-date, --to-date", ""),
    "departures": ("--from-date, --to-date", ""),
    "basket-recipients": ("--month", "[--provider CODE]"),
    "club-attendance": ("--school-year", "[--direction CODE] [--active-on DATE]"),
}


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
                print(f"--municipality {args.municipality}: not a municipality code of the classifiers", file=sys.stderr)
                return 2
        scope = (
            Scope.of_institution(args.institution) if args.institution
            else Scope.of_municipality(args.municipality) if args.municipality
            else Scope.everything()
        )
        use_case = lists.Lists(uow_factory)
        try:
            list_filter = {
                ListName.LEARNERS: lambda: lists.learner_filter(args.school_year, args.group_id, args.program_code),
                ListName.ARRIVALS: lambda: lists.arrival_filter(args.from_date, args.to_date),
                ListName.DEPARTURES: lambda: lists.departure_filter(args.from_date, args.to_date),
                ListName.BASKET_RECIPIENTS: lambda: lists.basket_filter(args.month, args.provider),
                ListName.CLUB_ATTENDANCE: lambda: lists.club_filter(args.school_year, args.direction, args.active_on),
            }[name]()
            total = use_case.count(scope, name, list_filter)
            with tqdm(total=total, desc=f"exporting {name.value}", unit=" rows", file=sys.stderr) as bar:
                summary = export_list(
                    use_case, scope, name, list_filter, args.format, args.output, progress=lambda n: bar.update(n - bar.n)
                )
        except GatewayError as error:
            print(f"export {name.value}: {error.message}", file=sys.stderr)
            return 1
    finally:
        engine.dispose()
    print(f"{summary} (scope: {scope})")
    return 0


def _date_argument(text: str):  # type: ignore[no-untyped-def]
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD") from None


def serve(settings: Settings, *, sandbox: bool) -> int:
    import waitress

    from gateway.bootstrap import build_gateway
    from gateway.sandbox import install_sandbox

    migrate(settings)
    gateway = build_gateway(settings, sandbox=sandbox)
    users = install_sandbox(gateway.uow_factory, _classifiers(gateway.engine)) if sandbox else []
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    print(f"\nnvs-gateway on {base}  (database: {settings.database_url.split('@')[-1]})")
    print(f"  registry            {base}/registry        WSDL {base}/registry?wsdl")
    print(f"  schemas             {base}/xsd/nvs-gateway-v1.xsd")
    if sandbox:
        print(f"  sandbox GR          {base}/population-register   WSDL {base}/population-register?wsdl")
        print(f"  sandbox users       {len(users)}, e.g. {users[0].username} / {users[0].password} ({users[0].institution_name})")
        print("  all test data       nvs-gateway sandbox --json   (README: 'The sandbox')")
    else:
        print(f"  population register {settings.gr_url}")
    print("Stop with Ctrl+C.\n", flush=True)
    waitress.serve(gateway.site, host=settings.host, port=settings.port, threads=settings.threads, ident="nvs-gateway")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nvs-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the gateway (migrates first)")
    run.add_argument("--sandbox", action="store_true", help="also serve the sandbox population register and load sandbox data")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    commands.add_parser("migrate", help="apply schema migrations and load the classifiers")
    for kind, register in (("institutions", "ŠMIR"), ("programs", "NŠPR")):
        command = commands.add_parser(f"import-{kind}", help=f"import {register} {kind} from an XML file (all or nothing)")
        command.add_argument("file", type=Path)
    enrolments = commands.add_parser(
        "import-enrolments", help="import formal enrolments in general-education schools (xsd/formal-enrolments-v1.xsd; all or nothing)"
    )
    enrolments.add_argument("file", type=Path)
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
    export.add_argument("--active-on", type=_date_argument, metavar="YYYY-MM-DD", help="club-attendance: marks in force that day")
    rates = commands.add_parser("rates", help="basket rates")
    rates_commands = rates.add_subparsers(dest="rates_command", required=True)
    rates_import = rates_commands.add_parser("import", help="replace the basket rates with an XML file's (xsd/basket-rates-v1.xsd)")
    rates_import.add_argument("file", type=Path)
    fixture = commands.add_parser("sandbox", help="print the sandbox fixture (institutions, programs, users, special persons)")
    fixture.add_argument("--json", action="store_true", required=True)
    faults = commands.add_parser("faults", help="print the fault catalogue")
    faults.add_argument("--markdown", action="store_true", required=True)
    args = parser.parse_args(argv)

    overrides = {k: v for k, v in (("host", getattr(args, "host", None)), ("port", getattr(args, "port", None))) if v}
    settings = Settings.from_env(**overrides)
    _configure_logging(settings.log_level)

    if args.command == "serve":
        return serve(settings, sandbox=args.sandbox)
    if args.command == "migrate":
        migrate(settings)
        return 0
    if args.command in ("import-institutions", "import-programs"):
        return _import(settings, args.command.split("-", 1)[1], args.file)
    if args.command == "export":
        return _export(settings, args)
    if args.command == "import-enrolments":
        return _import_enrolments(settings, args.file)
    if args.command == "rates":
        return _import_rates(settings, args.file)
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
