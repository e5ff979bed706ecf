"""Who may receive what (pure TLP 2.0 logic, no database).

Rules: a contact gets an item only if the item's TLP is at or below the contact's clearance;
TLP:RED never goes out automatically; TLP:AMBER+STRICT only to the concerned constituent's own
contacts. Items a contact may not get are counted as `withheld` so the e-mail can say more exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from certmon.notify.policy import severity_rank
from certmon.tlp import TLP, max_tlp


@dataclass(frozen=True)
class Recipient:
    """A contact as the TLP logic sees it."""

    email: str
    constituent_id: int
    tlp_max: TLP
    mode: str = "immediate"  # immediate | digest
    min_severity: str = "medium"
    language: str = "nb"
    contact_id: int | None = None


@dataclass(frozen=True)
class AlertItem:
    """One reportable thing (a match id) with its TLP and severity."""

    match_id: int
    tlp: TLP
    severity: str = "medium"


@dataclass
class Allotment:
    """What one recipient gets: the items, and how many it is not cleared for."""

    recipient: Recipient
    items: list[AlertItem] = field(default_factory=list)
    withheld: int = 0

    @property
    def tlp(self) -> TLP:
        """The e-mail's TLP: the highest of its items."""
        return max_tlp([i.tlp for i in self.items])


def may_receive(recipient: Recipient, tlp: TLP, constituent_id: int, *, automatic: bool = True) -> bool:
    """The one TLP check every outgoing e-mail goes through."""
    if tlp > recipient.tlp_max:
        return False
    if tlp == TLP.RED and automatic:
        return False
    return not (tlp == TLP.AMBER_STRICT and recipient.constituent_id != constituent_id)


def in_mode(recipient: Recipient, item: AlertItem, mode: str) -> bool:
    """Whether an item belongs in this kind of e-mail for this recipient.

    Immediate contacts get items at or above their severity threshold at once and the rest in the
    digest; digest contacts get everything in the digest; manual/reminder e-mails carry all items.
    """
    at_threshold = severity_rank(item.severity) >= severity_rank(recipient.min_severity)
    if mode == "immediate":
        return recipient.mode == "immediate" and at_threshold
    if mode == "digest":
        return recipient.mode == "digest" or not at_threshold
    return True


def allot(
    constituent_id: int,
    recipients: Iterable[Recipient],
    items: Sequence[AlertItem],
    *,
    mode: str = "immediate",
    automatic: bool = True,
) -> list[Allotment]:
    """Per recipient, the items it may receive in this e-mail and how many were withheld."""
    result = []
    for rcpt in recipients:
        share = Allotment(rcpt)
        for item in items:
            if not in_mode(rcpt, item, mode):
                continue
            if may_receive(rcpt, item.tlp, constituent_id, automatic=automatic):
                share.items.append(item)
            else:
                share.withheld += 1
        result.append(share)
    return result
