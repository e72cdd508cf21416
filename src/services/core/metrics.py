"""Prometheus metrics of one process (docs/operations.md, Metrics).

Each app gets its own registry, so several apps in one process (tests) never share series.
Counters and histograms are updated where things happen; the pool, the websocket and the
listener figures are read when scraped; the job queue is read from the database by the
`/metrics` endpoint just before it renders.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_OPERATION_NAMES = 100
OTHER = "other"
ANONYMOUS = "anonymous"
_NAMED = re.compile(r"^\s*(?:#[^\n]*\n\s*)*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")

_QUEUE = text(
    """
    select s.status, count(j.id) as jobs
      from (values ('queued'), ('processing')) s(status)
      left join image_generation_jobs j on j.status = s.status
     group by s.status
    """
)
_WAITING = text(
    "select count(*) from image_generation_jobs where status = 'queued' and next_attempt_at > clock_timestamp()"
)


def operation_name(given: str | None, document: str | None) -> str:
    """The request's operationName, else the name of the document's first operation."""
    if given:
        return given
    match = _NAMED.match(document or "")
    return match.group(1) if match else ANONYMOUS


class _Live(Collector):
    """Figures read at scrape time from the objects that keep them."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Any]:
        m = self.metrics
        in_use = GaugeMetricFamily("continuity_db_pool_in_use", "Pooled database connections checked out now.")
        size = GaugeMetricFamily(
            "continuity_db_pool_size", "Connections the pool may hold (pool size plus overflow)."
        )
        if m.pool is not None:
            checked_out, capacity = m.pool()
            in_use.add_metric([], checked_out)
            size.add_metric([], capacity)
        yield in_use
        yield size
        reconnects = CounterMetricFamily(
            "continuity_listener_reconnects", "Times the job-event listener connected again after losing it."
        )
        delivered = CounterMetricFamily(
            "continuity_job_events_read", "Stored job events the listener read and handed to subscribers."
        )
        hub = m.hub
        reconnects.add_metric([], getattr(hub, "reconnects", 0))
        delivered.add_metric([], getattr(hub, "delivered", 0))
        yield reconnects
        yield delivered
        queue = GaugeMetricFamily("continuity_image_jobs", "Image jobs in the queue by status (read at scrape).",
                                  labels=["status"])
        for status, count in sorted(m.queue.items()):
            queue.add_metric([status], count)
        yield queue
        waiting = GaugeMetricFamily(
            "continuity_image_jobs_waiting_retry", "Queued jobs whose next attempt is not due yet (read at scrape)."
        )
        waiting.add_metric([], m.waiting_retry)
        yield waiting


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "continuity_requests", "GraphQL requests over HTTP by operation and outcome (ok or the first error code).",
            ["operation", "outcome"], registry=r,
        )
        self.duration = Histogram(
            "continuity_request_duration_seconds", "Time to answer a GraphQL request over HTTP.", registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.statements = Histogram(
            "continuity_request_sql_statements", "SQL statements one GraphQL request sent.", registry=r,
            buckets=(0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144),
        )
        self.paths = Counter(
            "continuity_requests_by_path",
            "GraphQL requests answered by the query planner (planned) or by resolvers and loaders only (loaders).",
            ["path"], registry=r,
        )
        self.websockets = Gauge("continuity_websocket_connections", "Open websocket connections.", registry=r)
        self.subscriptions = Gauge("continuity_subscriptions", "Operations running on websockets now.", registry=r)
        self.jobs = Histogram(
            "continuity_image_job_duration_seconds",
            "Attempts of image jobs by the workers of this process, by job type and outcome.",
            ["job_type", "outcome"], registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self._names: set[str] = set()
        self._lock = threading.Lock()
        self.pool: Callable[[], tuple[int, int]] | None = None
        self.hub: Any = None
        self.queue: dict[str, int] = {}
        self.waiting_retry = 0
        r.register(_Live(self))

    def _label(self, name: str) -> str:
        with self._lock:
            if name in self._names:
                return name
            if len(self._names) < MAX_OPERATION_NAMES:
                self._names.add(name)
                return name
        return OTHER

    def request_finished(self, operation: str, outcome: str, seconds: float, statements: int, planned: bool) -> None:
        self.requests.labels(self._label(operation), outcome).inc()
        self.duration.observe(seconds)
        self.statements.observe(statements)
        self.paths.labels("planned" if planned else "loaders").inc()

    def job_finished(self, job_type: str, outcome: str, seconds: float) -> None:
        self.jobs.labels(job_type, outcome).observe(seconds)

    def watch_pool(self, engine: Any) -> None:
        pool = engine.sync_engine.pool

        def read() -> tuple[int, int]:
            return int(pool.checkedout()), int(pool.size()) + int(getattr(pool, "_max_overflow", 0))

        self.pool = read

    async def read_queue(self, db: Any) -> None:
        async with db.transaction(None) as conn:
            self.queue = {row.status: int(row.jobs) for row in (await conn.execute(_QUEUE))}
            self.waiting_retry = int((await conn.execute(_WAITING)).scalar_one())

    def render(self) -> bytes:
        return generate_latest(self.registry)
