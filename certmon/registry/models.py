"""ORM models: Constituent, ConstituentRole, Asset, Contact, RegistryState."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from certmon.db import Base, utcnow

KINDS = ("kommune", "fylkeskommune", "rhf", "hf", "other")
ASSET_TYPES = ("network", "asn", "domain", "email_domain", "product", "supplier")


class Constituent(Base):
    """An organisation the CERT serves (virksomhet)."""

    __tablename__ = "constituents"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_number: Mapped[str | None] = mapped_column(String(9), unique=True)
    municipality_number: Mapped[str | None] = mapped_column(String(4), unique=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    name_alt: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    county_number: Mapped[str | None] = mapped_column(String(2))
    county_name: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(50))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("constituents.id", ondelete="SET NULL"))
    website: Mapped[str | None] = mapped_column(String(300))
    nbp_member: Mapped[bool] = mapped_column(Boolean, default=False)  # Nasjonalt beskyttelsesprogram
    needs_org_number: Mapped[bool] = mapped_column(Boolean, default=False)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    roles: Mapped[list[ConstituentRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ConstituentRole.role"
    )

    @property
    def role_names(self) -> list[str]:
        """All kinds this organisation is (Oslo: kommune and fylkeskommune)."""
        return sorted({r.role for r in self.roles} | {self.kind})


class ConstituentRole(Base):
    """An extra kind an organisation also has (Oslo kommune is also the county municipality)."""

    __tablename__ = "constituent_roles"

    constituent_id: Mapped[int] = mapped_column(
        ForeignKey("constituents.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)


class Asset(Base):
    """A network, ASN, domain, e-mail domain, product or supplier registered on a constituent."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("constituent_id", "type", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    constituent_id: Mapped[int] = mapped_column(ForeignKey("constituents.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    value: Mapped[str] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(Text)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Contact(Base):
    """A person or function mailbox that receives alerts for a constituent."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("constituent_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    constituent_id: Mapped[int] = mapped_column(ForeignKey("constituents.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(2), default="nb")
    tlp_max: Mapped[str] = mapped_column(String(20), default="amber")
    mode: Mapped[str] = mapped_column(String(20), default="immediate")  # immediate | digest
    min_severity: Mapped[str] = mapped_column(String(20), default="medium")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppState(Base):
    """Small key/value state: registry version (bumped on every registry change), schema facts."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
