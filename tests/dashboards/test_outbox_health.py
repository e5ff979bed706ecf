"""The outbox's health where analysts look (Utsendte varsler) and where Prometheus looks (/metrics), on the
embedded SQLite demo: how many due e-mails wait and how long the oldest has waited."""

import re
from datetime import timedelta

from sqlalchemy import select, update

from certmon.db import utcnow
from certmon.notify.models import Delivery, Notification

READER = "leser@demo.invalid"


def test_outbox_waiting_shows_on_the_page_and_in_metrics(dash):
    dash.login(READER)
    with dash.session() as s, s.begin():
        s.execute(update(Delivery).values(status="sent"))
    assert "Utboksen: ingenting venter på å bli sendt." in _page(dash)
    with dash.session() as s, s.begin():
        n = s.scalar(select(Notification).join(Delivery, Delivery.notification_id == Notification.id)
                     .order_by(Notification.id).limit(1))
        n.status, n.not_before = "queued", utcnow() - timedelta(minutes=7)
        s.execute(update(Delivery).where(Delivery.notification_id == n.id)
                  .values(status="queued", attempts=1, last_error="SMTP-tjeneren kan ikke nås"))
        waiting = len(s.scalars(select(Delivery.id).where(Delivery.notification_id == n.id)).all())
    page = _page(dash)
    assert f"Utboksen: {waiting} e-poster skulle vært sendt" in page and "har ventet 7 min" in page
    assert f"{waiting} av dem venter på et nytt forsøk" in page
    metrics = dash.client.get("/metrics").text  # open on the embedded set-up
    assert f"certmon_outbox_waiting {float(waiting)}" in metrics
    age = float(re.search(r"^certmon_outbox_oldest_age_seconds (\S+)$", metrics, re.M).group(1))
    assert 7 * 60 <= age < 30 * 60
    assert 'certmon_queue_depth{queue="delivery"} 0.0' in metrics  # the embedded broker's files


def _page(dash) -> str:
    return dash.client.get("/utsendte-varsler").text
