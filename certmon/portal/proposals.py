"""Constituents keep their own registry entry current: they propose, an analyst decides.

A constituent user proposes adding or removing an asset (network, ASN, domain, e-mail domain,
product with its version) or an alert recipient of their own organisation. The proposal is checked
at once, and refused with the reason when it cannot be right: an invalid CIDR or domain, a product
without its vendor, a network or domain that overlaps one registered to another organisation, an
asset already registered or already proposed. An analyst approves or rejects it in the queue
(`/forslag`); the reason for a rejection is shown to the organisation on Min side. An approval is
checked again against the registry as it is then, applied through the same functions the analysts'
own edits use (audited, registry version bumped) and the history is re-matched at once.
Other organisations' assets are never named to a constituent user: the refusal says that the value
overlaps another organisation's, and the analyst's queue says whose.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from certmon.audit.service import record
from certmon.auth.models import User
from certmon.db import utcnow
from certmon.errors import Conflict, NotFound, ValidationFailed
from certmon.notify.contacts import ContactIn, check_email, create_contact, delete_contact
from certmon.portal.models import Proposal

__all__ = ["Proposal"]
from certmon.portal.service import own_constituent
from certmon.registry.assets import add_asset, delete_asset, normalise_asset
from certmon.registry.models import Asset, Constituent, Contact
from certmon.registry.service import display_name

log = logging.getLogger(__name__)

# What a constituent may propose; suppliers are the CERT's own judgement.
PROPOSABLE_TYPES = ("network", "asn", "domain", "email_domain", "product")
REASON_MAX = 1000
PENDING_MAX = 100  # pending proposals per organisation


@dataclass(frozen=True)
class Clash:
    """Another organisation's asset a proposed one overlaps (for the analyst; never shown to the proposer)."""

    constituent_id: int
    constituent: str
    value: str


def _networks_overlapping(session: Session, value: str, constituent_id: int) -> list[Clash]:
    net = ipaddress.ip_network(value)
    rows = session.execute(select(Asset.value, Constituent.id, Constituent).join(Constituent)
                           .where(Asset.type == "network", Asset.constituent_id != constituent_id))
    out = []
    for other, cid, owner in rows:
        theirs = ipaddress.ip_network(other, strict=False)
        if theirs.version == net.version and theirs.overlaps(net):  # type: ignore[arg-type]
            out.append(Clash(cid, display_name(owner), other))
    return out


def _domains_overlapping(session: Session, value: str, constituent_id: int) -> list[Clash]:
    rows = session.execute(select(Asset.value, Constituent.id, Constituent).join(Constituent)
                           .where(Asset.type.in_(("domain", "email_domain")), Asset.constituent_id != constituent_id))
    return [Clash(cid, display_name(owner), other) for other, cid, owner in rows
            if other == value or other.endswith("." + value) or value.endswith("." + other)]


def clashes(session: Session, asset_type: str, value: str, constituent_id: int) -> list[Clash]:
    """Assets of other organisations that a proposed asset would overlap."""
    if asset_type == "network":
        return _networks_overlapping(session, value, constituent_id)
    if asset_type in ("domain", "email_domain"):
        return _domains_overlapping(session, value, constituent_id)
    if asset_type == "asn":
        rows = session.execute(select(Constituent.id, Constituent).join(Asset).where(
            Asset.type == "asn", Asset.value == value, Asset.constituent_id != constituent_id))
        return [Clash(cid, display_name(owner), value) for cid, owner in rows]
    return []


def _canonical(asset_type: str, value: str) -> str:
    """The canonical value, or ValidationFailed with the reason in bokmål (as the form shows it)."""
    if asset_type not in PROPOSABLE_TYPES:
        raise ValidationFailed("velg hva slags ressurs: nettverk, AS-nummer, domene, e-postdomene eller produkt",
                               [f"asset_type: {asset_type!r} kan ikke foreslås"])
    text = value.strip()
    if asset_type == "product" and not text.lower().startswith(("cpe:", "pkg:")):
        vendor = text.split(":", 1)[0].strip() if ":" in text else ""
        if not vendor:
            raise ValidationFailed("produktet mangler leverandør: skriv leverandør:produkt:versjon, for eksempel "
                                   "fortinet:fortios:7.2.4", ["value: produktet mangler leverandør"])
    try:
        return normalise_asset(asset_type, text)
    except ValueError as exc:
        raise ValidationFailed(str(exc), [f"value: {exc}"]) from None


