"""Image-job events: stored in the database, tailed by one connection per process, fanned out.

Every insert and status change of a job writes a row of `image_job_events` in the same
transaction (a trigger). Its *position* is (xid, seq); events are read only below the oldest
running transaction id (`pg_snapshot_xmin`), so the part of the table a reader returns is a
prefix of one total order that later commits only extend (docs/operations.md, Job events).

A `JobEvents` hub holds the process's one connection: it LISTENs for the commit-time
announcement of new events (a wake-up only, nothing is read from it), reads the events after
its position in order, and hands each to the feeds whose filter matches, each with its own
queue. A LISTEN outage or a dropped connection loses nothing: after reconnecting the hub reads
on from where it was. It also reads every few seconds without a wake-up, and soon again while
committed events wait for an older transaction to end.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import asyncpg
from sqlalchemy.engine import make_url

from services.db.rows import JobRow

log = logging.getLogger("continuity.job_events")

CHANNEL = "continuity_image_jobs"
APPLICATION_NAME = "continuity-job-events"
BATCH = 500
BIGINT_MAX = 2**63 - 1

_UUID_COLUMNS = (
    "id", "project_id", "branch_id", "scene_id", "shot_id", "project_asset_id", "scene_asset_instance_id",
)
_TIME_COLUMNS = (
    "created_at", "updated_at", "started_at", "completed_at", "lease_expires_at", "next_attempt_at",
    "cancel_requested_at",
)


@dataclass(frozen=True, order=True)
class Position:
    """A place in the total order of job events: after every event at or before it."""

    xid: int
    seq: int

    _PREFIX = "jobevents:"

    def encode(self) -> str:
        raw = f"{self._PREFIX}{self.xid}:{self.seq}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> Position:
        """Raises ValueError for anything `encode` did not write."""
        if not isinstance(cursor, str) or not 1 <= len(cursor) <= 100 or not re.fullmatch(r"[A-Za-z0-9_-]+", cursor):
            raise ValueError("not a job event cursor")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError("not a job event cursor") from None
        match = re.fullmatch(r"jobevents:(0|[1-9][0-9]{0,18}):(0|[1-9][0-9]{0,18})", raw)
        if match is None:
            raise ValueError("not a job event cursor")
        position = cls(int(match.group(1)), int(match.group(2)))
        if max(position.xid, position.seq) > BIGINT_MAX:  # the columns are bigint
            raise ValueError("not a job event cursor")
        if position.encode() != cursor:  # one spelling per position
            raise ValueError("not a job event cursor")
        return position


START = Position(0, 0)


def _column(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _UUID_COLUMNS:
        return uuid.UUID(value)
    if name in _TIME_COLUMNS:
        return datetime.fromisoformat(value)
    return value


def job_state(raw: Mapping[str, Any] | str) -> JobRow:
    """A stored event's job (JSON of the row) with the types a row read from the table has."""
    data = json.loads(raw) if isinstance(raw, str) else raw
    return cast(JobRow, {name: _column(name, value) for name, value in data.items()})


@dataclass(frozen=True)
class JobEvent:
    """One stored change: the job's row as it was at that change."""

    position: Position
    job_id: uuid.UUID
    project_id: uuid.UUID
    status: str
    at: datetime
    state: JobRow

    @property
    def updated_at(self) -> datetime | None:
        value = self.state.get("updated_at")
        return value if isinstance(value, datetime) else None

    @classmethod
    def from_row(cls, row: Any) -> JobEvent:
        state = job_state(row["state"])
        return cls(
            position=Position(int(row["xid"]), int(row["seq"])),
            job_id=state["id"],
            project_id=state["project_id"],
            status=row["status"],
            at=row["at"],
            state=state,
        )


@dataclass(frozen=True)
class Gap:
    """The feed overflowed: changes since `since` (database time; None: since the feed was
    opened) were dropped and must be read again."""

    since: datetime | None


FeedItem = JobEvent | Gap


class JobFeed:
    """One subscriber's queue. A subscriber that falls too far behind loses the backlog and
    gets a `Gap` instead, so it re-reads rather than blocking everyone else."""

    def __init__(self, match: Callable[[JobEvent], bool], maxsize: int, position: Position | None = None) -> None:
        self.match = match
        self.opened_at = datetime.now(UTC)
        # Every matching event after this position reaches the feed (None: the hub had not read yet).
        self.position = position
        self._queue: asyncio.Queue[FeedItem] = asyncio.Queue(maxsize=maxsize)

    def offer(self, item: FeedItem, alive_at: datetime | None = None) -> None:
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


