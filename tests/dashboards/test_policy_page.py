"""Varslingsregler: admins see and edit the alert policy (the leading edge included); others cannot."""

from sqlalchemy import select

from certmon.audit.models import AuditEntry
from certmon.notify.policy import load_policy


def test_admin_sees_and_edits_the_leading_edge(dash):
    token = dash.login("admin@demo.invalid")
    page = dash.client.get("/varslingsregler")
    assert page.status_code == 200 and "Send straks fra alvorlighet" in page.text
    assert '<option value="high" selected>' in page.text
    assert 'name="at_once_known_exploited" value="1" checked' in page.text
    assert 'href="/varslingsregler"' in dash.client.get("/").text
    form = {"csrf_token": token, "at_once_min_severity": "critical", "window_minutes": "15",
            "auto_rules": ["ip-network", "domain"], "min_confidence": "85", "max_tlp": "amber",
            "min_severity": "medium", "digest_time": "7:45", "reminder_after_hours": "24",
            "reminder_min_severity": "high"}  # the exploited box left unticked
    saved = dash.client.post("/varslingsregler", data=form, follow_redirects=True)
    assert saved.status_code == 200 and "Varslingsreglene er lagret" in saved.text
    with dash.session() as session:
        policy = load_policy(session)
        assert (policy.at_once_min_severity, policy.at_once_known_exploited, policy.window_minutes) == (
            "critical", False, 15)
        assert policy.auto_rules == ["domain", "ip-network"] and policy.digest_time == "07:45"
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "alert_policy.update")) is not None
    assert '<option value="critical" selected>' in saved.text

    bad = dash.client.post("/varslingsregler", data={**form, "window_minutes": "0", "at_once_min_severity": "snart"})
    assert bad.status_code == 422 and "Varslingsreglene ble ikke lagret" in bad.text
    assert "Grupperingsvindu (minutter)" in bad.text and "Send straks fra alvorlighet" in bad.text
    with dash.session() as session:
        assert load_policy(session).window_minutes == 15  # unchanged


def test_only_admins_reach_the_policy(dash):
    token = dash.login("analytiker@demo.invalid")
    assert dash.client.get("/varslingsregler").status_code == 403
    assert dash.client.post("/varslingsregler", data={"csrf_token": token}).status_code == 403
    assert 'href="/varslingsregler"' not in dash.client.get("/").text
