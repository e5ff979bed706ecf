"""Report figures on SQLite and PostgreSQL: counts, groupings, times, trends and the TLP ceiling."""

from __future__ import annotations

import pytest

from certmon.reports.figures import Figures, compute_figures
from certmon.reports.periods import parse_period
from certmon.tlp import TLP
from tests.conftest import CertmonEnv
from tests.reports.conftest import AMBER_KEV, PERIOD, plant


def _figures(env: CertmonEnv, ceiling: TLP) -> Figures:
    with env.factory.begin() as session:
        plant(session)
    with env.session() as session:
        return compute_figures(session, period=parse_period(PERIOD), ceiling=ceiling)


def _bars(bars: list) -> dict[str, int]:
    return {b.label: b.value for b in bars}


def test_amber_report_counts_up_to_amber_and_never_red_or_strict(any_env: CertmonEnv):
    f = _figures(any_env, TLP.AMBER)
    assert (f.advisories.current, f.advisories.previous) == (4, 1)  # clear, clear, green, amber
    assert f.kev_added.current == 3 and f.kev_matched.current == 2
    assert (f.matches.current, f.matches.previous) == (4, 1)
    assert f.constituents.current == 4
    assert _bars(f.matches_by_rule) == {"product": 3, "name": 1}
    assert _bars(f.matches_by_severity) == {"critical": 2, "high": 2}
    assert _bars(f.by_kind) == {"kommune": 3, "hf": 1}
    assert _bars(f.by_county) == {"Vestland": 1, "Oslo": 1, "Troms": 1}
    assert _bars(f.by_health_region) == {"Vest": 1}
    assert {h.cve: h.constituents for h in f.kev_hits} == {"CVE-2026-0001": 2, AMBER_KEV: 1}
    assert f.tlp == "amber" and f.ceiling == "amber"


def test_alert_times_failures_and_answers(any_env: CertmonEnv):
    f = _figures(any_env, TLP.AMBER)
    assert f.alerts_sent.current == 1  # the TLP:RED hand-sent alert is not counted
    assert f.delivery_failures.current == 1
    assert f.median_alert_minutes == 60.0
    assert (f.acknowledged, f.median_ack_minutes) == (1, 120.0)
    assert (f.fixed, f.median_fix_minutes) == (1, 1440.0)
    assert f.matches.change == 3


def test_green_ceiling_drops_amber_items_and_lowers_the_label(sqlite_env: CertmonEnv):
    f = _figures(sqlite_env, TLP.GREEN)
    assert f.advisories.current == 3
    assert f.kev_added.current == 2 and f.kev_matched.current == 1
    assert f.matches.current == 2 and _bars(f.by_kind) == {"kommune": 2}
    assert [h.cve for h in f.kev_hits] == ["CVE-2026-0001"]
    assert f.tlp == "green"


def test_red_ceiling_is_capped_below_red(sqlite_env: CertmonEnv):
    f = _figures(sqlite_env, TLP.RED)
    assert f.ceiling == "amber+strict"
    assert f.advisories.current == 5  # the AMBER+STRICT one now, the RED one never
    assert f.alerts_sent.current == 1
    assert f.tlp == "amber+strict"


@pytest.mark.parametrize("period", ["2026-W46", "2026-W48"])
def test_empty_periods_give_zero_and_clear(sqlite_env: CertmonEnv, period: str):
    with sqlite_env.factory.begin() as session:
        plant(session)
    with sqlite_env.session() as session:
        f = compute_figures(session, period=parse_period(period), ceiling=TLP.AMBER)
    assert f.matches.current == (1 if period == "2026-W46" else 0)
    assert f.median_alert_minutes is None and f.kev_hits == []
    assert f.to_dict()["start"].startswith("2026-11-")
