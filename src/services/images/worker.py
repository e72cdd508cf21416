"""The image worker: claims queued jobs, renders them with a provider, stores the image,
completes the job. Runs inside `continuity serve` and as `continuity worker`; any number of
workers may share one database.

It wakes on the event of a queued job (when it has a JobEvents hub), when the earliest job
waiting for its backoff becomes due, and at least every poll interval, which is also how it
finds jobs whose worker died (expired leases). While it renders, it keeps extending its lease;
when it stops on request it gives its unfinished jobs back. It also deletes job events past
their retention period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from typing import Any, Protocol

from services.db.database import Database
from services.images import jobs
from services.images.event_stream import purge_expired_events
from services.images.events import JobEvents
from services.images.providers import ImageProvider, ImageRequest
from services.images.storage import ImageStorage

log = logging.getLogger("continuity.worker")

PURGE_EVERY_SECONDS = 600.0


class AttemptCancelled(Exception):
    """The provider was stopped because the job is being cancelled."""


class JobObserver(Protocol):
    def job_finished(self, job_type: str, outcome: str, seconds: float) -> None: ...


class ImageWorker:
    def __init__(
        self,
        db: Database,
        *,
        provider: ImageProvider,
        storage: ImageStorage,
        lease_seconds: float,
        poll_seconds: float,
        concurrency: int = 1,
        timeout_seconds: float | None = None,
        grace_seconds: float = 10.0,
        events: JobEvents | None = None,
        retry_base_seconds: float = 5.0,
        event_retention_days: float = 7.0,
        observer: JobObserver | None = None,
    ) -> None:
        self.db = db
        self.provider = provider
        self.storage = storage
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.concurrency = max(1, concurrency)
        self.timeout_seconds = timeout_seconds
        self.grace_seconds = grace_seconds
        self.events = events
        self.retry_base_seconds = retry_base_seconds
        self.event_retention_days = event_retention_days
        self.observer = observer
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: asyncio.Task[None] | None = None
        self._next_reap = 0.0
        self._next_purge = 0.0

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._claim_forever(), name=f"image-worker-{n}") for n in range(self.concurrency)
        ]
        if self.events is not None:
            self._listener = asyncio.create_task(self._listen(self.events), name="image-worker-wake")
        log.info("image worker %s: %d at a time, lease %ss", self.owner, self.concurrency, self.lease_seconds)

    async def stop(self) -> None:
        """Finishes what is in hand (up to the grace period), then gives the rest back."""
        self._stopping = True
        self._wake.set()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=self.grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _listen(self, events: JobEvents) -> None:
        with events.subscribe(lambda e: e.status == "queued") as feed:
            while True:
                await feed.get()
                feed.drain()
                self._wake.set()

    async def _claim_forever(self) -> None:
        while not self._stopping:
            try:
                if time.monotonic() >= self._next_reap:
                    self._next_reap = time.monotonic() + self.poll_seconds
                    for reaped in await jobs.reap_expired_leases(self.db, self.retry_base_seconds):
                        log.warning("job %s: its worker's lease expired; now %s", reaped["id"], reaped["status"])
                if time.monotonic() >= self._next_purge:
                    self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
                    purged = await purge_expired_events(self.db, self.event_retention_days)
                    if purged:
                        log.info("deleted %d job events past their retention", purged)
                self._wake.clear()
                job = await jobs.claim_job(self.db, self.owner, self.lease_seconds)
                wait = self.poll_seconds
                if job is None:
                    due = await jobs.seconds_until_due(self.db)
                    if due is not None:
                        # Never a busy loop: a due job another worker is claiming right now.
                        wait = min(wait, max(due, 0.05))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("image worker: claiming failed; retrying")
                await asyncio.sleep(self.poll_seconds)
                continue
            if job is None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                continue
            await self._process(job)

    async def _process(self, job: Any) -> None:
        job_id = job["id"]
        started = time.monotonic()
        outcome = "released"
        generation: asyncio.Future[bytes] | None = None
        heartbeat: asyncio.Task[None] | None = None
        try:
            request = ImageRequest(
                job_id=job_id,
                job_type=job["job_type"],
                prompt=job["prompt"],
                width=job["width"],
                height=job["height"],
                title=job["asset_name"] or job["job_type"].replace("_", " "),
                visual_style_capsule_id=job["visual_style_capsule_id"],
                reference_images=list(job["reference_images"] or ()),
                attempt=job["attempts"],
            )
            generation = asyncio.ensure_future(self.provider.generate(request))
            heartbeat = asyncio.create_task(self._keep_lease(job_id, generation))
            try:
                async with asyncio.timeout(self.timeout_seconds):
                    data = await generation
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the worker is stopping
                raise AttemptCancelled("cancelled while rendering") from None
            path = job["storage_path"] or jobs.default_storage_path(job)
            # A job cancelled meanwhile keeps no image: nothing is stored for it.
            url = "" if await jobs.cancelling(self.db, job_id, self.owner) else (
                await self.storage.save(path, data, "image/png"))
            done = await jobs.complete_job(self.db, job_id, self.owner, path, url)
            if done is None:
                outcome = "lost"
                log.warning("job %s: finished after losing its lease; the result is dropped", job_id)
            else:
                outcome = str(done["status"])
                log.info("job %s: %s (%s)", job_id, done["status"], done["image_url"])
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await jobs.release_job(self.db, job_id, self.owner)
            raise
        except Exception as error:
            message = jobs.error_text(error if not isinstance(error, TimeoutError) else TimeoutError(
                f"the provider took longer than {self.timeout_seconds}s"
            ))
            log.warning("job %s: attempt %s failed: %s", job_id, job["attempts"], message)
            outcome = "error"
            try:
                failed = await jobs.fail_attempt(self.db, job_id, self.owner, message, self.retry_base_seconds)
                if failed is not None and failed["status"] == "cancelled":
                    outcome = "cancelled"
            except Exception:
                log.exception("job %s: recording the failure failed; its lease will expire", job_id)
        finally:
            if self.observer is not None:
                self.observer.job_finished(job["job_type"], outcome, time.monotonic() - started)
            if generation is not None and not generation.done():
                generation.cancel()
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat

    async def _keep_lease(self, job_id: Any, generation: asyncio.Future[bytes]) -> None:
        """Extends the lease while the provider works, and stops the provider when a cancel
        was asked for (the attempt then ends at once, CANCELLED). It looks at least every
        poll interval, so a cancel takes effect about that soon."""
        interval = min(self.lease_seconds / 3, max(self.poll_seconds, 0.1))
        while True:
            await asyncio.sleep(interval)
            try:
                held = await jobs.extend_lease(self.db, job_id, self.owner, self.lease_seconds)
            except Exception as error:
                log.warning("job %s: extending the lease failed (%s)", job_id, error)
                continue
            if held is None:
                log.warning("job %s: the lease is no longer ours", job_id)
                return
            if held:
                log.info("job %s: cancelled while rendering; stopping the provider", job_id)
                generation.cancel()
                return
