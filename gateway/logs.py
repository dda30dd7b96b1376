"""The gateway's log: one JSON object per line (``NVS_LOG_FORMAT=json``), or human-readable lines (``text``).

Every line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; a line written while a SOAP
call is served also has its ``correlation_id`` (the id of the call's faults, the X-Road message id when the
caller sent one). Each SOAP call ends with one access line (logger ``nvs.gateway.access``): ``operation``, ``user``,
``institution``, ``outcome`` (``ok`` or the fault code), ``duration_ms``, ``xroad_client``.

What is never written: personal codes, passwords, message bodies, the X-Road userId (a personal code). The
access line is built from named fields only (``gateway.observability``); Spyne's and zeep's loggers, which
print whole envelopes, are silenced (``gateway.soap.app``, ``clients.population_register.client``).
"""

from __future__ import annotations

import contextvars
import logging
import sys

from pythonjsonlogger.json import JsonFormatter

FORMATS = ("json", "text")
# The correlation id of the SOAP call this thread serves (set in gateway.soap.app.request_id_of).
correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)


class _CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is None:
            found = correlation_id.get()
            if found is not None:
                record.correlation_id = found
        return True


class GatewayJsonFormatter(JsonFormatter):
    """python-json-logger's formatter with our field names: time, level, logger, message, and the extras."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{process}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger", "process": "pid", "exc_info": "exception"},
            timestamp="time",
            json_ensure_ascii=False,
        )


class TextFormatter(logging.Formatter):
    """The development format; a call's correlation id, when there is one, closes the line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        found = getattr(record, "correlation_id", None)
        return f"{line} [{found}]" if found and found not in line else line


def formatter(log_format: str) -> logging.Formatter:
    if log_format not in FORMATS:
        raise ValueError(f"NVS_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    return GatewayJsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(level: str, log_format: str = "text") -> None:
    """The root logger writes to standard error in ``log_format``; the chatty libraries at WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(_CorrelationFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Envelopes carry personal codes and passwords: these libraries never log them here.
    for noisy in ("zeep", "urllib3", "waitress.queue", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def gunicorn_logconfig(level: str, log_format: str) -> dict[str, object]:
    """gunicorn's own loggers (its master's and workers' messages) in the same format, to standard error."""
    formatter_class = "gateway.logs.GatewayJsonFormatter" if log_format == "json" else "gateway.logs.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"gateway": {"()": formatter_class}},
        "filters": {"correlation": {"()": "gateway.logs._CorrelationFilter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "gateway",
                "filters": ["correlation"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {
                "level": level.upper(),
                "handlers": ["stderr"],
                "propagate": False,
                "qualname": "gunicorn.error",
            },
            "gunicorn.access": {
                "level": "WARNING",
                "handlers": ["stderr"],
                "propagate": False,
                "qualname": "gunicorn.access",
            },
        },
    }
