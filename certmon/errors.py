"""One error family. Each error carries an HTTP status and a message an analyst understands."""

from __future__ import annotations


class CertmonError(Exception):
    """Base class: `status` is the HTTP status the API answers with; the message is user-facing."""

    status: int = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class NotFound(CertmonError):
    status = 404


class Conflict(CertmonError):
    status = 409


class Forbidden(CertmonError):
    status = 403


class TooLarge(CertmonError):
    """A request body over the configured limit."""

    status = 413


class ValidationFailed(CertmonError):
    """Input rejected as a whole; `problems` lists every bad row/field (e.g. `rad 4, org_number: …`)."""

    status = 422

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class ConfigError(CertmonError):
    status = 500


class FeedError(CertmonError):
    """A source could not be collected. `outcome` is the recorded result on the source."""

    status = 502
    outcome = "error"


class FeedUnavailable(FeedError):
    """Network trouble, an HTTP error status, or a refused address."""

    outcome = "unavailable"

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class FeedBlocked(FeedUnavailable):
    """The URL resolves to a loopback, private, link-local or metadata address (SSRF guard)."""

    outcome = "blocked"


class FeedTooLarge(FeedError):
    outcome = "too-large"


class FeedParseError(FeedError):
    """The payload is not valid for its format; the message says where and why."""

    status = 422
    outcome = "parse-error"


class ServiceUnavailable(CertmonError):
    """A service certmon depends on (broker, database) does not answer."""

    status = 503
