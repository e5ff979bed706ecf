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


LOGGERS = ("uvicorn.access", "uvicorn.error", "httpx", "httpcore", "httpcore.connection", "httpcore.http11",
           "feeds.fetcher", "feeds.collect", "feeds.multidoc", "feeds.taxii", "feeds.csaf_discovery",
           "workers.tasks", "celery.app.trace", "celery.worker.job",
           "certmon.api.app")  # the database error handlers name the request's path


class RedactTokens(logging.Filter):
    """Hides tokens and URL credentials in a record's message, its arguments (uvicorn passes the path,
    httpx the URL object, Celery the exception) and its traceback, before any handler formats it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and ("/" in record.msg or "=" in record.msg):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redacted_arg(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            # formatted once here, as a Formatter would, so the cached text is the redacted one
            record.exc_text = redact(self._formatter.formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def _redacted_arg(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    text = str(value)  # a URL object, an exception, a request …: shown as text if it held a secret
    hidden = redact(text)
    return value if hidden == text else hidden


def install(*logger_names: str) -> None:
    """Attach the filter once to each named logger (default: uvicorn's logs, httpx's request log, and every
    logger that writes a source's URL or a fetch's error). A logger's filter sees only records made on
    that logger, not its children's, so each is named."""
    for name in logger_names or LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
