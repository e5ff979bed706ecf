"""Keep capability tokens and credentials out of the logs and out of what readers see.

Answer links (`/svar/<token>`) and password links (`/passord/<token>`) carry their secret in the
path, and uvicorn's access log writes every path. Feed URLs may carry `user:password@` or an API key
in the query (`?apikey=…`), and httpx logs every request URL at INFO. The filter rewrites both before
a record is formatted, whatever handler or format is configured; `redact_secrets` does the same for
text that is stored or shown (a run's error, a source's URL in the API, the audit log).
"""

from __future__ import annotations

import logging
import re

SECRET_PATH = re.compile(r"/(svar|passord)/[^/?#\s\"]+")
REDACTED = r"/\1/[skjult]"


# userinfo in any URL, and query parameters whose name says they are a secret
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s?#]+@")
_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:api[_-]?key|apikey|key|token|access[_-]?token|auth|authorization|password|passwd|pass|"
    r"secret|client[_-]?secret|sig|signature|x-api-key|code)=)[^&#\s\"']+")


def redact_secrets(text: str) -> str:
    """The text with credentials in URLs hidden: `user:pw@` and secret query parameters."""
    if "://" not in text and "=" not in text:
        return text
    return _SECRET_PARAM.sub(r"\1[skjult]", _USERINFO.sub(r"\1[skjult]@", text))


def redact(text: str) -> str:
    """The text with every token-bearing path and every URL credential hidden."""
    return redact_secrets(SECRET_PATH.sub(REDACTED, text))


class RedactTokens(logging.Filter):
    """Hides tokens in a record's message and string arguments (uvicorn passes the path as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and ("/" in record.msg or "=" in record.msg):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else
                                redact(str(a)) if type(a).__name__ == "URL" else a for a in record.args)
        return True


def install(*logger_names: str) -> None:
    """Attach the filter once to each named logger (default: uvicorn's logs and httpx's request log)."""
    for name in logger_names or ("uvicorn.access", "uvicorn.error", "httpx", "httpcore", "feeds.fetcher",
                                 "celery.app.trace"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
