"""Archive benchmark: `nvs-gateway archive` on a register of five school years.

    .venv/bin/python bench/archive.py [--registrations 500000] [--postgres URL]

Builds a scratch register (a fresh SQLite file; with --postgres a scratch schema, dropped afterwards)
with ``registrations`` registrations spread evenly over the school years 2022-2023 to 2026-2027
(bench/datasets.py's bulk loader, one call per year; the four closed years' registrations all
deregistered), times an export of the active year's learners (XML, best of three) before, runs `nvs-gateway archive`
in a process of its own with the clock in November 2026 (2024 and 2025 kept, 2022 and 2023 archived),
reports its time and peak RSS, times the export again and a rerun of the archive. Then it runs the archive
once more with NVS_RETENTION_LEARNER_YEARS=2, so that the learners of the two archived years past it are
pseudonymised (with their PERSON_ERASED events), and reports that time and peak RSS, beside a floor
measured just before it: one raw UPDATE that rewrites the personal code of every one of those learners
in the person table (the least any erasure must do), committed, and its ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.export_lists import postgres_scratch, sandbox_engine

YEARS = (2022, 2023, 2024, 2025, 2026)
CHILD = """
import sys, time
from gateway.cli import main
started = time.perf_counter()
code = main(["archive"])
seconds = time.perf_counter() - started
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(f"RESULT {code} {seconds:.2f} {int(hwm) / 1024:.1f}")
"""


def build(url: str, registrations: int) -> float:
    from sqlalchemy import text

    from bench.datasets import generate

    engine = sandbox_engine(url)
    started = time.perf_counter()
    per_year = registrations // len(YEARS)
    for year in YEARS:
        with engine.connect() as connection:
            first_group = connection.execute(text("SELECT coalesce(max(id), 0) FROM nvs_group")).scalar() or 0
            first_club = connection.execute(text("SELECT coalesce(max(id), 0) FROM club_attendance")).scalar() or 0
        generate(engine, per_year)
        if year == 2026:
            continue
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE nvs_group SET school_year = :y, name = name || ' ' || :y WHERE id > :g"),
                {"y": year, "g": first_group},
            )
            connection.execute(
                text(
                    "UPDATE registration SET status = 'deregistered', departure_date = coalesce(departure_date, "
                    "first_learning_date), departure_reason_code = coalesce(departure_reason_code, 'PARENTS_REQUEST') "
                    "WHERE group_id > :g AND status = 'active'"
                ),
                {"g": first_group},
            )
            connection.execute(
                text("UPDATE club_attendance SET school_year = :y WHERE id > :c"), {"y": year, "c": first_club}
            )
    engine.dispose()
    return time.perf_counter() - started


def export_seconds(url: str) -> tuple[float, int]:
    from bench.export_lists import run_one

    runs = [run_one(url, "learners", "xml", traced=False) for _ in range(3)]  # the best of three
    return min(float(str(r["seconds"])) for r in runs), int(str(runs[0]["rows"]))


def archive(url: str, **settings: str) -> tuple[float, float]:
    env = dict(os.environ, NVS_DATABASE_URL=url, NVS_CLOCK_START="2026-11-16T10:00:00+02:00", NVS_LOG_LEVEL="WARNING")
    done = subprocess.run([sys.executable, "-c", CHILD], env=env | settings, check=True, capture_output=True, text=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))
    for summary in (x for x in done.stdout.splitlines() if x.startswith(("archive ", "retention "))):
        print(f"  {summary}", file=sys.stderr)
    _, _, seconds, rss = line.split()
    return float(seconds), float(rss)


def raw_update_seconds(url: str) -> tuple[float, int]:
    """The floor: one statement rewriting the code of every person with nothing left in the active
    tables (the learners the retention run erases), to itself: the same rows, without the feed's."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    started = time.perf_counter()
    with engine.begin() as connection:
        rows = connection.execute(
            text(
                "UPDATE person SET personal_code = personal_code WHERE NOT EXISTS "
                "(SELECT 1 FROM registration r WHERE r.person_id = person.id) AND NOT EXISTS "
                "(SELECT 1 FROM club_attendance c WHERE c.person_id = person.id)"
            )
        ).rowcount
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registrations", type=int, default=500_000)
    parser.add_argument("--postgres", help="on this PostgreSQL server instead of SQLite (a scratch schema)")
    args = parser.parse_args()
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    drop = None
    if args.postgres:
        url, drop = postgres_scratch(args.postgres)
        kind = "postgresql"
    else:
        url, kind = f"sqlite:///{tempfile.mkdtemp()}/bench.db", "sqlite"
    try:
        built = build(url, args.registrations)
        print(f"{kind}: {args.registrations:,} registrations over five school years built in {built:.0f} s", flush=True)
        before, rows = export_seconds(url)
        print(f"  export of 2026-2027's learners before: {rows:,} rows in {before:.2f} s", flush=True)
        seconds, rss = archive(url)
        print(f"  archive: {seconds:.1f} s, peak RSS {rss:.0f} MB", flush=True)
        after, rows = export_seconds(url)
        print(f"  export of 2026-2027's learners after: {rows:,} rows in {after:.2f} s", flush=True)
        rerun, rerun_rss = archive(url)
        print(f"  rerun (nothing left): {rerun:.1f} s, peak RSS {rerun_rss:.0f} MB", flush=True)
        floor, floor_rows = raw_update_seconds(url)
        print(f"  floor: one raw UPDATE of those {floor_rows:,} persons' codes: {floor:.2f} s", flush=True)
        erased, erased_rss = archive(url, NVS_RETENTION_LEARNER_YEARS="2")
        print(
            f"  retention of 2 years (learners of 2022-2023, 2023-2024): {erased:.1f} s, peak RSS {erased_rss:.0f} MB"
            f" ({erased / floor:.0f}x the floor)",
            flush=True,
        )
        again, again_rss = archive(url, NVS_RETENTION_LEARNER_YEARS="2")
        print(f"  retention rerun (nothing left): {again:.1f} s, peak RSS {again_rss:.0f} MB", flush=True)
    finally:
        if drop:
            drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