def _check_asset(session: Session, constituent_id: int, asset_type: str, value: str) -> str:
    canonical = _canonical(asset_type, value)
    if session.scalar(select(Asset.id).where(Asset.constituent_id == constituent_id, Asset.type == asset_type,
                                             Asset.value == canonical)) is not None:
        raise Conflict(f"{canonical} er allerede registrert på virksomheten")
    if clashes(session, asset_type, canonical, constituent_id):
        what = {"network": "nettverket", "asn": "AS-nummeret"}.get(asset_type, "domenet")
        raise ValidationFailed(
            f"{what} {canonical} overlapper et som er registrert på en annen virksomhet; ta kontakt med "
            "Helse- og KommuneCERT hvis det er feil", [f"value: {canonical} overlapper en annen virksomhets"])
    return canonical


def _pending(session: Session, constituent_id: int, kind: str, value: str, asset_type: str | None) -> bool:
    return session.scalar(select(Proposal.id).where(
        Proposal.constituent_id == constituent_id, Proposal.kind == kind, Proposal.value == value,
        Proposal.asset_type.is_(None) if asset_type is None else Proposal.asset_type == asset_type,
        Proposal.status == "pending")) is not None


def _new(session: Session, user: User, constituent: Constituent, *, kind: str, value: str,
         asset_type: str | None = None, note: str | None = None, target_id: int | None = None,
         detail: dict[str, str] | None = None) -> Proposal:
    if _pending(session, constituent.id, kind, value, asset_type):
        raise Conflict(f"{value} er allerede foreslått og venter på CERT-et")
    waiting = session.scalar(select(func.count()).select_from(Proposal).where(
        Proposal.constituent_id == constituent.id, Proposal.status == "pending")) or 0
    if waiting >= PENDING_MAX:  # a queue an analyst can read, not a flood
        raise Conflict(f"virksomheten har {waiting} forslag som venter; vent til CERT-et har behandlet dem")
    proposal = Proposal(constituent_id=constituent.id, proposed_by=user.email, status="pending", kind=kind,
                        value=value, asset_type=asset_type, note=note, target_id=target_id, detail=detail or {})
    session.add(proposal)
    session.flush()
    record(session, actor=user.email, action="proposal.create", entity_type="proposal", entity_id=proposal.id,
           constituent_id=constituent.id, kind=kind, asset_type=asset_type, value=value)
    return proposal


def _note(note: str | None) -> str | None:
    text = (note or "").strip()
    if len(text) > REASON_MAX:
        raise ValidationFailed(f"kommentaren kan være høyst {REASON_MAX} tegn", [f"note: over {REASON_MAX} tegn"])
    return text or None


def propose_asset(session: Session, user: User, *, asset_type: str, value: str, note: str | None = None) -> Proposal:
    """A new asset for the user's own organisation; checked now, refused with the reason."""
    constituent = own_constituent(session, user)
    canonical = _check_asset(session, constituent.id, asset_type, value)
    return _new(session, user, constituent, kind="asset_add", asset_type=asset_type, value=canonical,
                note=_note(note))


def propose_asset_removal(session: Session, user: User, *, asset_id: int, note: str | None = None) -> Proposal:
    """Ask for one of the organisation's own assets to be removed."""
    constituent = own_constituent(session, user)
    asset = session.get(Asset, asset_id)
    if asset is None or asset.constituent_id != constituent.id:
        raise NotFound(f"fant ingen ressurs med id {asset_id} på virksomheten")
    return _new(session, user, constituent, kind="asset_remove", asset_type=asset.type, value=asset.value,
                target_id=asset.id, note=_note(note))


