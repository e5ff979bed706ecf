"""Push ingest over real HTTP: uvicorn on loopback serving the app, httpx as the sensor. Each role, a
feeder with and without access, oversize, wrong format, unknown and disabled sources; the push goes the
fetch's way (stored, deduplicated, matched, alerted) and is recorded as a run of the source."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from certmon.auth.service import create_user, issue_token
from certmon.config import get_settings
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.notify.models import Delivery, Notification
from certmon.registry.assets import add_asset
from certmon.registry.models import Contact
from certmon.registry.service import find_by_org_number
from certmon.sources.feeders import grant_feeder
from certmon.sources.models import Source, SourceRun
from certmon.sources.schemas import SourceCreate
from certmon.sources.service import create_source
from feeds.collect import run_source
from tests.conftest import FIXTURES, serving
from tests.workers.test_worker_kill import smtp  # noqa: F401 - fixture

BERGEN = "964338531"
LIMIT = 8192


def eve(*dest_ips: str, severity: int = 1) -> bytes:
    """Suricata EVE alert lines: an outside scanner against each internal address."""
    lines = [json.dumps({"timestamp": "2026-03-10T09:26:53.589793+0100", "flow_id": n, "event_type": "alert",
                         "src_ip": "185.220.101.34", "src_port": 43122, "dest_ip": ip, "dest_port": 3389,
                         "proto": "TCP", "alert": {"signature_id": 2023753, "severity": severity,
                                                   "signature": "ET SCAN MS Terminal Server Traffic",
                                                   "category": "Attempted Information Leak"}})
             for n, ip in enumerate(dest_ips)]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class PushServer:
    base: str
    tokens: dict[str, str]
    env: object

    def push(self, source: str, body: bytes, who: str | None = "feeder", **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.post(f"{self.base}/api/v1/sources/{source}/items", content=body, params=params,
                          headers={**headers, "Content-Type": "application/octet-stream"}, timeout=60)


@pytest.fixture
def server(sqlite_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[PushServer]:
    yield from _serve(sqlite_env, monkeypatch)


def _serve(env, monkeypatch: pytest.MonkeyPatch) -> Iterator[PushServer]:

    from certmon.api.app import create_app

    monkeypatch.setenv("CERTMON_PUSH_MAX_BYTES", str(LIMIT))
    get_settings.cache_clear()
    with env.factory.begin() as session:
        bergen = find_by_org_number(session, BERGEN)
        add_asset(session, constituent_id=bergen.id, asset_type="network", value="192.0.2.0/24")
        session.add(Contact(constituent_id=bergen.id, email="sikkerhet@bergen.example", tlp_max="amber"))
        for name, fmt, url, enabled in (("sensor-1", "suricata", "push:", True),
                                        ("partner", "stix", "https://partner.example/bundle.json", True),
                                        ("off", "suricata", "push:", False)):
            create_source(session, SourceCreate(name=name, format=fmt, url=url, enabled=enabled,
                                                default_tlp="amber"))
        users = {"admin": ("admin", None), "analyst": ("analyst", None), "reader": ("reader", None),
                 "constituent": ("constituent", bergen.id), "feeder": ("feeder", None), "other": ("feeder", None)}
        tokens = {}
        for key, (role, org) in users.items():
            user = create_user(session, email=f"{key}@test.invalid", role=role, password=None,
                               constituent_id=org)
            tokens[key] = issue_token(session, user=user)
        session.flush()
        grant_feeder(session, source=session.scalar(select(Source).where(Source.name == "sensor-1")),
                     email="feeder@test.invalid", actor="test")
    with serving(create_app()) as port:
        yield PushServer(f"http://127.0.0.1:{port}", tokens, env)


def _runs(env, source: str) -> list[SourceRun]:
    with env.factory() as session:
        return list(session.scalars(select(SourceRun).join(Source).where(Source.name == source)
                                    .order_by(SourceRun.id)))


def test_a_feeder_pushes_eve_lines_and_they_go_the_fetch_way(server: PushServer) -> None:
    body = eve("192.0.2.10", "192.0.2.11")
    first = server.push("sensor-1", body)
    assert first.status_code == 202, first.text
    got = first.json()
    # per alert an exposure and the scanner's address: four items read, the scanner stored once
    assert got["received"] == 4 and got["new"] == 3
    (run,) = _runs(server.env, "sensor-1")
    assert got["run"] == run.id and run.outcome == "ok" and run.pushed_by == "feeder@test.invalid"
    assert run.items_total == 4 and run.payload_id is not None
    again = server.push("sensor-1", body)  # the same payload again: deduplicated, nothing new
    assert again.status_code == 202 and again.json()["received"] == 4 and again.json()["new"] == 0
    with server.env.factory() as session:
        assert session.scalar(select(func.count(StoredItem.id))) == 3
        matches = session.scalars(select(Match)).all()
        assert len(matches) == 2 and {m.severity for m in matches} == {"high"}
        notification = session.scalars(select(Notification)).one()  # one alert for Bergen, sent at once
        assert notification.mode == "immediate"
        assert session.scalar(select(func.count(Delivery.id))) == 1
        source = session.scalar(select(Source).where(Source.name == "sensor-1"))
        assert source.last_outcome == "ok" and source.last_items == 4
    assert run_source(server.env.factory, source.id).outcome == "refused"  # a push-only source is never fetched


def test_analysts_and_admins_may_push_to_any_source(server: PushServer) -> None:
    stix = (FIXTURES / "stix" / "indicators-for-C2-with-COA.json").read_bytes()
    assert len(stix) <= LIMIT, "fixture outgrew the test's limit"
    for who in ("analyst", "admin"):
        answer = server.push("partner", stix, who=who, filename="c2.json")
        assert answer.status_code == 202, answer.text
        assert answer.json()["received"] >= 1
    assert [r.pushed_by for r in _runs(server.env, "partner")] == ["analyst@test.invalid", "admin@test.invalid"]


@pytest.mark.parametrize(("who", "status", "says"), [
    ("other", 403, "har ikke feeder-tilgang til kilden 'sensor-1'"),
    ("reader", 403, "rollen 'reader' kan ikke sende inn data"),
    ("constituent", 403, "rollen 'constituent' kan ikke sende inn data"),
    (None, 401, "innlogging kreves"),
])
def test_who_may_not_push(server: PushServer, who: str | None, status: int, says: str) -> None:
    answer = server.push("sensor-1", eve("192.0.2.10"), who=who)
    assert answer.status_code == status and says in answer.json()["detail"]
    assert _runs(server.env, "sensor-1") == []


def test_a_revoked_or_unknown_token_is_refused(server: PushServer) -> None:
    answer = httpx.post(f"{server.base}/api/v1/sources/sensor-1/items", content=eve("192.0.2.10"),
                        headers={"Authorization": "Bearer cm_nope"})
    assert answer.status_code == 401 and "API-nøkkel" in answer.json()["detail"]


def test_oversize_wrong_format_unknown_disabled_and_empty(server: PushServer) -> None:
    big = eve(*[f"192.0.2.{n % 250}" for n in range(80)])
    assert len(big) > LIMIT
    too_big = server.push("sensor-1", big)
    assert too_big.status_code == 413 and "CERTMON_PUSH_MAX_BYTES" in too_big.json()["detail"]
    assert _runs(server.env, "sensor-1") == []  # refused before anything was stored

    stix = (FIXTURES / "stix" / "indicators-for-C2-with-COA.json").read_bytes()
    wrong = server.push("sensor-1", stix)  # a STIX bundle to an EVE source
    assert wrong.status_code == 422 and "kunne ikke leses i kildens format" in wrong.json()["detail"]
    (run,) = _runs(server.env, "sensor-1")
    assert run.outcome == "parse-error" and f"kjøring {run.id}" in wrong.json()["detail"]

    unknown = server.push("nowhere", eve("192.0.2.10"))
    assert unknown.status_code == 404 and "fant ingen kilde 'nowhere'" in unknown.json()["detail"]
    off = server.push("off", eve("192.0.2.10"), who="admin")
    assert off.status_code == 409 and "er slått av" in off.json()["detail"]
    empty = server.push("sensor-1", b"  \n")
    assert empty.status_code == 400 and "tom innsending" in empty.json()["detail"]


def test_admins_grant_and_revoke_feeder_access(server: PushServer) -> None:
    h = {"Authorization": f"Bearer {server.tokens['admin']}"}
    base = f"{server.base}/api/v1/sources/sensor-1/feeders"
    assert [f["email"] for f in httpx.get(base, headers=h).json()] == ["feeder@test.invalid"]
    granted = httpx.put(f"{base}/other@test.invalid", headers=h)
    assert granted.status_code == 200 and granted.json()["email"] == "other@test.invalid"
    assert server.push("sensor-1", eve("192.0.2.12"), who="other").status_code == 202
    assert httpx.delete(f"{base}/other@test.invalid", headers=h).status_code == 204
    assert server.push("sensor-1", eve("192.0.2.13"), who="other").status_code == 403
    refused = httpx.put(f"{base}/analyst@test.invalid", headers=h)
    assert refused.status_code == 422 and "bare feeder-kontoer" in refused.json()["detail"]
    analyst = {"Authorization": f"Bearer {server.tokens['analyst']}"}
    assert httpx.put(f"{base}/other@test.invalid", headers=analyst).status_code == 403


@pytest.mark.postgres
def test_a_push_reaches_the_smtp_server_at_once(pg_env, smtp, monkeypatch) -> None:  # noqa: F811
    """PostgreSQL, a real SMTP server: the push's commit starts the delivery in the server (no tick runs)."""
    recorder, port = smtp
    monkeypatch.setenv("CERTMON_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CERTMON_SMTP_PORT", str(port))
    serving = _serve(pg_env, monkeypatch)
    push = next(serving)
    try:
        answer = push.push("sensor-1", eve("192.0.2.10"))
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 60
        while not recorder.message_ids and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(recorder.message_ids) == 1
    finally:
        serving.close()


def test_the_schedule_counts_polls_from_their_start_and_pushes_not_at_all(sqlite_env, file_server) -> None:
    """A source fetched every interval and pushed to in between: the pushes never postpone the next poll,
    and the next poll is due an interval after the last one started (not after it finished)."""
    base, root = file_server
    (root / "eve.json").write_bytes(eve("192.0.2.10"))
    with sqlite_env.factory.begin() as session:
        source_id = create_source(session, SourceCreate(name="both", format="suricata", url=f"{base}/eve.json",
                                                        internal=True)).id
    polled = run_source(sqlite_env.factory, source_id)
    pushed = run_source(sqlite_env.factory, source_id, documents=[feeds_document(eve("192.0.2.11"))],
                        pushed_by="feeder@test.invalid")
    assert polled.outcome == pushed.outcome == "ok"
    with sqlite_env.factory() as session:
        first = session.get(SourceRun, polled.run_id)
        assert session.get(Source, source_id).last_run_at == first.started_at < first.finished_at


def feeds_document(body: bytes):  # noqa: ANN201 - feeds' Document
    from feeds.collect import Document

    return Document(body, "push")
