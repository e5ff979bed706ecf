"""Keep capability tokens out of the logs.

Answer links (`/svar/<token>`) and password links (`/passord/<token>`) carry their secret in the
path, and uvicorn's access log writes every path. This filter rewrites such paths to
`/svar/[skjult]` before the record is formatted, whatever handler or format is configured.
"""

from __future__ import annotations

import logging
import re

SECRET_PATH = re.compile(r"/(svar|passord)/[^/?#\s\"]+")
REDACTED = r"/\1/[skjult]"


def redact(text: str) -> str:
    """The text with every token-bearing path hidden."""
    return SECRET_PATH.sub(REDACTED, text)


class RedactTokens(logging.Filter):
    """Hides tokens in a record's message and string arguments (uvicorn passes the path as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "/" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install(*logger_names: str) -> None:
    """Attach the filter once to each named logger (default: uvicorn's access and error logs)."""
    for name in logger_names or ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