def propose_contact(session: Session, user: User, *, email: str, name: str = "", language: str = "nb",
                    note: str | None = None) -> Proposal:
    """A new alert recipient; the CERT decides the TLP clearance and mode when it approves."""
    constituent = own_constituent(session, user)
    try:
        address = check_email(email)
        data = ContactIn(email=address, name=name.strip()[:200], language=language)
    except ValueError as exc:
        reason = str(exc).splitlines()[-1] if "validation error" in str(exc) else str(exc)
        raise ValidationFailed(reason, [f"email: {reason}"]) from None
    if session.scalar(select(Contact.id).where(Contact.constituent_id == constituent.id,
                                               func.lower(Contact.email) == address)) is not None:
        raise Conflict(f"{address} får allerede varsler for virksomheten")
    return _new(session, user, constituent, kind="contact_add", value=address, note=_note(note),
                detail={"name": data.name, "language": data.language})


def propose_contact_removal(session: Session, user: User, *, contact_id: int, note: str | None = None) -> Proposal:
    """Ask for a recipient to be removed (someone who left, a mailbox that closed)."""
    constituent = own_constituent(session, user)
    contact = session.get(Contact, contact_id)
    if contact is None or contact.constituent_id != constituent.id:
        raise NotFound(f"fant ingen kontakt med id {contact_id} på virksomheten")
    return _new(session, user, constituent, kind="contact_remove", value=contact.email, target_id=contact.id,
                note=_note(note))


def withdraw(session: Session, user: User, *, proposal_id: int) -> Proposal:
    """The proposer's organisation takes a pending proposal back."""
    constituent = own_constituent(session, user)
    proposal = session.get(Proposal, proposal_id)
    if proposal is None or proposal.constituent_id != constituent.id:
        raise NotFound(f"fant intet forslag med id {proposal_id}")
    if proposal.status != "pending":
        raise Conflict("forslaget er allerede behandlet")
    proposal.status, proposal.decided_by, proposal.decided_at = "withdrawn", user.email, utcnow()
    record(session, actor=user.email, action="proposal.withdraw", entity_type="proposal", entity_id=proposal.id)
    return proposal


def own_proposals(session: Session, user: User, *, limit: int = 20) -> list[Proposal]:
    """The organisation's proposals, pending first, then the newest decisions."""
    constituent = own_constituent(session, user)
    pending_first = (Proposal.status != "pending")
    return list(session.scalars(select(Proposal).where(Proposal.constituent_id == constituent.id)
                                .order_by(pending_first, Proposal.id.desc()).limit(limit)))


# The analysts' queue --------------------------------------------------------------------------------

def queue(session: Session, *, status: str | None = "pending", limit: int = 50,
          offset: int = 0) -> tuple[list[tuple[Proposal, Constituent]], int]:
    """Proposals with their organisation: oldest pending first (the order they should be handled in)."""
    stmt = select(Proposal, Constituent).join(Constituent, Constituent.id == Proposal.constituent_id)
    if status:
        stmt = stmt.where(Proposal.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = [Proposal.id] if status == "pending" else [Proposal.id.desc()]
    return [(p, c) for p, c in session.execute(stmt.order_by(*order).limit(limit).offset(offset))], total


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Proposal).where(Proposal.status == "pending")) or 0


def _open(session: Session, proposal_id: int) -> Proposal:
    proposal = session.get(Proposal, proposal_id, with_for_update=True)
    if proposal is None:
        raise NotFound(f"fant intet forslag med id {proposal_id}")
    if proposal.status != "pending":
        raise Conflict(f"forslaget er allerede behandlet ({proposal.status})")
    return proposal


