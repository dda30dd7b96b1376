"""The days the tests live on. Every test pins the clock, so that none depends on the day it runs
(``.ci/run`` proves it by running the suite with the machine's clock moved far away)."""

from __future__ import annotations

import datetime as dt

from gateway.clock import VILNIUS, FixedClock

# A Monday in the 2026-2027 school year: the live gateways of the end-to-end tests, and the
# commands the tests run (NVS_CLOCK_START, set for every test by conftest.py), start on it.
E2E_TODAY = dt.date(2026, 11, 16)
E2E_START = dt.datetime.combine(E2E_TODAY, dt.time(10), VILNIUS)


def e2e_clock() -> FixedClock:
    """10:00 in Vilnius on ``E2E_TODAY``, running on from there (time passes between calls)."""
    return FixedClock(E2E_START, ticking=True)
