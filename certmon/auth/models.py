"""ORM models: User, ApiToken and UserIdentity (a link from an OpenID Connect provider)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certmon.auth.roles import ROLES
from certmon.db import Base, utcnow

__all__ = ["ROLES", "ApiToken", "User", "UserIdentity"]


class User(Base):
    """A person who signs in to the dashboard or API."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    tlp_max: Mapped[str] = mapped_column(String(20), default="amber+strict")
    constituent_id: Mapped[int | None] = mapped_column(ForeignKey("constituents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # bumped by every password link and by (de)activation: only the newest link works; it also gives
    # the account fresh sign-in counters (certmon.auth.throttle)
    link_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # bumped by sign-out, "sign out everywhere", a role change and (de)activation: older cookies stop working
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiToken(Base):
    """A bearer token for scripts; only its hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class UserIdentity(Base):
    """A link from an account at an OpenID Connect provider to a certmon user, made on the first sign-in
    (through the one-time invitation link, or the provider's verified e-mail where its preset allows).

    `subject_digest` is an HMAC of provider and subject under the installation's secret, never the subject
    itself: ID-porten's and HelseID's subject is the person's national identity number."""

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("provider", "subject_digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(40))
    subject_digest: Mapped[str] = mapped_column(String(64))
    linked_by: Mapped[str] = mapped_column(String(20))  # invite | email
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
