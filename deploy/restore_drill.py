"""The restore drill of docs/operations.md: back up a live register with pg_dump, restore it into a new
database with pg_restore, start the gateway on the copy and check that a follower of the change feed
(GetChanges) goes on from its cursor with nothing skipped or repeated.

    .venv/bin/python deploy/restore_drill.py            # PGHOST/PGPORT/PGUSER, default 127.0.0.1:5432 postgres

It creates its own databases (nvs_drill_<random>_live, _restored, _older), drops them at the end (--keep
keeps them), and touches nothing else. The steps:

1. ``live``: a new database, ``nvs-gateway serve --sandbox`` on it (which migrates it); a provider opens a
   group and registers children with funding over SOAP; a follower (the central administrator) reads
   GetChanges from 0 to its cursor C1.
2. ``pg_dump -Fc`` of ``live`` (backup 1). More changes; the follower reads on to C2; ``pg_dump`` again
   (backup 2). The live gateway stops.
3. Backup 2 restored into ``restored``, the gateway started on it: GetChanges after C2 is empty (no fault);
   new changes; the follower reads on from C2; its copy (every event it saw, on both databases) equals a
   fresh read of ``restored`` from 0, number for number and byte for byte.
4. Backup 1 (older than the follower's cursor C2) restored into ``older``: GetChanges after C2 answers
   ChangeSequenceAhead, the sign that the follower must start again from 0 (README, "The change feed");
   and, printed as a limit rather than checked, what that fault no longer catches once the older register's
   new changes number past the follower's cursor.

Exit status 0 when every check holds. Run it from a checkout (it uses the bench's envelopes).
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.request_path import (  # noqa: E402
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CLOCK_START,
    MONTHS,
    call_once,
    child_code,
    create_group,
    free_port,
    mark_funding,
    register_student,
    soap,
)

NVS = "urn:lt:mokiniu-registras:nvs-gateway:v1"
CODE_OFFSET = 700_000  # children of the drill: codes no other bench or test of a shared database uses first


@dataclass
class Gateway:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def call(self, body: bytes) -> etree._Element:
        status, answer = call_once(self.port, body)
        root = etree.fromstring(answer)
        if status != 200:
            raise Fault(root.findtext(f".//{{{NVS}}}code") or f"HTTP {status}", answer)
        return root

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # gunicorn's graceful stop, as systemd's
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Fault(Exception):
    def __init__(self, code: str, answer: bytes) -> None:
        super().__init__(code)
        self.code = code
        self.answer = answer


@dataclass
class Follower:
    """A copy kept in sync by GetChanges: every event it was given, by sequence number, and its cursor."""

    cursor: int = 0
    events: dict[int, bytes] = field(default_factory=dict)
    repeated: list[int] = field(default_factory=list)

    def read(self, gateway: Gateway) -> int:
        """Pages until ``more`` is false; the number of events read."""
        read = 0
        while True:
            page = gateway.call(get_changes(self.cursor))
            for event in page.iter(f"{{{NVS}}}event"):
                number = int(event.findtext(f"{{{NVS}}}sequence") or "0")
                if number in self.events or number <= self.cursor:
                    self.repeated.append(number)
                self.events[number] = etree.tostring(event, method="c14n")
                read += 1
            self.cursor = int(page.findtext(f".//{{{NVS}}}lastSequence") or "0")
            if page.findtext(f".//{{{NVS}}}more") != "true":
                return read


def head(database: str) -> int:
    """The highest number committed in the database (psql, beside the gateway)."""
    out = subprocess.run(
        ["psql", "-At", "-d", database, "-c", "SELECT coalesce(max(sequence), 0) FROM change_event"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip())


def settle(follower: Follower, gateway: Gateway, database: str, timeout: float = 120.0) -> float:
    """Read until the follower has every committed event: the feed gives a number once every transaction
    that could still commit a lower one has ended (README, "The change feed"), and on a PostgreSQL shared
    with other work that is a little after the commit. Returns the seconds it took."""
    started = time.monotonic()
    target = head(database)
    while True:
        follower.read(gateway)
        if follower.cursor >= target:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"the feed did not reach {target} within {timeout:g} s (cursor {follower.cursor})")
        time.sleep(0.2)


def get_changes(after: int) -> bytes:
    return soap(
        f"<nvs:GetChanges><nvs:after>{after}</nvs:after><nvs:limit>1000</nvs:limit></nvs:GetChanges>",
        ADMIN_USERNAME,
        ADMIN_PASSWORD,
    )


def sqlalchemy_url(database: str) -> str:
    host, port, user = os.environ.get("PGHOST", "127.0.0.1"), os.environ.get("PGPORT", "5432"), os.environ["PGUSER"]
    return f"postgresql+psycopg://{user}@{host}:{port}/{database}"


def run(*argv: str) -> None:
    subprocess.run(argv, check=True)


def start_gateway(name: str, database: str, work: Path) -> Gateway:
    port = free_port()
    log_path = work / f"{name}.log"
    environment = {
        **os.environ,
        "NVS_DATABASE_URL": sqlalchemy_url(database),
        "NVS_PORT": str(port),
        "NVS_CLOCK_START": CLOCK_START,  # the drill's school year, whatever today's date
        "NVS_SERVER": "gunicorn",
        "NVS_WORKERS": os.environ.get("NVS_WORKERS", "2"),
        "NVS_LOG_LEVEL": "WARNING",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--sandbox"],
            cwd=work,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    gateway = Gateway(name, port, process, log_path)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway on {database} exited:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return gateway
        except OSError:
            time.sleep(0.3)
    gateway.stop()
    raise RuntimeError(f"the gateway on {database} did not answer within 180 s")


def changes(gateway: Gateway, group_id: int, first: int, count: int) -> int:
    """``count`` children registered into the group, each with a basket month: two or more events each."""
    for index in range(first, first + count):
        answer = gateway.call(register_student(child_code(CODE_OFFSET + index), group_id, CODE_OFFSET + index))
        registration_id = int(answer.findtext(f".//{{{NVS}}}registrationId") or "0")
        gateway.call(mark_funding(registration_id, MONTHS[index % 4]))
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the drill's databases (dropped by default)")
    args = parser.parse_args()
    os.environ.setdefault("PGHOST", "127.0.0.1")
    os.environ.setdefault("PGUSER", "postgres")
    prefix = f"nvs_drill_{secrets.token_hex(3)}"
    live, restored, older = f"{prefix}_live", f"{prefix}_restored", f"{prefix}_older"
    created: list[str] = []
    gateways: list[Gateway] = []
    failures: list[str] = []

    def check(holds: bool, what: str) -> None:
        print(f"  [{'ok' if holds else 'FAILED'}] {what}", flush=True)
        if not holds:
            failures.append(what)

    with TemporaryDirectory(prefix="nvs-restore-drill-") as scratch:
        work = Path(scratch)
        try:
            print(f"1. live register: database {live}")
            run("createdb", live)
            created.append(live)
            gateway = start_gateway("live", live, work)
            gateways.append(gateway)
            group = gateway.call(create_group("Restore drill"))
            group_id = int(group.findtext(f".//{{{NVS}}}groupId") or "0")
            changes(gateway, group_id, 0, 10)
            follower = Follower()
            waited = settle(follower, gateway, live)
            c1 = follower.cursor
            print(
                f"   10 children registered and funded; the follower read {len(follower.events)} events, cursor C1={c1} "
                f"(all of them {waited:.1f} s after the last commit)"
            )

            print("2. backups")
            backup1, backup2 = work / "backup1.dump", work / "backup2.dump"
            started = time.monotonic()
            run("pg_dump", "-Fc", "-f", str(backup1), live)
            print(
                f"   backup 1: pg_dump -Fc {live}: {backup1.stat().st_size} bytes, {time.monotonic() - started:.1f} s"
            )
            changes(gateway, group_id, 10, 5)
            settle(follower, gateway, live)
            c2 = follower.cursor
            run("pg_dump", "-Fc", "-f", str(backup2), live)
            print(f"   5 more children; the follower read on to C2={c2}; backup 2 taken")
            gateway.stop()
            gateways.remove(gateway)

            print(f"3. backup 2 restored into {restored}")
            run("createdb", restored)
            created.append(restored)
            started = time.monotonic()
            run("pg_restore", "--exit-on-error", "--no-owner", "-d", restored, str(backup2))
            print(f"   pg_restore: {time.monotonic() - started:.1f} s")
            gateway = start_gateway("restored", restored, work)
            gateways.append(gateway)
            empty = gateway.call(get_changes(c2))
            check(
                not list(empty.iter(f"{{{NVS}}}event"))
                and int(empty.findtext(f".//{{{NVS}}}lastSequence") or -1) == c2,
                f"GetChanges(after=C2={c2}) on the restored register: no event, no fault, lastSequence C2",
            )
            changes(gateway, group_id, 15, 8)
            before = len(follower.events)
            settle(follower, gateway, restored)
            new_numbers = sorted(n for n in follower.events if n > c2)
            check(
                len(follower.events) - before == len(new_numbers) > 0 and min(new_numbers) > c2,
                f"8 children on the restored register: the follower read {len(new_numbers)} new events, "
                f"numbers {min(new_numbers, default=0)}..{max(new_numbers, default=0)}, all after C2",
            )
            fresh = Follower()
            settle(fresh, gateway, restored)
            check(
                fresh.events == follower.events,
                f"the follower's copy (live to C2, then restored) equals a fresh read of the restored register from 0: "
                f"{len(fresh.events)} events, same numbers, same content",
            )
            check(not follower.repeated and not fresh.repeated, "no event given twice")
            gateway.stop()
            gateways.remove(gateway)

            print(f"4. backup 1 (older than the follower's cursor) restored into {older}")
            run("createdb", older)
            created.append(older)
            run("pg_restore", "--exit-on-error", "--no-owner", "-d", older, str(backup1))
            gateway = start_gateway("older", older, work)
            gateways.append(gateway)
            try:
                gateway.call(get_changes(c2))
                check(False, f"GetChanges(after=C2={c2}) on a register restored to C1={c1} answers ChangeSequenceAhead")
            except Fault as fault:
                check(
                    fault.code == "ChangeSequenceAhead",
                    f"GetChanges(after=C2={c2}) on a register restored to C1={c1} answers {fault.code}",
                )
            # What the fault cannot catch: once new changes on the older register number past the cursor.
            changes(gateway, group_id, 23, 8)
            everything = Follower()
            settle(everything, gateway, older)
            late = Follower(cursor=c2)
            late.read(gateway)
            unseen = sorted(n for n in everything.events if c1 < n <= c2)
            print(
                f"  [limit] after 8 children on {older} (numbers {c1 + 1}..{everything.cursor}), GetChanges(after=C2={c2}) "
                f"gives {len(late.events)} events and no fault: {len(unseen)} new events numbered {c1 + 1}..{c2} never "
                "reach that follower; docs/operations.md says what to do before reopening an older backup",
                flush=True,
            )
            gateway.stop()
            gateways.remove(gateway)
        finally:
            for gateway in gateways:
                gateway.stop()
            if not args.keep:
                for database in created:
                    subprocess.run(["dropdb", "--if-exists", database], check=False)
                print(f"dropped {', '.join(created)}" if created else "no database created")
    print("restore drill: " + ("every check holds" if not failures else f"{len(failures)} check(s) FAILED"))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
