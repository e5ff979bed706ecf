"""Mail transports: SMTP (plain, STARTTLS or TLS, optional auth) or a local Maildir when no host is set.

Failures are classified: 4xx replies, timeouts and dropped connections are transient (retry later);
5xx replies are permanent. The password is never logged or put into an error message.
"""

from __future__ import annotations

import logging
import mailbox
import smtplib
import socket
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from certmon.config import Settings

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A message could not be delivered; `transient` says whether to try again."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class RelayUnavailable(DeliveryError):
    """The relay could not be reached at all (refused, unresolvable, timed out, 4xx greeting): nothing
    was handed over, and every other message would fail the same way."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, transient=True)


class Transport(Protocol):
    """Sends one message or raises DeliveryError."""

    def send(self, msg: EmailMessage) -> None:
        """Deliver `msg` to its To recipients."""

    def close(self) -> None:
        """Release any connection."""


def _code_error(code: int, text: object, what: str) -> DeliveryError:
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return DeliveryError(f"{what}: {code} {detail}".strip(), transient=400 <= code < 500)


def classify(exc: BaseException) -> DeliveryError:
    """Map an smtplib/socket exception to a transient or permanent DeliveryError."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [(c, m) for c, m in exc.recipients.values()]
        code, text = max(codes, default=(550, b"refused"))
        return _code_error(code, text, "mottaker avvist")
    if isinstance(exc, smtplib.SMTPAuthenticationError):  # a configuration problem: keep retrying
        return DeliveryError(f"SMTP-autentisering feilet: {exc.smtp_code}", transient=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _code_error(exc.smtp_code, exc.smtp_error, "SMTP-feil")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"forbindelsen ble brutt: {exc}", transient=True)
    if isinstance(exc, TimeoutError | socket.timeout):
        return DeliveryError("tidsavbrudd mot SMTP-tjeneren", transient=True)
    if isinstance(exc, ssl.SSLError | OSError | smtplib.SMTPException):
        return DeliveryError(f"{type(exc).__name__}: {exc}", transient=True)
    return DeliveryError(f"{type(exc).__name__}: {exc}", transient=False)


class SmtpTransport:
    """One reusable SMTP connection, opened on first use and reopened after any failure."""

    def __init__(self, settings: Settings) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.user = settings.smtp_user
        self._password = settings.smtp_password
        self.starttls = settings.smtp_starttls
        self.tls = settings.smtp_tls
        self.timeout = settings.smtp_timeout
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        conn: smtplib.SMTP
        if self.tls:
            conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        conn.ehlo()
        if self.starttls and not self.tls:
            conn.starttls(context=context)
            conn.ehlo()
        if self.user:
            conn.login(self.user, self._password.get_secret_value())
        return conn

    def send(self, msg: EmailMessage) -> None:
        """Send over the open connection (opening it if needed). A reused connection the relay has
        closed meanwhile (idle timeout, restart) is reopened once; a relay that cannot be reached at
        all raises RelayUnavailable."""
        reused = self._conn is not None
        try:
            self._open().send_message(msg)
            return
        except smtplib.SMTPServerDisconnected as exc:
            self.close()
            if not reused:
                raise classify(exc) from None
        except DeliveryError:
            raise
        except Exception as exc:
            self.close()
            raise classify(exc) from None
        # The old connection was found closed (almost always before the message went; if the relay
        # dropped it after the data, the copy has the same Message-ID): once more on a new one.
        try:
            self._open().send_message(msg)
        except DeliveryError:
            raise
        except Exception as exc:
            self.close()
            raise classify(exc) from None

    def _open(self) -> smtplib.SMTP:
        if self._conn is None:
            try:
                self._conn = self._connect()
            except smtplib.SMTPAuthenticationError as exc:  # reachable, but refuses us: per message
                self.close()
                raise classify(exc) from None
            except Exception as exc:
                self.close()
                raise RelayUnavailable(f"SMTP-tjeneren kan ikke nås: {classify(exc).reason}") from None
        return self._conn

    def close(self) -> None:
        """Quit politely; ignore a connection that is already gone."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except Exception:  # the peer may have gone; nothing to do
            conn.close()


class MaildirTransport:
    """The embedded default: every message lands in a Maildir folder (readable by any mail client)."""

    def __init__(self, path: Path) -> None:
        self.box = mailbox.Maildir(str(path), create=True)

    def send(self, msg: EmailMessage) -> None:
        """Store the message in new/."""
        try:
            self.box.add(msg.as_bytes())
        except OSError as exc:
            raise DeliveryError(f"kunne ikke skrive til postmappen: {exc}", transient=True) from None

    def close(self) -> None:
        """Nothing to release."""


def transport_from_settings(settings: Settings) -> Transport:
    """SMTP when CERTMON_SMTP_HOST is set, else the Maildir under the data directory."""
    if settings.smtp_host:
        return SmtpTransport(settings)
    return MaildirTransport(settings.mail_dir)
