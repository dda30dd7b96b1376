"""Time is an input: every use case takes "now" and "today" from a ``Clock``.

The register's days are Lithuanian calendar days (a registration made at 00:30 in Vilnius
belongs to that day, whatever the server's time zone), and its instants are aware UTC
datetimes. Production runs on ``SystemClock``; tests, and a sandbox replaying a given day,
use a ``FixedClock``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import zoneinfo
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gateway.config import Settings

VILNIUS = zoneinfo.ZoneInfo("Europe/Vilnius")


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current instant, an aware datetime in UTC."""

    def today(self) -> dt.date:
        """The current Lithuanian calendar day."""


class SystemClock:
    """The machine's clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        return self.now().astimezone(VILNIUS).date()

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock set to a given instant. It stands still unless ``ticking``; then it runs on from
    that instant at the machine's pace (a live test server, where time must pass between calls
    but the day must not depend on when the test runs). ``set`` and ``advance`` move it."""

    def __init__(self, at: dt.datetime, *, ticking: bool = False) -> None:
        self._lock = threading.Lock()
        self._ticking = ticking
        self._set(at)

    @classmethod
    def on(cls, day: dt.date, hour: int = 12, *, ticking: bool = False) -> FixedClock:
        """Noon (or ``hour``) of a Lithuanian calendar day."""
        return cls(dt.datetime.combine(day, dt.time(hour), VILNIUS), ticking=ticking)

    def _set(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a clock is set to an aware datetime")
        with self._lock:
            self._at = at.astimezone(dt.UTC)
            self._since = time.monotonic()

    def now(self) -> dt.datetime:
        with self._lock:
            if not self._ticking:
                return self._at
            return self._at + dt.timedelta(seconds=time.monotonic() - self._since)

    def today(self) -> dt.date:
        return self.now().astimezone(VILNIUS).date()

    def set(self, at: dt.datetime) -> None:
        self._set(at)

    def advance(self, delta: dt.timedelta) -> None:
        self._set(self.now() + delta)

    def __repr__(self) -> str:
        return f"FixedClock({self.now().isoformat()}{', ticking' if self._ticking else ''})"


def clock_for(settings: Settings) -> Clock:
    """The machine's clock, or one starting at NVS_CLOCK_START (sandboxes, tests) and running on from there."""
    if not settings.clock_start:
        return SystemClock()
    try:
        start = dt.datetime.fromisoformat(settings.clock_start)
    except ValueError:
        raise ValueError(
            f"NVS_CLOCK_START must be an ISO 8601 date and time with an offset, not {settings.clock_start!r}"
        ) from None
    if start.tzinfo is None:
        raise ValueError("NVS_CLOCK_START needs a UTC offset, e.g. 2026-09-01T08:00:00+03:00")
    return FixedClock(start, ticking=True)
