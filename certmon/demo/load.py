"""Load the demo scenario onto the real registry (assets, contacts and users marked as demo)."""

from __future__ import annotations

from importlib import resources

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from certmon.auth.models import User
from certmon.auth.service import hash_password
from certmon.registry.assets import import_assets
from certmon.registry.models import Asset, Contact
from certmon.registry.service import find_by_org_number

DEMO_PASSWORD = "demo"  # noqa: S105 - shown on the login page in demo mode only
DEMO_USERS = (("admin@demo.invalid", "admin", "DEMO Administrator"),
              ("analytiker@demo.invalid", "analyst", "DEMO Analytiker"),
              ("leser@demo.invalid", "reader", "DEMO Leser (departementet)"),
              ("kommune@demo.invalid", "constituent", "DEMO Sikkerhetskontakt Bergen kommune"))
DEMO_PORTAL_ORG = "964338531"  # Bergen kommune: the demo constituent user's organisation (Min side)


def _text(name: str) -> str:
    return resources.files("certmon.demo").joinpath(name).read_text(encoding="utf-8")


def load_demo(session: Session) -> dict[str, int]:
    """Idempotently add the demo assets, contacts and users; returns counts of what was added."""
    report = import_assets(session, _text("demo_assets.csv"), actor="demo")
    session.execute(update(Asset).where(Asset.note.like("DEMO%")).values(demo=True))
    contacts = _load_contacts(session)
    users = 0
    tlp_of_role = {"admin": "red", "analyst": "red", "reader": "amber", "constituent": "amber+strict"}
    for email, role, name in DEMO_USERS:
        if session.scalar(select(User.id).where(User.email == email)) is None:
            org = find_by_org_number(session, DEMO_PORTAL_ORG) if role == "constituent" else None
            if role == "constituent" and org is None:
                continue  # a registry without Bergen: no portal user to show
            session.add(User(email=email, role=role, name=name, password_hash=hash_password(DEMO_PASSWORD),
                             tlp_max=tlp_of_role[role], constituent_id=org.id if org else None))
            users += 1
    return {"assets": report.created, "contacts": contacts, "users": users}


def _load_contacts(session: Session) -> int:
    import csv

    added = 0
    for row in csv.DictReader(_text("demo_contacts.csv").splitlines()):
        owner = find_by_org_number(session, row["org_number"])
        if owner is None:
            continue
        exists = session.scalar(select(Contact.id).where(Contact.constituent_id == owner.id,
                                                        Contact.email == row["email"]))
        if exists is None:
            session.add(Contact(constituent_id=owner.id, email=row["email"], name=row["name"],
                                language=row["language"], tlp_max=row["tlp_max"], mode=row["mode"],
                                demo=True))
            added += 1
    return added
