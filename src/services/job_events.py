"""Image-job announcements: one LISTEN connection per process, fanned out to subscribers.

The database announces every job insert and status change on one channel (a trigger,
delivered at commit), whichever process made it. A `JobEvents` hub holds the process's
single listening connection and hands each announcement to the feeds whose filter
matches, each with its own queue. When the connection drops, the hub reconnects and
gives every feed a `Gap`: what changed since the last moment the hub knew it was
listening must be read again, because announcements are not stored anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger("continuity.job_events")

CHANNEL = "continuity_image_jobs"
APPLICATION_NAME = "continuity-job-events"

_UUID_COLUMNS = (
    "id", "project_id", "branch_id", "scene_id", "shot_id", "project_asset_id", "scene_asset_instance_id",
)
_TIME_COLUMNS = ("created_at", "updated_at", "started_at", "completed_at", "lease_expires_at")


@dataclass(frozen=True)
class JobEvent:
    """One announced change. `state` is the job's row at that change without its prompt and
    reference images (they never change after the job is made); None when the payload was
    too large to carry it, and the row must be read."""

    job_id: uuid.UUID
    project_id: uuid.UUID
    status: str
    state: dict[str, Any] | None

    @property
    def updated_at(self) -> datetime | None:
        return None if self.state is None else self.state.get("updated_at")


@dataclass(frozen=True)
class Gap:
    """Announcements since `since` (database time; None: since the feed was opened) may have
    been missed: read again what changed since then."""

    since: datetime | None


FeedItem = JobEvent | Gap


def _column(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _UUID_COLUMNS:
        return uuid.UUID(value)
    if name in _TIME_COLUMNS:
        return datetime.fromisoformat(value)
    return value


def parse_announcement(payload: str) -> JobEvent | None:
    try:
        raw = json.loads(payload)
        state = {name: _column(name, value) for name, value in raw.items()}
        full = "updated_at" in state
        return JobEvent(
            job_id=state["id"], project_id=state["project_id"], status=state["status"], state=state if full else None
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("ignored a malformed job announcement: %.200s", payload)
        return None


class JobFeed:
    """One subscriber's queue. A subscriber that falls too far behind loses the backlog and
    gets a `Gap` instead, so it re-reads rather than blocking everyone else."""

    def __init__(self, match: Callable[[JobEvent], bool], maxsize: int) -> None:
        self.match = match
        self.opened_at = datetime.now(UTC)
        self._queue: asyncio.Queue[FeedItem] = asyncio.Queue(maxsize=maxsize)

    def offer(self, item: FeedItem, alive_at: datetime | None) -> None:
        try:
            self._queue.put_nowait(item)
            return
        except asyncio.QueueFull:
            pass
        backlog: list[FeedItem] = []
        while not self._queue.empty():
            backlog.append(self._queue.get_nowait())
        backlog.append(item)
        times = [t for t in (_since(i) for i in backlog) if t is not None]
        since = min(times) if times else alive_at
        self._queue.put_nowait(Gap(since))

    async def get(self) -> FeedItem:
        return await self._queue.get()

    def drain(self) -> list[FeedItem]:
        """What is queued now, without waiting."""
        items: list[FeedItem] = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items


def _since(item: FeedItem) -> datetime | None:
    return item.since if isinstance(item, Gap) else item.updated_at


def asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class JobEvents:
    """The process's hub. `start()` waits (briefly) for the first connection; after that the
    hub keeps reconnecting in the background until `stop()`."""

    def __init__(
        self,
        database_url: str,
        *,
        keepalive_seconds: float = 5.0,
        feed_size: int = 1000,
    ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._keepalive = keepalive_seconds
        self._feed_size = feed_size
        self._feeds: set[JobFeed] = set()
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._alive_at: datetime | None = None
        self._backend_pid: int | None = None
        self._ever_connected = False

    @property
    def subscribers(self) -> int:
        return len(self._feeds)

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend of the listening connection (None while disconnected)."""
        return self._backend_pid

    async def start(self, wait_seconds: float = 10.0) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="continuity-job-events")
        try:
            await asyncio.wait_for(self._connected.wait(), wait_seconds)
        except TimeoutError:
            log.warning("job events: no listening connection yet; still trying")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_connected(self) -> None:
        await self._connected.wait()

    @contextlib.contextmanager
    def subscribe(self, match: Callable[[JobEvent], bool]) -> Iterator[JobFeed]:
        """A feed of the announcements `match` accepts, from this moment until the block ends."""
        feed = JobFeed(match, self._feed_size)
        self._feeds.add(feed)
        try:
            yield feed
        finally:
            self._feeds.discard(feed)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        event = parse_announcement(payload)
        if event is None:
            return
        for feed in list(self._feeds):
            try:
                if feed.match(event):
                    feed.offer(event, self._alive_at)
            except Exception:
                log.exception("job events: a subscriber's filter failed")

    def _gap(self, since: datetime | None) -> None:
        for feed in list(self._feeds):
            feed.offer(Gap(since), self._alive_at)

    async def _listen_forever(self) -> None:
        delay = 0.1
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._dsn, timeout=10, server_settings={"application_name": APPLICATION_NAME}
                )
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                previous = self._alive_at
                self._alive_at = await conn.fetchval("select clock_timestamp()")
                self._backend_pid = conn.get_server_pid()
                if self._ever_connected:
                    log.info("job events: listening again; subscribers re-read since %s", previous)
                    self._gap(previous)
                elif self._feeds:
                    # Subscribed before the first connection: they re-read from when they opened.
                    self._gap(None)
                self._ever_connected = True
                self._connected.set()
                delay = 0.1
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self._keepalive)
                    if not lost.is_set():
                        # Also finds a connection that died silently (no FIN from a lost host).
                        self._alive_at = await asyncio.wait_for(
                            conn.fetchval("select clock_timestamp()"), self._keepalive
                        )
                log.warning("job events: the listening connection closed; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("job events: listening failed (%s); reconnecting in %.1fs", error, delay)
            finally:
                self._connected.clear()
                self._backend_pid = None
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def rewind(since: datetime | None, opened_at: datetime) -> datetime:
    """Where a re-read after a gap starts: the gap's time, else a little before the feed opened
    (the application's clock against the database's: a margin for skew)."""
    return since if since is not None else opened_at - timedelta(seconds=30)
