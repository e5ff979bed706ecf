"""What matters first: the triage queue and the organisation page sort by severity, then known
exploitation, then time; the sort is kept in the URL and can be changed."""

from __future__ import annotations

import re

from sqlalchemy import select

from certmon.db import session_factory
from certmon.matching.models import Match

ANALYST = "analytiker@demo.invalid"
RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1}


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="match" id="treff-(\d+)"', html)]


def _severities(ids: list[int]) -> list[str]:
    with session_factory()() as s:
        by_id = {m.id: m.severity for m in s.scalars(select(Match).where(Match.id.in_(ids)))}
    return [by_id[i] for i in ids]


def test_queue_is_severity_first_and_sort_stays_in_the_url(dash) -> None:
    dash.login(ANALYST)
    page = dash.client.get("/treff?status=all")
    ids = _ids(page.text)
    assert len(ids) >= 5
    ranks = [RANK.get(s, 0) for s in _severities(ids)]
    assert ranks == sorted(ranks, reverse=True), ranks  # the default: most severe first
    assert 'value="severity" selected' in page.text
    newest = dash.client.get("/treff?status=all&sort=time")
    assert 'value="time" selected' in newest.text
    time_ids = _ids(newest.text)
    assert time_ids == sorted(time_ids, key=lambda i: -i) or set(time_ids) == set(ids)
    pager_links = re.findall(r'href="(/treff\?[^"]*offset=[^"]*)"', newest.text)
    assert all("sort=time" in link for link in pager_links)
    assert dash.client.get("/treff?sort=nonsense").status_code == 200  # an unknown sort falls back


def test_overview_and_organisation_page_lead_with_the_most_severe(dash) -> None:
    dash.login(ANALYST)
    with session_factory()() as s:
        org = s.scalar(select(Match.constituent_id).group_by(Match.constituent_id)
                       .order_by(Match.constituent_id).limit(1))
    ids = _ids(dash.client.get(f"/virksomheter/{org}").text)
    ranks = [RANK.get(s, 0) for s in _severities(ids)]
    assert ranks == sorted(ranks, reverse=True)


def test_api_sorts_on_request_and_keeps_time_order_by_default(dash) -> None:
    dash.login(ANALYST)
    by_time = dash.client.get("/api/v1/matches?limit=200").json()["items"]
    assert [m["created_at"] for m in by_time] == sorted((m["created_at"] for m in by_time), reverse=True)
    by_severity = dash.client.get("/api/v1/matches?limit=200&sort=severity").json()["items"]
    ranks = [RANK.get(m["severity"], 0) for m in by_severity]
    assert ranks == sorted(ranks, reverse=True)
    assert dash.client.get("/api/v1/matches?sort=nonsense").status_code == 422


def test_vulnerabilities_sort_by_cvss_cve_and_due_date(dash) -> None:
    dash.login(ANALYST)
    page = dash.client.get("/sarbarheter?sort=cvss")
    assert page.status_code == 200 and 'aria-sort="descending"' in page.text
    assert "KEV-frist" in page.text and "Publisert / lagt i KEV" in page.text
    scores = [float(x.replace(",", ".")) for x in re.findall(r"<td>(\d+(?:,\d)?)</td>", page.text)]
    assert scores == sorted(scores, reverse=True)
    due = dash.client.get("/sarbarheter?sort=due&kev=1")
    dates = re.findall(r'<td class="nowrap">(\d\d\.\d\d\.\d{4})</td>\s*<td class="nowrap">(\d\d\.\d\d\.\d{4}|–)</td>',
                       due.text)
    deadlines = [d for _, d in dates if d != "–"]
    assert deadlines == sorted(deadlines, key=lambda d: d[6:] + d[3:5] + d[:2])
    assert 'name="sort" value="due"' in due.text  # the filter form keeps the sort
    for sort in ("cve", "published", "bogus"):
        assert dash.client.get(f"/sarbarheter?sort={sort}").status_code == 200
