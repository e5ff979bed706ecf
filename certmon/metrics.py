"""Prometheus metrics computed from the database at scrape time, so they cover every worker host."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from certmon import plugins
from certmon.db import session_scope
from certmon.notify.health import outbox_health
from certmon.sources.models import Source, SourceRun


class DatabaseCollector(Collector):
    """Per-source collection counters and health gauges, read from `sources` and `source_runs`."""

    def collect(self) -> Iterator[Metric]:
        items = CounterMetricFamily("certmon_items_collected", "Items parsed from a source, all runs",
                                    labels=["source"])
        runs = CounterMetricFamily("certmon_collect_runs", "Collection runs by outcome",
                                   labels=["source", "outcome"])
        failures = CounterMetricFamily("certmon_collect_failures", "Failed collection runs",
                                       labels=["source"])
        duration = CounterMetricFamily("certmon_task_duration_seconds", "Summed collection task time",
                                       labels=["task", "source"])
        healthy = GaugeMetricFamily("certmon_source_healthy", "1 if the last run succeeded",
                                    labels=["source"])
        consecutive = GaugeMetricFamily("certmon_source_consecutive_failures",
                                        "Failures since the last success", labels=["source"])
        last_ok = GaugeMetricFamily("certmon_source_last_success_timestamp_seconds",
                                    "Unix time of the last successful run", labels=["source"])
        ok_outcomes = ("ok", "not-modified")
        with session_scope() as session:
            stmt = (select(Source.name, SourceRun.outcome, func.count(), func.sum(SourceRun.items_total),
                           func.sum(SourceRun.duration_ms))
                    .join(SourceRun, SourceRun.source_id == Source.id)
                    .group_by(Source.name, SourceRun.outcome))
            per_source: dict[str, list[float]] = {}
            for name, outcome, count, total_items, total_ms in session.execute(stmt):
                runs.add_metric([name, outcome], count)
                acc = per_source.setdefault(name, [0, 0, 0])
                acc[0] += total_items or 0
                acc[1] += (total_ms or 0) / 1000
                acc[2] += 0 if outcome in (*ok_outcomes, "running") else count
            for name, (n_items, seconds, failed) in per_source.items():
                items.add_metric([name], n_items)
                duration.add_metric(["feeds.collect_source", name], seconds)
                failures.add_metric([name], failed)
            for name, fails, last in session.execute(
                    select(Source.name, Source.consecutive_failures, Source.last_success_at)):
                healthy.add_metric([name], 1 if fails == 0 else 0)
                consecutive.add_metric([name], fails)
                if last is not None:
                    last_ok.add_metric([name], last.timestamp())
        yield from (items, runs, failures, duration, healthy, consecutive, last_ok)


class OutboxCollector(Collector):
    """The outbox: due alerts not yet sent, those retrying, and how long the oldest has waited."""

    def collect(self) -> Iterator[Metric]:
        with session_scope() as session:
            health = outbox_health(session)
        yield GaugeMetricFamily("certmon_outbox_waiting", "Due deliveries not yet sent (queued or sending)",
                                value=health.waiting)
        yield GaugeMetricFamily("certmon_outbox_retrying", "Due deliveries waiting after a failed attempt",
                                value=health.retrying)
        yield GaugeMetricFamily("certmon_outbox_oldest_age_seconds",
                                "Seconds the oldest due, undelivered alert has waited (0 when none waits)",
                                value=health.oldest_age_s)


class QueueCollector(Collector):
    """Messages waiting on each Celery queue (Redis LLEN, or the embedded broker's files), asked of the
    workers part; `certmon_broker_up` 0 when the broker did not answer the scrape."""

    def collect(self) -> Iterator[Metric]:
        workers = plugins.optional("workers")
        if workers is None:
            return
        depths = workers.queue_depths()
        yield GaugeMetricFamily("certmon_broker_up", "1 if the broker answered this scrape",
                                value=0 if depths is None else 1)
        if depths is None:
            return
        gauge = GaugeMetricFamily("certmon_queue_depth", "Messages waiting on a Celery queue", labels=["queue"])
        for queue, depth in sorted(depths.items()):
            gauge.add_metric([queue], depth)
        yield gauge
