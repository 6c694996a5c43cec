"""Logging setup: logfmt or JSON lines on stderr, with every record redacted.

postgres_exporter and redis_exporter leaked DSN and URL passwords into their logs for
years (see the reliability reference), each time through a new code path. Redaction here
is a handler filter, so it applies to every logger and to exception text, and it knows
the actual secret values read at startup in addition to the URL/DSN patterns.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from typing import TextIO

LEVELS = ("debug", "info", "warning", "error")
REDACTED = "***"
# Longest message and exception text a log line carries: a 60 KB redirect URL or a 64 KB
# request line is logged as its head and a count, not whole.
MAX_MESSAGE_CHARS = 4096
MAX_ERROR_CHARS = 16384

# scheme://user:password@host -> scheme://user:***@host. Linear time: the scheme is at
# most 32 characters (unbounded, every letter of a long word started a scan to its
# end), and the user and password stop at the next '/', which every '://' contains.
_URL_USERINFO = re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.-]{0,31}://[^/\s:@]*:)[^@\s/]*(?=@)")
# libpq keyword DSN: password=secret or password='se cret'
_KEYWORD = re.compile(
    r"(?P<pre>\b(?:password|passwd|pwd|sslpassword)\s*=\s*)(?:'(?:[^'\\]|\\.)*'|\S+)",
    re.IGNORECASE,
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Redact this exact value wherever it appears in a log record from now on."""
    if value and len(value) >= 4:  # shorter "secrets" would redact ordinary words
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    if "://" in text:
        text = _URL_USERINFO.sub(rf"\g<pre>{REDACTED}", text)
    if "=" in text:
        text = _KEYWORD.sub(rf"\g<pre>{REDACTED}", text)
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def cap(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


class RedactingFilter(logging.Filter):
    """Rewrites the message and any exception text of a record, redacted and capped.

    Redaction runs on the whole text before the cut, so a cut can never leave the head
    of a password that the patterns no longer recognise."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = cap(redact(record.getMessage()), MAX_MESSAGE_CHARS)
        record.args = None
        if record.exc_info:
            error = logging.Formatter().formatException(record.exc_info)
            record.exc_text = cap(redact(error), MAX_ERROR_CHARS)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = cap(redact(record.stack_info), MAX_ERROR_CHARS)
        return True


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + (
        f".{int(record.msecs):03d}Z"
    )


def _fields(record: logging.LogRecord) -> dict[str, str]:
    """The fields of one log line, in order; both formats write the same ones."""
    fields = {
        "ts": _timestamp(record),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    if record.exc_text:  # set, already redacted, by the redaction filter
        fields["err"] = record.exc_text
    return fields


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())


def _logfmt_value(value: str) -> str:
    if value and not re.search(r'[\s"=\\]', value):
        return value
    return json.dumps(value)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record))


def setup(level: str, fmt: str = "logfmt", stream: TextIO | None = None) -> None:
    """Route all logging to `stream` (stderr) in `fmt` (logfmt | json) at `level`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries log request lines (with URLs) at INFO/DEBUG; keep them at warning.
    for noisy in ("httpx", "httpcore", "urllib3", "kubernetes"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
