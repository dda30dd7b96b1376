"""One SOAP call, once it is answered: its access line in the log and its counts in the metrics.

Whoever learns the call's outcome notes it in the WSGI environment (``note``): the call wrapper for a
dispatched call (``gateway.soap.app.RegistryApplication.call_wrapper``), Spyne's error handler for a request
refused before dispatch, the body guard for one refused before Spyne read it. The site (``gateway.wsgi``)
closes the call when the answer is ready (``finish``): the time is the whole request's, parsing and
serialising included.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from gateway import metrics

access_log = logging.getLogger("nvs.gateway.access")

NOTED = "nvs.call"
STARTED = "nvs.started"


@dataclass(frozen=True)
class CallOutcome:
    operation: str  # a known operation's name, or metrics.UNKNOWN_OPERATION
    outcome: str  # "ok" or the fault code
    correlation_id: str
    user: str | None = None  # the authenticated user name (a claimed one is not repeated: it may be anything)
    institution: str | None = None
    municipality: str | None = None
    xroad_client: str | None = None  # the X-Road client subsystem; never its userId (a personal code)


def note(environ: object, outcome: CallOutcome, *, replace: bool = True) -> None:
    if isinstance(environ, dict) and (replace or NOTED not in environ):
        environ[NOTED] = outcome


def start(environ: dict) -> None:
    environ[STARTED] = time.perf_counter()


def finish(environ: dict) -> None:
    """The access line and the counts of the call noted in ``environ`` (nothing when none was: a WSDL read)."""
    outcome = environ.get(NOTED)
    if not isinstance(outcome, CallOutcome):
        return
    seconds = time.perf_counter() - environ.get(STARTED, time.perf_counter())
    metrics.count_call(outcome.operation, outcome.outcome, seconds)
    fields = {
        "correlation_id": outcome.correlation_id,
        "operation": outcome.operation,
        "user": outcome.user,
        "institution": outcome.institution,
        "municipality": outcome.municipality,
        "outcome": outcome.outcome,
        "duration_ms": round(seconds * 1000, 1),
        "xroad_client": outcome.xroad_client,
    }
    level = logging.ERROR if outcome.outcome == "InternalError" else logging.INFO
    access_log.log(
        level,
        "%s %s user=%s request=%s in %.0f ms",
        outcome.operation,
        outcome.outcome,
        outcome.user or "-",
        outcome.correlation_id,
        seconds * 1000,
        extra={k: v for k, v in fields.items() if v is not None},
    )
