"""Who may push items to a source: analysts and admins to any source, a `feeder` account (a sensor or a
partner's system) only to the sources an admin has granted it; nobody else."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.auth.models import User
from certmon.auth.service import has_role
from certmon.errors import Forbidden, NotFound, ValidationFailed
from certmon.sources.models import Source, SourceFeeder


def may_feed(session: Session, *, user: User, source: Source) -> bool:
    """Whether `user` may push items to `source`."""
    if has_role(user, "analyst"):
        return True
    if user.role != "feeder":
        return False
    grant = session.get(SourceFeeder, (source.id, user.id))
    return grant is not None


def check_may_feed(session: Session, *, user: User, source: Source) -> None:
    """Forbidden, with the reason, unless `user` may push to `source`."""
    if may_feed(session, user=user, source=source):
        return
    if user.role == "feeder":
        raise Forbidden(f"kontoen {user.email} har ikke feeder-tilgang til kilden {source.name!r}; "
                        "en administrator kan gi den (certmon sources feeders add)")
    raise Forbidden(f"rollen {user.role!r} kan ikke sende inn data; det kan analytikere, administratorer og "
                    "feeder-kontoer med tilgang til kilden")


def _feeder(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"fant ingen bruker {email!r}")
    if user.role != "feeder":
        raise ValidationFailed(f"{user.email} har rollen {user.role!r}: bare feeder-kontoer får tilgang per kilde "
                               "(analytikere og administratorer kan sende inn til alle kilder)")
    return user


def list_feeders(session: Session, *, source: Source) -> list[User]:
    """The feeder accounts allowed to push to `source`, by e-mail."""
    stmt = (select(User).join(SourceFeeder, SourceFeeder.user_id == User.id)
            .where(SourceFeeder.source_id == source.id).order_by(User.email))
    return list(session.scalars(stmt))


def grant_feeder(session: Session, *, source: Source, email: str, actor: str) -> User:
    """Let a feeder account push to `source` (idempotent); audited. The caller commits."""
    user = _feeder(session, email)
    if session.get(SourceFeeder, (source.id, user.id)) is None:
        session.add(SourceFeeder(source_id=source.id, user_id=user.id, created_by=actor))
        record(session, actor=actor, action="source.feeder-grant", entity_type="source", entity_id=source.id,
               name=source.name, feeder=user.email)
        session.flush()
    return user


def revoke_feeder(session: Session, *, source: Source, email: str, actor: str) -> None:
    """Take a feeder account's access to `source` away; audited. The caller commits."""
    user = _feeder(session, email)
    grant = session.get(SourceFeeder, (source.id, user.id))
    if grant is None:
        raise NotFound(f"{user.email} har ikke feeder-tilgang til kilden {source.name!r}")
    session.delete(grant)
    record(session, actor=actor, action="source.feeder-revoke", entity_type="source", entity_id=source.id,
           name=source.name, feeder=user.email)
