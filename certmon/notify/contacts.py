"""Contacts: CSV import (all-or-nothing, every bad row named), create/update/delete — all audited."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.errors import Conflict, NotFound, ValidationFailed
from certmon.notify.policy import SEVERITIES
from certmon.registry.models import Constituent, Contact
from certmon.schema_types import TlpName, documented
from certmon.tlp import parse_tlp

COLUMNS = ("org_number", "email", "name", "language", "tlp_max", "mode")
LANGUAGES = ("nb", "nn", "en")
MODES = ("immediate", "digest")
# The local part as a dot-atom (RFC 5322 atext, letters beyond ASCII as RFC 6531 allows): no comment,
# group, quote or control character that would make the To: header name someone else than the audit does.
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_EMAIL = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")


def check_email(value: str) -> str:
    """A plain addr-spec, lower-cased; ValueError otherwise."""
    value = value.strip().lower()
    if not _EMAIL.match(value) or len(value) > 320:
        raise ValueError("ugyldig e-postadresse")
    return value


class ContactIn(BaseModel):
    """A contact as the API and the importer accept it."""

    model_config = ConfigDict(extra="forbid")

    email: str
    name: str = ""
    language: Annotated[str, documented(LANGUAGES)] = "nb"
    tlp_max: TlpName = "amber"
    mode: Annotated[str, documented(MODES)] = "immediate"
    min_severity: Annotated[str, documented(SEVERITIES)] = "medium"
    active: bool = True

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return check_email(value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        value = (value or "nb").strip().lower()
        if value not in LANGUAGES:
            raise ValueError("må være nb, nn eller en")
        return value

    @field_validator("tlp_max")
    @classmethod
    def _tlp(cls, value: str) -> str:
        try:
            return parse_tlp(value).value_str
        except ValueError:
            raise ValueError("må være clear, green, amber, amber+strict eller red") from None

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        value = (value or "immediate").strip().lower()
        if value not in MODES:
            raise ValueError("må være immediate eller digest")
        return value

    @field_validator("min_severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        if value.lower() not in SEVERITIES:
            raise ValueError("må være low, medium, high eller critical")
        return value.lower()


@dataclass
class ImportResult:
    """How many contacts an import created and updated."""

    created: int = 0
    updated: int = 0


def _row_problems(
    row_no: int, row: dict[str, str], orgs: dict[str, int]
) -> tuple[list[str], ContactIn | None]:
    problems = []
    if (row.get("org_number") or "").strip() not in orgs:
        problems.append(f"rad {row_no}, org_number: ukjent organisasjonsnummer {row.get('org_number')!r}")
    data = {k: (row.get(k) or "").strip() for k in COLUMNS[1:]}
    data = {k: v for k, v in data.items() if v or k == "email"}
    try:
        contact = ContactIn.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            column = err["loc"][0] if err["loc"] else "rad"
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"rad {row_no}, {column}: {message}")
        return problems, None
    return problems, contact


def import_contacts(session: Session, *, text: str, actor: str) -> ImportResult:
    """Import `org_number,email,name,language,tlp_max,mode` rows; nothing is stored if any row is bad."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in ("org_number", "email") if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationFailed(
            f"rad 1: mangler kolonne(r) {', '.join(missing)}", [f"rad 1, {m}: mangler" for m in missing]
        )
    orgs = {o: i for o, i in session.execute(select(Constituent.org_number, Constituent.id)) if o}
    problems: list[str] = []
    parsed: list[tuple[int, ContactIn]] = []
    seen: dict[tuple[int, str], int] = {}
    for row_no, row in enumerate(reader, start=2):  # row 1 is the header, as in a spreadsheet
        row_problems, contact = _row_problems(row_no, row, orgs)
        problems += row_problems
        if contact is None or row_problems:
            continue
        key = (orgs[row["org_number"].strip()], contact.email)
        if key in seen:
            problems.append(f"rad {row_no}, email: {contact.email} står allerede i rad {seen[key]}")
            continue
        seen[key] = row_no
        parsed.append((key[0], contact))
    if problems:
        raise ValidationFailed(f"{len(problems)} feil i kontaktfilen; ingenting er lagret", problems)
    result = ImportResult()
    for constituent_id, data in parsed:
        existing = session.scalar(
            select(Contact).where(Contact.constituent_id == constituent_id, Contact.email == data.email)
        )
        if existing is None:
            session.add(Contact(constituent_id=constituent_id, **data.model_dump()))
            result.created += 1
        else:
            for field, value in data.model_dump(exclude={"min_severity", "active"}).items():
                setattr(existing, field, value)
            result.updated += 1
    record(
        session,
        actor=actor,
        action="contacts.import",
        entity_type="contact",
        entity_id="*",
        created=result.created,
        updated=result.updated,
    )
    session.flush()
    return result


def list_contacts(
    session: Session, *, constituent_id: int | None = None, org_number: str | None = None
) -> list[Contact]:
    """Contacts, optionally of one constituent (by id or organisation number)."""
    stmt = select(Contact).join(Constituent, Constituent.id == Contact.constituent_id)
    if constituent_id is not None:
        stmt = stmt.where(Contact.constituent_id == constituent_id)
    if org_number:
        stmt = stmt.where(Constituent.org_number == org_number)
    return list(session.scalars(stmt.order_by(Constituent.name, Contact.email)))


def create_contact(session: Session, *, constituent_id: int, data: ContactIn, actor: str) -> Contact:
    """Add a contact to a constituent; audited."""
    if session.get(Constituent, constituent_id) is None:
        raise NotFound(f"virksomhet {constituent_id} finnes ikke")
    if session.scalar(
        select(Contact).where(Contact.constituent_id == constituent_id, Contact.email == data.email)
    ):
        raise Conflict(f"{data.email} er allerede kontakt for virksomheten")
    contact = Contact(constituent_id=constituent_id, **data.model_dump())
    session.add(contact)
    session.flush()
    record(
        session,
        actor=actor,
        action="contact.create",
        entity_type="contact",
        entity_id=contact.id,
        email=contact.email,
        constituent_id=constituent_id,
    )
    return contact


def get_contact(session: Session, *, constituent_id: int, contact_id: int) -> Contact:
    """One contact of one constituent, or NotFound."""
    contact = session.get(Contact, contact_id)
    if contact is None or contact.constituent_id != constituent_id:
        raise NotFound(f"kontakt {contact_id} finnes ikke")
    return contact


def update_contact(
    session: Session, *, constituent_id: int, contact_id: int, data: ContactIn, actor: str
) -> Contact:
    """Replace a contact's fields; audited."""
    contact = get_contact(session, constituent_id=constituent_id, contact_id=contact_id)
    before = {"email": contact.email, "tlp_max": contact.tlp_max, "mode": contact.mode}
    for field, value in data.model_dump().items():
        setattr(contact, field, value)
    session.flush()
    record(
        session,
        actor=actor,
        action="contact.update",
        entity_type="contact",
        entity_id=contact.id,
        before=before,
        after=data.model_dump(),
    )
    return contact


def delete_contact(session: Session, *, constituent_id: int, contact_id: int, actor: str) -> None:
    """Remove a contact (its past deliveries keep the address); audited."""
    contact = get_contact(session, constituent_id=constituent_id, contact_id=contact_id)
    record(
        session,
        actor=actor,
        action="contact.delete",
        entity_type="contact",
        entity_id=contact.id,
        email=contact.email,
        constituent_id=constituent_id,
    )
    session.delete(contact)
    session.flush()
