"""Log output: plain lines, or one JSON object per line (`CONTINUITY_LOG_FORMAT=json`).

Every record carries the id of the request it was written for, when there is one. Request
log lines add what `log_request` passes as `extra` (operation, duration, statements, user,
error codes). Nothing here ever adds a token, a variable's value, a body or SQL parameters
(docs/operations.md, Logs).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from services.core import request_context

# Fields a request log line may carry (`extra=`), in this order.
REQUEST_FIELDS = ("operation", "duration_ms", "statements", "user_id", "error_codes", "status", "transport")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            stats = request_context.current()
            record.request_id = stats.request_id if stats is not None else None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        extras = [f"{name}={getattr(record, name)}" for name in REQUEST_FIELDS if hasattr(record, name)]
        if request_id is not None:
            extras.insert(0, f"request_id={request_id}")
        return f"{line} [{' '.join(extras)}]" if extras else line


def configure(log_format: str, level: int | str = logging.INFO) -> None:
    """The root logger writes to stderr in the chosen format; uvicorn's loggers go through it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own loggers propagate to the root handler (one format for every line); its
    access log is off: it would print query strings, and GET requests carry variables there.
    Each request gets its own line from the GraphQL layer instead."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
        },
    }
