"""One log line per event, as text for journald or JSON for log shippers.

Every sync event carries the same fields (store, action, result, duration, objects read and
written) so that ``journalctl -u kops-gitsync`` reads like a table and a JSON pipeline can
aggregate without parsing prose. The fields travel in ``LogRecord.extra`` under ``event``;
the formatter decides how they look. No timestamp in text mode: journald adds its own.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

LOGGER_NAME = "kops_gitsync.daemon"
log = logging.getLogger(LOGGER_NAME)

_JOURNAL_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
                     logging.CRITICAL: 2}
_FIELD_ORDER = ("store", "action", "result", "duration", "objects_read", "objects_written")


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "event", {})
        ordered = [k for k in _FIELD_ORDER if k in fields] + sorted(
            k for k in fields if k not in _FIELD_ORDER
        )
        parts = [f"{key}={_text_value(fields[key])}" for key in ordered]
        message = record.getMessage()
        line = " ".join([f"{record.levelname.lower()}:", *parts, message]).rstrip()
        if record.exc_info:  # a bug: the traceback follows, one journal line per line
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
        }
        body.update(getattr(record, "event", {}))
        message = record.getMessage()
        if message:
            body["message"] = message
        if record.exc_info:
            body["traceback"] = self.formatException(record.exc_info)
        return json.dumps(body, sort_keys=False, default=str)


def _text_value(value: Any) -> str:
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    return json.dumps(text) if (" " in text or not text) else text


class JournalPriority(logging.Formatter):
    """Prefixes ``<N>`` (sd-daemon(3)) so journald files each line under its priority."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner

    def format(self, record: logging.LogRecord) -> str:
        priority = _JOURNAL_PRIORITY.get(record.levelno, 6)
        return "\n".join(f"<{priority}>{line}"
                         for line in self._inner.format(record).splitlines())


def setup(log_format: str, level: int = logging.INFO, *, journald: bool | None = None) -> None:
    """Route daemon logs to stderr (journald captures it) in the chosen format.

    Under systemd (``$JOURNAL_STREAM`` set) each line carries its syslog priority, so
    ``journalctl -p warning`` shows exactly the failures.
    """
    if journald is None:
        journald = bool(os.environ.get("JOURNAL_STREAM"))
    formatter: logging.Formatter = JsonFormatter() if log_format == "json" else TextFormatter()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JournalPriority(formatter) if journald else formatter)
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def event(level: int = logging.INFO, message: str = "", **fields: Any) -> None:
    """Log one event; ``fields`` become columns (text) or keys (JSON)."""
    log.log(level, message, extra={"event": fields})
