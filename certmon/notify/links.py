"""Signed, expiring response links: the constituent answers without logging in."""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from certmon.config import Settings, get_settings
from certmon.errors import CertmonError

ANSWERS = ("mottatt", "utbedret", "ikke-relevant")
SALT = "alert-response"
DEFAULT_MAX_AGE_S = 30 * 24 * 3600  # links live for 30 days


class InvalidResponseLink(CertmonError):
    """The link was tampered with, is for an unknown answer, or has expired."""

    status = 400


@dataclass(frozen=True)
class ResponseToken:
    """What a verified link says."""

    notification_id: int
    answer: str
    delivery_id: int | None = None  # the recipient's delivery (links made before this field: None)


def _serializer(settings: Settings | None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer((settings or get_settings()).secret(), salt=SALT)


def make_token(
    notification_id: int, answer: str, *, delivery_id: int | None = None, settings: Settings | None = None
) -> str:
    """A signed token naming the alert, the answer and (so the answer is attributed) the recipient's delivery."""
    if answer not in ANSWERS:
        raise ValueError(f"unknown answer {answer!r}")
    data: dict[str, object] = {"n": notification_id, "a": answer}
    if delivery_id is not None:
        data["d"] = delivery_id
    return _serializer(settings).dumps(data)


def make_link(
    notification_id: int, answer: str, *, delivery_id: int | None = None, settings: Settings | None = None
) -> str:
    """The full URL a recipient clicks to give `answer` to the alert."""
    settings = settings or get_settings()
    token = make_token(notification_id, answer, delivery_id=delivery_id, settings=settings)
    return f"{settings.public_base_url}/svar/{token}"


def verify(
    token: str, max_age: int = DEFAULT_MAX_AGE_S, *, settings: Settings | None = None
) -> ResponseToken:
    """Check signature and age; raise InvalidResponseLink with a plain reason otherwise."""
    try:
        data = _serializer(settings).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvalidResponseLink("Lenken er utløpt.") from None
    except BadSignature:
        raise InvalidResponseLink("Lenken er ugyldig.") from None
    if not isinstance(data, dict) or data.get("a") not in ANSWERS or not isinstance(data.get("n"), int):
        raise InvalidResponseLink("Lenken er ugyldig.")
    delivery_id = data.get("d")
    if delivery_id is not None and not isinstance(delivery_id, int):
        raise InvalidResponseLink("Lenken er ugyldig.")
    return ResponseToken(notification_id=data["n"], answer=data["a"], delivery_id=delivery_id)
