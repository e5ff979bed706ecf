"""The incident service on SQLite and PostgreSQL: create, change, links and TLP, timeline, clocks, lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from certmon.audit.models import AuditEntry
from certmon.errors import NotFound, ValidationFailed
from certmon.incidents import links, service
from certmon.incidents.models import Incident
from certmon.incidents.schemas import IncidentCreate, IncidentUpdate
from certmon.tlp import TLP

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _create(session, **fields) -> Incident:  # type: ignore[no-untyped-def]
    data = IncidentCreate(**{"title": "Løsepengevirus hos Bergen kommune", "severity": "high", **fields})
    return service.create_incident(session, data=data, actor="analytiker@test.invalid", now=NOW)


def test_create_gives_a_reference_a_timeline_and_an_audit_entry(any_env, world):
    with any_env.factory.begin() as session:
        incident = _create(session, aware_at=NOW - timedelta(hours=2), constituent_ids=[world.bergen_id])
        assert incident.reference == f"HKH-2026-{incident.id:06d}"
        assert incident.status == "open" and incident.tlp == "amber" and incident.reporting_model == "norsk"
        kinds = [e.kind for e in service.timeline(session, incident_id=incident.id)]
        assert kinds == ["status", "link"]
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "incident")).all()
        assert sorted(actions) == ["incident.create", "incident.link"]
    with any_env.factory() as session:
        found = service.find_incident(session, ref=incident.reference.lower(), tlp_max=TLP.RED)
        assert found.id == incident.id and found.aware_at == NOW - timedelta(hours=2)


def test_aware_at_in_the_future_is_refused(any_env, world):
    with any_env.factory() as session, pytest.raises(ValidationFailed, match="fremtiden"):
        _create(session, aware_at=NOW + timedelta(minutes=5))


def test_status_and_severity_changes_are_audited_and_on_the_timeline(any_env, world):
    with any_env.factory.begin() as session:
        incident = _create(session)
        service.update_incident(session, incident=incident, actor="a@test.invalid", now=NOW,
                                data=IncidentUpdate(status="in_progress", severity="critical"))
        service.update_incident(session, incident=incident, actor="a@test.invalid", now=NOW,
                                data=IncidentUpdate(status="closed"))
        assert incident.closed_at == NOW
        texts = [e.text for e in service.timeline(session, incident_id=incident.id) if e.kind == "status"]
        assert "Status endret til under arbeid." in texts and "Alvorlighetsgrad endret til kritisk." in texts
        assert texts[-1] == "Status endret til avsluttet."
        updates = session.scalars(select(AuditEntry).where(AuditEntry.action == "incident.update")).all()
        assert [u.detail for u in updates] == [{"status": "in_progress", "severity": "critical"},
                                               {"status": "closed"}]
        service.update_incident(session, incident=incident, actor="a@test.invalid",
                                data=IncidentUpdate(status="open"))
        assert incident.closed_at is None


def test_linking_raises_tlp_to_the_linked_items_and_it_cannot_be_lowered(any_env, world):
    with any_env.factory.begin() as session:
        incident = _create(session, tlp="green")
        links.link(session, incident=incident, kind="item", target_id=world.items["clear"], actor="a",
                   clearance=TLP.RED)
        assert incident.tlp == "green"
        links.link(session, incident=incident, kind="match", target_id=world.red_match_id, actor="a",
                   clearance=TLP.RED)
        assert incident.tlp == "red" and incident.tlp_rank == int(TLP.RED)
        assert service.tlp_floor(session, incident_id=incident.id) == TLP.RED
        with pytest.raises(ValidationFailed, match="TLP:RED"):
            service.update_incident(session, incident=incident, actor="a", data=IncidentUpdate(tlp="amber"))
        linked = links.linked(session, incident_id=incident.id, clearance=TLP.RED)
        assert [c.id for c in linked.constituents] == [world.bergen_id]  # the match's organisation
        assert len(linked.items) == 1 and len(linked.matches) == 1
        assert not links.link(session, incident=incident, kind="match", target_id=world.red_match_id, actor="a",
                              clearance=TLP.RED)  # already linked
        links.unlink(session, incident=incident, kind="match", target_id=world.red_match_id, actor="a")
        assert service.tlp_floor(session, incident_id=incident.id) == TLP.CLEAR
        service.update_incident(session, incident=incident, actor="a", data=IncidentUpdate(tlp="amber"))
        assert incident.tlp_rank == int(TLP.AMBER)


def test_an_analyst_cannot_link_what_they_may_not_see(any_env, world):
    with any_env.factory() as session:
        incident = _create(session)
        with pytest.raises(NotFound):
            links.link(session, incident=incident, kind="item", target_id=world.items["red"], actor="a",
                       clearance=TLP.AMBER)
        with pytest.raises(NotFound):
            links.link(session, incident=incident, kind="constituent", target_id=10**8, actor="a",
                       clearance=TLP.RED)
        with pytest.raises(NotFound):
            links.unlink(session, incident=incident, kind="item", target_id=world.items["red"], actor="a")


def test_report_sent_meets_a_deadline_and_unknown_keys_are_refused(any_env, world):
    aware = NOW - timedelta(hours=30)
    with any_env.factory.begin() as session:
        incident = _create(session, aware_at=aware, personal_data=True)
        service.add_event(session, incident=incident, kind="report-sent", text="", actor="a", deadline="hod-straks",
                          at=aware + timedelta(minutes=40))
        service.add_event(session, incident=incident, kind="measure", text="Isolerte servere", actor="a", at=NOW)
        with pytest.raises(ValidationFailed, match="nsm-24h"):
            service.add_event(session, incident=incident, kind="report-sent", text="", actor="a",
                              deadline="nis2-24h")
        with pytest.raises(ValidationFailed, match="tom"):
            service.add_event(session, incident=incident, kind="note", text="  ", actor="a")
        found = {d.key: d for d in service.clocks_for(session, [incident])[incident.id]}
        assert found["hod-straks"].met
        assert found["nsm-24h"].state(NOW) == "overdue"
        assert found["datatilsynet-72h"].state(NOW) == "open"
        late = service.active_with_overdue(session, tlp_max=TLP.RED, now=NOW)
        assert [(i.id, [d.key for d in ds]) for i, ds in late] == [(incident.id, ["nsm-24h"])]
        service.update_incident(session, incident=incident, actor="a", data=IncidentUpdate(status="closed"))
        assert service.active_with_overdue(session, tlp_max=TLP.RED, now=NOW) == []


def test_list_filters_paging_and_clearance(any_env, world):
    with any_env.factory.begin() as session:
        first = _create(session, title="Første", severity="low", constituent_ids=[world.oslo_id])
        _create(session, title="Andre", severity="critical", tlp="red")
        third = _create(session, title="Tredje", severity="high", constituent_ids=[world.bergen_id])
        service.update_incident(session, incident=third, actor="a", data=IncidentUpdate(status="closed"))
    with any_env.factory() as session:
        rows, total = service.list_incidents(session, tlp_max=TLP.RED, limit=2)
        assert total == 3 and [r.title for r in rows] == ["Tredje", "Andre"]
        rows, total = service.list_incidents(session, tlp_max=TLP.RED, limit=2, offset=2)
        assert [r.title for r in rows] == ["Første"]
        assert service.list_incidents(session, tlp_max=TLP.AMBER)[1] == 2
        assert [r.title for r in service.list_incidents(session, tlp_max=TLP.RED, status="closed")[0]] == ["Tredje"]
        assert service.list_incidents(session, tlp_max=TLP.RED, status="active")[1] == 2
        assert [r.title for r in service.list_incidents(session, tlp_max=TLP.RED, severity="low")[0]] == ["Første"]
        rows, _n = service.list_incidents(session, tlp_max=TLP.RED, constituent_id=world.oslo_id)
        assert [r.id for r in rows] == [first.id]
        with pytest.raises(NotFound):
            service.find_incident(session, ref="HKH-2026-999999", tlp_max=TLP.RED)


def test_an_incident_cannot_be_marked_above_the_creators_clearance(any_env, world):
    with any_env.factory() as session:
        data = IncidentCreate(title="Hemmelig", tlp="red")
        with pytest.raises(ValidationFailed, match="klarering"):
            service.create_incident(session, data=data, actor="a", clearance=TLP.AMBER)
        incident = service.create_incident(session, data=IncidentCreate(title="Åpen", tlp="amber"), actor="a",
                                           clearance=TLP.AMBER)
        with pytest.raises(ValidationFailed, match="klarering"):
            service.update_incident(session, incident=incident, actor="a", data=IncidentUpdate(tlp="red"),
                                    clearance=TLP.AMBER)
