"""Sign-in throttling with the `limits` library: a limit per client in front of every sign-in path, and
a backoff per account and client instead of a lock on the account.

Two kinds of counters, both moving windows:

- per client (`CERTMON_SIGNIN_CLIENT_LIMIT`): every request to a sign-in path counts, whatever its
  outcome, and is refused with 429 before any password is hashed (argon2 costs ~0.15 s of CPU), so
  one address cannot spray guesses or burn the server's CPU;
- per account and client (`CERTMON_SIGNIN_ACCOUNT_LIMIT`): wrong passwords only. A client that used
  them up waits (429 with Retry-After) before it may try that account again; the account itself is
  never locked, so an attacker elsewhere cannot keep its owner out. A right password clears the
  client's count, and a new password link (`users password-link`) gives the account fresh counters
  (the key carries the account's link version): that is the unlock link.

Counters live in Redis when one is configured (shared by every API process) and in process memory
otherwise; if Redis does not answer, the process falls back to its own memory counters rather than
letting sign-ins through unthrottled or refusing everyone. See docs/security.md.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.auth.models import User
from certmon.auth.service import authenticate, find_user
from certmon.config import Settings
from certmon.errors import CertmonError

log = logging.getLogger(__name__)


class TooManyAttempts(CertmonError):
    """429: this client must wait `retry_after` seconds before the next sign-in attempt."""

    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def client_key(host: str | None) -> str:
    """The identity a client is counted under: its IPv4 address, or its IPv6 /64 (one subscriber's
    network, which a single attacker holds whole)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # e.g. "testclient"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped or address) if isinstance(address, ipaddress.IPv6Address) else str(address)


@dataclass(frozen=True)
class Delay:
    """A backoff that has just begun for an account and client (for the audit log)."""

    seconds: int
    failures: int


class SignInThrottle:
    """The counters of one API process (made once by `create_app`, kept on `app.state`)."""

    def __init__(self, *, storage_url: str, client_limits: str, account_limits: str) -> None:
        self.client_limits = parse_many(client_limits)
        self.account_limits = parse_many(account_limits)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        self.storage_url = storage_url
        if not storage_url.startswith("memory://"):
            storage = storage_from_string(storage_url, wrap_exceptions=True, key_prefix="certmon-signin",
                                          socket_timeout=1, socket_connect_timeout=1)
            assert isinstance(storage, Storage)  # the synchronous kind (not limits.aio)
            self._shared = MovingWindowRateLimiter(storage)
        self._warned_at = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInThrottle:
        """The throttle the settings describe (storage: see `Settings.signin_storage`)."""
        return cls(storage_url=settings.signin_storage, client_limits=settings.signin_client_limit,
                   account_limits=settings.signin_account_limit)

    # The one place that talks to the storage: shared first, this process's memory if it fails.
    def _run(self, op: str, item: RateLimitItem, *ids: str) -> object:
        if self._shared is not None:
            try:
                return getattr(self._shared, op)(item, *ids)
            except StorageError as exc:
                if time.monotonic() - self._warned_at > 60:
                    self._warned_at = time.monotonic()
                    log.warning("sign-in limits: %s does not answer (%s); counting in this process only",
                                self.storage_url.split("@")[-1], exc.storage_error)
        return getattr(self._local, op)(item, *ids)

    def _wait(self, item: RateLimitItem, *ids: str) -> int:
        stats = self._run("get_window_stats", item, *ids)
        return max(1, math.ceil(getattr(stats, "reset_time", time.time() + 1) - time.time()))

    def guard_client(self, client: str) -> None:
        """Count one sign-in request from this client; TooManyAttempts once its allowance is used up."""
        for item in self.client_limits:
            if not self._run("hit", item, "client", client):
                wait = self._wait(item, "client", client)
                log.warning("sign-in refused: client %s is over its limit (%s); retry in %d s", client, item, wait)
                raise TooManyAttempts("For mange innloggingsforsøk fra din adresse. Vent litt og prøv igjen.",
                                      retry_after=wait)

    def guard_account(self, account: str, client: str) -> None:
        """Refuse (without counting) while this client has used up its wrong passwords for the account."""
        for item in self.account_limits:
            if not self._run("test", item, "account", account, client):
                raise TooManyAttempts("For mange feil passord på rad. Vent litt og prøv igjen, eller be om "
                                      "en ny passordlenke.", retry_after=self._wait(item, "account", account, client))

    def failed(self, account: str, client: str) -> Delay | None:
        """Count a wrong password; the Delay the client now has to wait when this one used up a window."""
        delay: Delay | None = None
        for item in self.account_limits:
            self._run("hit", item, "account", account, client)
            if not self._run("test", item, "account", account, client):
                wait = self._wait(item, "account", account, client)
                if delay is None or wait > delay.seconds:
                    delay = Delay(seconds=wait, failures=item.amount)
        return delay

    def succeeded(self, account: str, client: str) -> None:
        """A right password: this client's count of wrong passwords for the account starts over."""
        for item in self.account_limits:
            self._run("clear", item, "account", account, client)


def sign_in(session: Session, throttle: SignInThrottle, *, email: str, password: str, client: str) -> User | None:
    """Check credentials behind both limits: the client's (counted first, before any hashing), then the
    account+client backoff (also before hashing). A wrong password counts towards the backoff, and when
    a delay begins for an existing account it is audited (`user.login-delayed`, with the client); the
    caller commits even when refusing. Raises TooManyAttempts; None for wrong credentials."""
    throttle.guard_client(client)
    account = email.strip().lower()
    user = find_user(session, account)
    key = f"{account}|{user.link_version if user else 0}"  # a new password link starts afresh
    throttle.guard_account(key, client)
    signed_in = authenticate(session, email=account, password=password)
    if signed_in is not None:
        throttle.succeeded(key, client)
        return signed_in
    delay = throttle.failed(key, client)
    if delay is not None and user is not None:
        record(session, actor=user.email, action="user.login-delayed", entity_type="user", entity_id=user.id,
               client=client, failures=delay.failures, seconds=delay.seconds)
    return None
