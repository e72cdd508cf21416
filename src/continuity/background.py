"""Background work a server process runs: the job-event listener and the image worker;
and the stand-alone worker process (`continuity worker`)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from prometheus_client import start_http_server

from gql.context import AppState
from services.core.config import Settings
from services.core.metrics import Metrics
from services.db.database import Database
from services.images.events import JobEvents
from services.images.providers import provider_from_settings
from services.images.storage import storage_from_settings
from services.images.worker import ImageWorker, JobObserver

log = logging.getLogger("continuity.background")


async def job_events(state: AppState) -> Callable[[], Awaitable[None]]:
    """The process's one LISTEN connection; subscriptions read from it."""
    hub = JobEvents(state.db.url)
    await hub.start()
    state.events = hub
    return hub.stop


def make_worker(
    settings: Settings, db: Database, public_url: str, events: JobEvents | None,
    observer: JobObserver | None = None,
) -> ImageWorker:
    return ImageWorker(
        db,
        provider=provider_from_settings(settings.image_provider),
        storage=storage_from_settings(settings.media_dir, public_url, settings.image_storage),
        lease_seconds=settings.worker_lease_seconds,
        poll_seconds=settings.worker_poll_seconds,
        concurrency=settings.worker_concurrency,
        timeout_seconds=settings.image_timeout_seconds,
        grace_seconds=settings.worker_grace_seconds,
        events=events,
        retry_base_seconds=settings.retry_base_seconds,
        event_retention_days=settings.event_retention_days,
        observer=observer,
    )


async def image_worker(state: AppState) -> Callable[[], Awaitable[None]]:
    """The in-process worker of `continuity serve` (started after job_events: it wakes on them).

    It has connections of its own: a slow queue never holds the requests' pool, and the
    requests' statement counts stay the requests' own."""
    settings = state.settings
    db = Database(state.db.url, pool_size=settings.worker_concurrency + 1, max_overflow=1)
    worker = make_worker(settings, db, state.public_url, state.events, state.metrics)
    await worker.start()

    async def stop() -> None:
        try:
            await worker.stop()
        finally:
            await db.dispose()

    return stop


async def run_worker_forever(settings: Settings, database_url: str, public_url: str) -> int:
    """`continuity worker`: until SIGTERM or SIGINT, then finishes or gives back its jobs."""
    db = Database(database_url, pool_size=settings.worker_concurrency + 2, max_overflow=2)
    hub = JobEvents(database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await hub.start()
    metrics = Metrics()
    metrics.watch_pool(db.engine)
    metrics.hub = hub
    if settings.metrics and settings.metrics_port is not None:
        # The worker's own figures (job durations, its listener), for Prometheus to scrape.
        start_http_server(settings.metrics_port, registry=metrics.registry)
    worker = make_worker(settings, db, public_url, hub, metrics)
    await worker.start()
    print(f"Image worker {worker.owner} ready; images at {public_url}/media/", flush=True)
    try:
        await stop.wait()
    finally:
        log.info("image worker %s: stopping", worker.owner)
        await worker.stop()
        await hub.stop()
        await db.dispose()
    return 0
