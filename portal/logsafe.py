"""Nothing that acts for a tab is written to the logs.

A tab's client token names its server-side state; Reflex's upload endpoint and event protocol
take it from whoever sends it. Reflex logs it in a few places (a delta for a closed tab, an
expired lock), so every log record has client tokens (UUIDs) replaced by a short digest, which
still lets one follow a tab through the log without being able to act as it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

_TOKEN = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")


def _digest(match: re.Match[str]) -> str:
    return "tab#" + hashlib.sha256(match.group(0).lower().encode()).hexdigest()[:10]


def redact(text: str) -> str:
    return _TOKEN.sub(_digest, text) if "-" in text else text


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def install() -> None:
    """Wrap the log-record factory once: every logger, whatever its handlers, gets clean records."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_portal_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        return record

    factory._portal_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
