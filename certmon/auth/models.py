"""ORM models: User and ApiToken."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from certmon.db import Base, utcnow

ROLES = ("admin", "analyst", "reader", "constituent", "feeder")  # feeder: pushes to granted sources only


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
