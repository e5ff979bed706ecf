"""Benchmark: every municipality (357) with three digest contacts gets its daily digest.

Prints the time to build and deliver all digests to a local aiosmtpd server, e-mails per second,
and — in the same run, on the same data — the time for rendering alone (plan + MIME build, no
SMTP), with the ratio between them. Run: `.venv/bin/python bench/bench_digest.py`.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from certmon.config import Settings
from certmon.db import make_engine
from certmon.dbops import upgrade
from certmon.items.models import StoredItem
from certmon.matching.models import Match
from certmon.notify.compose import build_message
from certmon.notify.content import plan_delivery
from certmon.notify.deliver import deliver_due
from certmon.notify.models import Delivery
from certmon.notify.outbox import queue_alerts
from certmon.registry.models import Constituent, Contact
from certmon.registry.seed import seed_registry
from certmon.sources.models import Source

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


class Counting:
    """An SMTP handler that only counts accepted messages."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        return "250 2.0.0 OK"


def _populate(factory: sessionmaker) -> int:  # type: ignore[type-arg]
    with factory() as s:
        seed_registry(s)
        src = Source(name="bench", title="Shadowserver", format="shadowserver", url="https://x.invalid/")
        s.add(src)
        s.flush()
        kommuner = s.scalars(select(Constituent).where(Constituent.kind == "kommune")).all()
        match_ids = []
        for n, c in enumerate(kommuner):
            for k in range(3):
                s.add(
                    Contact(
                        constituent_id=c.id,
                        email=f"k{k}@{c.id}.kommune.invalid",
                        language=("nb", "nn", "en")[k],
                        tlp_max="amber",
                        mode="digest",
                    )
                )
            for j in range(2):
                ip = f"10.{n // 250}.{n % 250}.{j + 1}"
                item = StoredItem(
                    source_id=src.id,
                    kind="exposure",
                    key=f"e{n}-{j}",
                    tlp="amber",
                    ip=ip,
                    port=3389,
                    report_type="accessible-rdp",
                    content_hash=f"{n:016d}{j:016d}",
                    data={},
                )
                s.add(item)
                s.flush()
                m = Match(
                    item_id=item.id,
                    constituent_id=c.id,
                    rule="ip-network",
                    asset=f"{ip}/32",
                    confidence=95,
                    explanation=f"Adressen {ip} ligger i nettet til {c.name}.",
                    severity="high",
                )
                s.add(m)
                s.flush()
                match_ids.append(m.id)
        queue_alerts(s, match_ids=match_ids, now=NOW)
        s.commit()
        return len(kommuner)


def main() -> None:
    """Run the benchmark and print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        upgrade(engine)
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        municipalities = _populate(factory)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        handler = Counting()
        ctl = Controller(handler, hostname="127.0.0.1", port=port)
        ctl.start()
        settings = Settings(
            data_dir=Path(tmp) / "data",
            secret_key=SecretStr("bench-" + "b" * 40),
            smtp_host="127.0.0.1",
            smtp_port=port,
            mail_rate_per_domain=10_000,
        )
        try:
            with factory() as s:
                deliveries = s.scalars(select(Delivery).order_by(Delivery.id)).all()
                t0 = time.perf_counter()
                for d in deliveries:
                    d.message_id = d.message_id or "<bench@x>"
                    planned = plan_delivery(s, d, settings)
                    assert planned.content is not None
                    build_message(
                        planned.content,
                        to=d.email,
                        mail_from=settings.mail_from,
                        message_id=d.message_id,
                        date=NOW,
                    ).as_bytes()
                render_s = time.perf_counter() - t0
                s.rollback()
            slot = NOW + timedelta(days=1)
            t0 = time.perf_counter()
            sent = 0
            while True:
                report = deliver_due(factory, now=slot, limit=500, settings=settings)
                sent += len(report.sent)
                if not report.sent:
                    break
            total_s = time.perf_counter() - t0
        finally:
            ctl.stop()
            engine.dispose()
    print(f"municipalities: {municipalities}, digests delivered: {sent}, received by SMTP: {handler.count}")
    print(f"render only:      {render_s:7.2f} s  {len(deliveries) / render_s:8.1f} e-mails/s")
    print(f"build + deliver:  {total_s:7.2f} s  {sent / total_s:8.1f} e-mails/s")
    print(f"ratio deliver/render: {total_s / render_s:.2f}x")


if __name__ == "__main__":
    main()