# The stable prefix after a position: below the oldest running transaction id. `pending`: events
# exist that are committed (or about to be) but wait for an older transaction to end.
TAIL = f"""
with h as (select pg_snapshot_xmin(pg_current_snapshot())::text::bigint as xmin)
select h.xmin, e.xid, e.seq, e.status, e.at, e.state::text as state,
       exists (select 1 from image_job_events p where p.xid >= h.xmin) as pending
  from h
  left join lateral (
        select * from image_job_events e
         where (e.xid, e.seq) > ($1, $2) and e.xid < h.xmin
         order by e.xid, e.seq
         limit {BATCH}) e on true
 order by e.xid, e.seq
"""


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
        self._wake = asyncio.Event()
        self._backend_pid: int | None = None
        self.position: Position | None = None
        self.reconnects = 0
        self.delivered = 0

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
            async with asyncio.timeout(wait_seconds):
                await self._connected.wait()
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

    async def wait_started(self, seconds: float) -> bool:
        """Whether the hub has read its starting position (within `seconds`)."""
        if self.position is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._connected.wait()
        return self.position is not None

    @contextlib.contextmanager
    def subscribe(self, match: Callable[[JobEvent], bool]) -> Iterator[JobFeed]:
        """A feed of the events `match` accepts after the hub's position now (`feed.position`)."""
        feed = JobFeed(match, self._feed_size, self.position)
        self._feeds.add(feed)
        try:
            yield feed
        finally:
            self._feeds.discard(feed)

    def _on_notify(self, _conn: asyncpg.Connection, _pid: int, _channel: str, _payload: str) -> None:
        self._wake.set()

    def _dispatch(self, event: JobEvent) -> None:
        for feed in list(self._feeds):
            try:
                if feed.match(event):
                    feed.offer(event)
            except Exception:
                log.exception("job events: a subscriber's filter failed")

    async def _read(self, conn: asyncpg.Connection) -> bool:
        """Hands on every stable event after the position; True when more wait to become stable."""
        while True:
            assert self.position is not None
            rows = await conn.fetch(TAIL, self.position.xid, self.position.seq)
            events = [JobEvent.from_row(r) for r in rows if r["xid"] is not None]
            for event in events:
                self._dispatch(event)
                self.position = event.position
            self.delivered += len(events)
            if len(events) < BATCH:
                # Everything below xmin has been read: the position may move up to it.
                self.position = max(self.position, Position(int(rows[0]["xmin"]), 0))
                return bool(rows[0]["pending"])

    async def _listen_forever(self) -> None:
        delay = 0.1
        first = True
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._dsn, timeout=10, server_settings={"application_name": APPLICATION_NAME}
                )
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                if self.position is None:
                    xmin = await conn.fetchval("select pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
                    self.position = Position(int(xmin), 0)
                    # Subscribed before the hub knew where it starts: they re-read once.
                    for feed in list(self._feeds):
                        feed.offer(Gap(None))
                self._backend_pid = conn.get_server_pid()
                if not first:
                    self.reconnects += 1
                    log.info("job events: listening again; reading on from %s", self.position)
                first = False
                self._connected.set()
                delay = 0.1
                pending_delay = 0.02
                while not lost.is_set():
                    self._wake.clear()
                    # asyncio.timeout, never wait_for, in this loop: Python 3.11's wait_for
                    # drops a cancellation that lands as the awaited call finishes, and the
                    # hub would then never stop (docs/images.md, on SIGTERM).
                    async with asyncio.timeout(self._keepalive * 2):
                        pending = await self._read(conn)
                    # Committed events behind an older open transaction: look again soon, since
                    # that transaction may announce nothing when it ends.
                    wait = min(pending_delay, self._keepalive) if pending else self._keepalive
                    pending_delay = min(pending_delay * 2, 1.0) if pending else 0.02
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await _first(self._wake, lost)
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


async def _first(*events: asyncio.Event) -> None:
    # Named as the hub's own: they come and go with each read (tests count tasks without them).
    waits = [asyncio.create_task(e.wait(), name=f"{APPLICATION_NAME}-wait") for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def rewind(since: datetime | None, opened_at: datetime) -> datetime:
    """Where a re-read after a gap starts: the gap's time, else a little before the feed opened
    (the application's clock against the database's: a margin for skew)."""
    return since if since is not None else opened_at - timedelta(seconds=30)
