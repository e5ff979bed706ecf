"""Reports count each figure by when its event happened, and are labelled at least as the analysts
marked their own assessment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from certmon.errors import ValidationFailed
from certmon.items.schemas import Item
from certmon.items.service import upsert_items
from certmon.matching.models import Match
from certmon.registry.models import Constituent
from certmon.reports import service
from certmon.reports.figures import compute_figures
from certmon.reports.periods import parse_period
from certmon.sources.models import Source
from certmon.tlp import TLP
from tests.conftest import CertmonEnv

# Sunday 22 November 2026 22:30 in Oslo is still week 47; it was collected on Monday (week 48)
OBSERVED = "2026-11-22T21:30:00Z"
COLLECTED = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def _plant_straddling(env: CertmonEnv) -> None:
    with env.factory.begin() as session:
        source = Source(name="straddle", format="shadowserver", url="file:///dev/null")
        session.add(source)
        session.flush()
        items = [Item(kind="exposure", key="scan:rdp:192.0.2.10", tlp="amber", source_format="shadowserver",
                      title="Åpen RDP", ip="192.0.2.10", port=3389, observed_at=OBSERVED),
                 Item(kind="advisory", key="adv-sunday", tlp="clear", source_format="rss", title="Søndagsvarsel",
                      published=OBSERVED)]
        ids = upsert_items(session, source_id=source.id, items=items).new_ids
        bergen = session.scalars(select(Constituent).where(Constituent.name == "Bergen",
                                                           Constituent.kind == "kommune")).one()
        session.add(Match(item_id=ids[0], constituent_id=bergen.id, rule="ip-network", asset="192.0.2.0/24",
                          confidence=95, explanation="Planted.", severity="high", status="new",
                          created_at=COLLECTED))


def test_a_week_that_straddles_collection_counts_by_when_it_happened(any_env: CertmonEnv) -> None:
    _plant_straddling(any_env)
    with any_env.session() as session:
        w47 = compute_figures(session, period=parse_period("2026-W47"), ceiling=TLP.AMBER)
        w48 = compute_figures(session, period=parse_period("2026-W48"), ceiling=TLP.AMBER)
    assert (w47.matches.current, w47.constituents.current, w47.advisories.current) == (1, 1, 1)
    assert {b.label: b.value for b in w47.matches_by_severity} == {"high": 1}
    assert (w48.matches.current, w48.advisories.current) == (0, 0)
    assert w48.matches.previous == 1  # week 48's "previous period" is week 47
    assert w47.tlp == "amber" and w48.tlp == "clear"


def test_the_label_is_raised_to_the_assessments_marking_never_below_the_data(sqlite_env: CertmonEnv) -> None:
    _plant_straddling(sqlite_env)
    with sqlite_env.factory.begin() as session:
        quiet = service.create_report(session, actor="a@cert.invalid", period="2026-W48", assessment="Rolig.")
        assert quiet.tlp == "clear"
        service.update_report(session, report=quiet, actor="a@cert.invalid", assessment="Intern vurdering.",
                              assessment_tlp="amber")
        assert (quiet.tlp, quiet.assessment_tlp) == ("amber", "amber")
        busy = service.create_report(session, actor="a@cert.invalid", period="2026-W47", assessment_tlp="green")
        assert busy.tlp == "amber"  # the counted exposure is AMBER: a lower marking does not lower the label
        approved = service.approve_report(session, report=quiet, actor="b@cert.invalid")
        assert approved.tlp == "amber" and "TLP:AMBER" in (approved.html or "")
        with pytest.raises(ValidationFailed, match="grense"):
            service.create_report(session, actor="a@cert.invalid", period="2026-W49", tlp="green",
                                  assessment_tlp="amber")
        with pytest.raises(ValidationFailed):
            service.create_report(session, actor="a@cert.invalid", period="2026-W49", assessment_tlp="purple")
