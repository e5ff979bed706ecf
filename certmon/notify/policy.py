"""The alert policy: which matches become alerts, stored as JSON in `app_state` (key `alert_policy`)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from certmon.audit.service import record
from certmon.errors import ValidationFailed
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.registry.models import AppState
from certmon.schema_types import TlpBelowRed, documented
from certmon.tlp import TLP, parse_tlp

POLICY_KEY = "alert_policy"
SEVERITIES = ("low", "medium", "high", "critical")
NEVER = "never"  # `at_once_min_severity`: no finding leads its window
RULES = ("ip-network", "cidr-overlap", "domain", "email-domain", "asn", "product", "name", "supplier")
NEVER_STATUSES = frozenset({"false_positive", "retired", "closed"})


def severity_rank(severity: str | None) -> int:
    """Order of a severity word (unknown counts as medium)."""
    try:
        return SEVERITIES.index((severity or "medium").lower())
    except ValueError:
        return 1


class AlertPolicy(BaseModel):
    """Editable by admins; the defaults are DESIGN.md's."""

    model_config = ConfigDict(extra="forbid")

    auto_rules: list[Annotated[str, documented(RULES)]] = Field(
        default_factory=lambda: ["ip-network", "cidr-overlap", "domain", "email-domain", "asn", "supplier"]
    )
    min_confidence: int = Field(default=80, ge=0, le=100)
    max_tlp: TlpBelowRed = "amber+strict"
    min_severity: Annotated[str, documented(SEVERITIES)] = "low"
    window_minutes: int = Field(default=10, ge=1, le=24 * 60)
    # leading edge: the first finding for an organisation in a window at or above this severity (or
    # known to be exploited) goes out at once; later ones in the window gather into one follow-up
    at_once_min_severity: Annotated[str, documented(SEVERITIES)] = "high"
    at_once_known_exploited: bool = True
    digest_time: str = Field(default="08:00", pattern=r"^\s*([01]?\d|2[0-3]):[0-5]\d\s*$")
    reminder_after_hours: int = Field(default=48, ge=1, le=24 * 365)
    reminder_min_severity: Annotated[str, documented(SEVERITIES)] = "high"

    @field_validator("auto_rules")
    @classmethod
    def _rules(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(RULES))
        if unknown:
            raise ValueError(f"unknown rule(s): {', '.join(unknown)}")
        return sorted(set(value))

    @field_validator("max_tlp")
    @classmethod
    def _tlp(cls, value: str) -> str:
        tlp = parse_tlp(value)
        if tlp == TLP.RED:
            raise ValueError("TLP:RED is never sent automatically")
        return tlp.value_str

    @field_validator("min_severity", "reminder_min_severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        if value.lower() not in SEVERITIES:
            raise ValueError(f"must be one of {', '.join(SEVERITIES)}")
        return value.lower()

    @field_validator("at_once_min_severity")
    @classmethod
    def _at_once(cls, value: str) -> str:
        if value.lower() not in (*SEVERITIES, NEVER):
            raise ValueError(f"must be one of {', '.join((*SEVERITIES, NEVER))}")
        return value.lower()

    @field_validator("digest_time")
    @classmethod
    def _time(cls, value: str) -> str:
        m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
        if not m:
            raise ValueError("must be HH:MM (24 h, Europe/Oslo)")
        return f"{int(m.group(1)):02d}:{m.group(2)}"

    @property
    def digest_hour_minute(self) -> tuple[int, int]:
        """The digest time as (hour, minute)."""
        hour, minute = self.digest_time.split(":")
        return int(hour), int(minute)


def leads_window(policy: AlertPolicy, severity: str | None, *, known_exploited: bool) -> bool:
    """Whether a finding is urgent enough to go out at once, ahead of its grouping window."""
    if known_exploited and policy.at_once_known_exploited:
        return True
    if policy.at_once_min_severity == NEVER:
        return False
    return severity_rank(severity) >= severity_rank(policy.at_once_min_severity)


def eligible(policy: AlertPolicy, match: Match, item: StoredItem) -> bool:
    """Whether the policy lets this match alert automatically."""
    if match.status in NEVER_STATUSES or match.status not in ("new", "confirmed"):
        return False
    tlp = parse_tlp(item.tlp, TLP.RED)  # an unreadable label is treated as the most restricted
    if tlp == TLP.RED or tlp > parse_tlp(policy.max_tlp):
        return False
    if severity_rank(match.severity) < severity_rank(policy.min_severity):
        return False
    if match.status == "confirmed":
        return True
    if match.product_status == "under_investigation":  # a possible match: an analyst decides
        return False
    return match.rule in policy.auto_rules and match.confidence >= policy.min_confidence


def load_policy(session: Session) -> AlertPolicy:
    """The stored policy, or the default when none is stored."""
    row = session.get(AppState, POLICY_KEY)
    if row is None or not row.value:
        return AlertPolicy()
    return AlertPolicy.model_validate_json(row.value)


def parse_policy(data: dict[str, Any]) -> AlertPolicy:
    """Validate a policy document; raise ValidationFailed naming every bad field."""
    try:
        return AlertPolicy.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}" for e in exc.errors()]
        raise ValidationFailed("invalid alert policy: " + "; ".join(problems), problems) from None


def save_policy(session: Session, policy: AlertPolicy, *, actor: str) -> AlertPolicy:
    """Store the policy (audited); the caller commits."""
    text = json.dumps(policy.model_dump(), sort_keys=True)
    row = session.get(AppState, POLICY_KEY)
    if row is None:
        session.add(AppState(key=POLICY_KEY, value=text))
    else:
        row.value = text
    record(
        session,
        actor=actor,
        action="alert_policy.update",
        entity_type="app_state",
        entity_id=POLICY_KEY,
        policy=policy.model_dump(),
    )
    return policy
