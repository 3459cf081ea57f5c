"""Logging for the server: readable text, or JSON lines for machines (`log_format`).

An access record is a log record with an `access` dict (method, code, latency, batch size, request
id, ...): the text format appends it as key=value pairs, the JSON format merges it into the object.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ISO 8601), level, logger, message, the access fields, any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "access", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        access = getattr(record, "access", None)
        if access:
            text += " " + " ".join(f"{k}={v}" for k, v in access.items() if k not in {"method", "code"})
        return text


def configure_logging(log_format: str = "text", level: str = "INFO") -> None:
    """Set up the root logger once, at the server's entry point (stderr)."""
    if log_format not in FORMATS:
        raise ValueError(f"setting log_format: {log_format!r} is not one of {', '.join(FORMATS)}")
    if not isinstance(logging.getLevelName(level.upper()), int):
        raise ValueError(f"setting log_level: {level!r} is not a logging level (DEBUG, INFO, WARNING, ERROR)")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
