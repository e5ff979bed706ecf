"""The situation picture's 30-day trends: Oslo days, TLP-bounded, every series with its text table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from certmon.items.schemas import Item
from certmon.items.service import upsert_items
from certmon.matching.models import Match
from certmon.notify.models import Notification
from certmon.registry.models import Constituent
from certmon.reports.charts import column_chart
from certmon.sources.models import Source, SourceRun
from certmon.tlp import TLP
from dashboards.trends import DAYS, trends
from tests.conftest import CertmonEnv

NOW = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)  # the day after the change to summer time


def test_trends_count_oslo_days_within_the_clearance(any_env: CertmonEnv) -> None:
    with any_env.factory.begin() as session:
        source = Source(name="trend", format="rss", url="file:///dev/null")
        session.add(source)
        session.flush()
        clear, red = upsert_items(session, source_id=source.id, items=[
            Item(kind="advisory", key="a", tlp="clear", source_format="rss", title="A"),
            Item(kind="advisory", key="r", tlp="red", source_format="rss", title="R")]).new_ids
        who, other, third = session.query(Constituent).order_by(Constituent.id).limit(3).all()
        # 22:30 UTC on 28 March is 23:30 in Oslo (28th); 23:30 UTC on 29 March is 01:30 on the 30th
        for item, owner, at, severity in ((clear, who, datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "critical"),
                                          (clear, other, datetime(2026, 3, 29, 23, 30, tzinfo=UTC), "high"),
                                          (red, who, datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "critical"),
                                          (clear, third, NOW - timedelta(days=40), "low")):
            session.add(Match(item_id=item, constituent_id=owner.id, rule="name", asset=f"x{at}", confidence=50,
                              explanation="-", severity=severity, status="new", created_at=at))
        session.add(Notification(reference="HKC-T-1", constituent_id=who.id, tlp="clear", status="sent",
                                 dedupe_key="t1", sent_at=NOW - timedelta(hours=1),
                                 acknowledged_at=NOW - timedelta(minutes=5)))
        session.add(SourceRun(source_id=source.id, outcome="error", started_at=NOW - timedelta(days=1)))
        session.add(SourceRun(source_id=source.id, outcome="ok", started_at=NOW - timedelta(days=2)))
    with any_env.session() as session:
        amber = trends(session, ceiling=TLP.AMBER, now=NOW)
        red_view = trends(session, ceiling=TLP.RED, now=NOW)
    assert len(amber.days) == DAYS and amber.days[-1].isoformat() == "2026-03-30"
    by_day = dict(zip(amber.days, amber.matches["critical"], strict=True))
    assert by_day[amber.days[-3]] == 1  # 28 March in Oslo
    assert amber.matches["high"][-1] == 1  # 30 March in Oslo, though still the 29th in UTC
    assert sum(amber.matches["low"]) == 0  # older than 30 days
    assert sum(amber.matches["critical"]) == 1 and sum(red_view.matches["critical"]) == 2
    assert amber.alerts_sent[-1] == 1 and amber.alerts_answered[-1] == 1
    assert amber.sources_failing[-2] == 1 and sum(amber.sources_failing) == 1


def test_column_chart_is_escaped_svg_with_a_title() -> None:
    svg = str(column_chart(["01.03", "02.03"], [("<b>x</b>", "#000", [1, 2])], title="T & <t>"))
    assert svg.startswith("<svg") and "<title>T &amp; &lt;t&gt;</title>" in svg and "<b>" not in svg
    assert column_chart([], [], title="empty") == ""


def test_item_facts_tell_rows_with_one_title_apart() -> None:
    from types import SimpleNamespace

    from dashboards.formatting import item_facts

    vuln = SimpleNamespace(kind="vulnerability", cve="CVE-2021-26857", data={"cves": ["CVE-2021-26857"]},
                           indicator_type=None, report_type=None, title="Exchange RCE", value=None, source_id=3)
    assert item_facts(vuln, {3: "CISA KEV"}, "microsoft:exchange server 2019") == \
        "CVE-2021-26857 · microsoft:exchange server 2019 · CISA KEV"
    ioc = SimpleNamespace(kind="indicator", cve=None, data={}, indicator_type="ipv4", report_type=None,
                          title=None, value="192.0.2.1", source_id=9)
    assert item_facts(ioc, {}) == "IPv4-adresse"