def approve(session: Session, *, proposal_id: int, actor: str, tlp_max: str = "amber",
            mode: str = "immediate") -> Proposal:
    """Apply a pending proposal (checked again against the registry as it is now); re-match follows commit."""
    proposal = _open(session, proposal_id)
    cid = proposal.constituent_id
    if proposal.kind == "asset_add":
        assert proposal.asset_type is not None
        _check_asset(session, cid, proposal.asset_type, proposal.value)
        add_asset(session, constituent_id=cid, asset_type=proposal.asset_type, value=proposal.value,
                  note=proposal.note, actor=actor)
    elif proposal.kind == "asset_remove":
        asset = session.get(Asset, proposal.target_id) if proposal.target_id else None
        if asset is None or asset.constituent_id != cid:
            raise Conflict("ressursen er allerede fjernet")
        delete_asset(session, constituent_id=cid, asset_id=asset.id, actor=actor)
    elif proposal.kind == "contact_add":
        data = ContactIn(email=proposal.value, name=str(proposal.detail.get("name") or ""),
                         language=str(proposal.detail.get("language") or "nb"), tlp_max=tlp_max, mode=mode)
        create_contact(session, constituent_id=cid, data=data, actor=actor)
    else:
        contact = session.get(Contact, proposal.target_id) if proposal.target_id else None
        if contact is None or contact.constituent_id != cid:
            raise Conflict("kontakten er allerede fjernet")
        delete_contact(session, constituent_id=cid, contact_id=contact.id, actor=actor)
    proposal.status, proposal.decided_by, proposal.decided_at = "approved", actor, utcnow()
    record(session, actor=actor, action="proposal.approve", entity_type="proposal", entity_id=proposal.id,
           constituent_id=cid, kind=proposal.kind, value=proposal.value)
    return proposal  # an asset change: the caller runs rematch_soon() once this commits


def reject(session: Session, *, proposal_id: int, actor: str, reason: str) -> Proposal:
    """Turn a proposal down; the reason is shown to the organisation on Min side."""
    text = " ".join(reason.split())
    if not text:
        raise ValidationFailed("skriv hvorfor forslaget avvises; virksomheten ser begrunnelsen",
                               ["reason: mangler"])
    if len(text) > REASON_MAX:
        raise ValidationFailed(f"begrunnelsen kan være høyst {REASON_MAX} tegn", [f"reason: over {REASON_MAX} tegn"])
    proposal = _open(session, proposal_id)
    proposal.status, proposal.reason = "rejected", text
    proposal.decided_by, proposal.decided_at = actor, utcnow()
    record(session, actor=actor, action="proposal.reject", entity_type="proposal", entity_id=proposal.id,
           constituent_id=proposal.constituent_id, reason=text)
    return proposal


# Re-matching at once -----------------------------------------------------------------------------------

_lock = threading.Lock()


def rematch_soon(session: Session) -> str:
    """After an approved asset change commits: re-match now — on the workers when a broker is configured,
    otherwise in a background thread of this process. The periodic re-match is the fallback either way."""
    from certmon import plugins
    from certmon.config import get_settings

    workers = plugins.optional("workers")
    if get_settings().broker_url and workers is not None:
        try:
            return str(workers.dispatch_rematch())
        except Exception as exc:  # noqa: BLE001 - the periodic tick re-matches within a minute
            log.warning("re-match after approval not queued (%s); the periodic re-match will run it",
                        type(exc).__name__)
            return "periodic"
    factory = sessionmaker(bind=session.get_bind(), expire_on_commit=False)
    threading.Thread(target=_rematch_now, args=(factory,), name="certmon-rematch", daemon=True).start()
    return "background"


def _rematch_now(factory: sessionmaker[Session]) -> None:
    from certmon.matching.service import rematch_if_changed

    with _lock:
        try:
            run = rematch_if_changed(factory)
            if run is not None:
                log.info("re-match after an approved proposal: %d new, %d retired", len(run.new_ids), run.retired)
        except Exception:  # logged; the periodic re-match tries again
            log.exception("re-match after an approved proposal failed")



def constituent_of(session: Session, proposal: Proposal) -> Constituent:
    found = session.get(Constituent, proposal.constituent_id)
    if found is None:
        raise NotFound("virksomheten finnes ikke lenger")
    return found
