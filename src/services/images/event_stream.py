"""A subscriber's stream of stored job events: what is stored after its cursor, then live ones.

The hub (services.images.events) hands a feed every event after the hub's position at the moment
the feed opened; the stored events between the subscriber's cursor and that position are read
from the table first. Both parts are in the one total order, and each event is handed on only
when it comes after the last one handed on, so nothing is sent twice and nothing is skipped,
whichever server process the subscriber is on and however often it resumes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Any

from sqlalchemy import text

from services.core.errors import BadUserInput, ServiceUnavailable, not_found
from services.db.database import Database
from services.db.predicates import owned
from services.images.events import START, Gap, JobEvent, JobEvents, Position
from services.images.jobs import TERMINAL

PAGE = 500
HUB_START_SECONDS = 10.0

_NOW = """
       pg_snapshot_xmin(pg_current_snapshot())::text::bigint as xmin,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint as xmax,
       (select h.xid from image_job_event_horizon h) as horizon_xid,
       (select h.seq from image_job_event_horizon h) as horizon_seq
"""

_PROJECT = text(
    f"""
    select exists (select 1 from projects p where p.id = :id and p.user_id = cast(:uid as uuid)) as found, {_NOW}
    """
)

# The job, and its terminal event when one is stored.
_JOB = text(
    f"""
    select j.id is not null as found, j.status, t.xid as terminal_xid, t.seq as terminal_seq, {_NOW}
      from (select 1) one
      left join image_generation_jobs j on j.id = :id and {owned("j")}
      left join lateral (
            select e.xid, e.seq from image_job_events e
             where e.job_id = j.id and e.status = any(cast(:terminal as text[]))
             order by e.xid desc, e.seq desc limit 1) t on true
    """
)

_CURSOR = text(f"select {_NOW}")


def _range(column: str) -> Any:
    return text(
        f"""
        select e.xid, e.seq, e.status, e.at, e.state
          from image_job_events e
         where e.{column} = :key and {owned("e")}
           and (e.xid, e.seq) > (:from_xid, :from_seq) and (e.xid, e.seq) <= (:to_xid, :to_seq)
         order by e.xid, e.seq
         limit {PAGE}
        """
    )


_PROJECT_RANGE = _range("project_id")
_JOB_RANGE = _range("job_id")


async def current_cursor(db: Database, uid: str) -> Position:
    """Just after every event a subscriber could have seen now: resuming from it misses
    nothing committed later."""
    async with db.transaction(uid) as conn:
        row = (await conn.execute(_CURSOR)).mappings().one()
    return Position(int(row["xmin"]), 0)


def _check_cursor(after: Position | None, row: Any) -> None:
    if after is None:
        return
    if after < Position(int(row["horizon_xid"]), int(row["horizon_seq"])):
        raise BadUserInput("after: the cursor has expired (its events are past the retention period)")
    if after.xid > int(row["xmax"]):
        raise BadUserInput("after: unknown cursor (not a position of this server's events)")


async def stream_events(
    db: Database,
    uid: str,
    hub: JobEvents,
    *,
    project_id: uuid.UUID | None = None,
    job_id: uuid.UUID | None = None,
    after: Position | None = None,
) -> AsyncGenerator[JobEvent, None]:
    """Exactly one of project_id and job_id. With job_id the stream ends after the job's
    terminal event (at once after the stored events when the cursor is past it)."""
    assert (project_id is None) != (job_id is None)
    terminal_at: Position | None = None
    terminal_now = False
    async with db.transaction(uid) as conn:
        if job_id is not None:
            row = (await conn.execute(_JOB, {"id": job_id, "uid": uid, "terminal": list(TERMINAL)})).mappings().one()
            if not row["found"]:
                raise not_found("image job", job_id)
            terminal_now = row["status"] in TERMINAL
            if row["terminal_xid"] is not None:
                terminal_at = Position(int(row["terminal_xid"]), int(row["terminal_seq"]))
        else:
            row = (await conn.execute(_PROJECT, {"id": project_id, "uid": uid})).mappings().one()
            if not row["found"]:
                raise not_found("project", project_id)
    _check_cursor(after, row)
    if after is not None:
        last = after
    elif job_id is not None:
        last = START
    else:
        last = Position(int(row["xmin"]), 0)
    if not await hub.wait_started(HUB_START_SECONDS):
        raise ServiceUnavailable("job events are not available yet; retry shortly")
    key = job_id if job_id is not None else project_id
    column_range = _JOB_RANGE if job_id is not None else _PROJECT_RANGE

    def match(event: JobEvent) -> bool:
        return (event.job_id if job_id is not None else event.project_id) == key

    def ends(event: JobEvent) -> bool:
        return job_id is not None and event.status in TERMINAL

    with hub.subscribe(match) as feed:
        assert feed.position is not None

        async def stored(upto: Position) -> AsyncGenerator[JobEvent, None]:
            nonlocal last
            while last < upto:
                params = {
                    "key": key, "uid": uid, "from_xid": last.xid, "from_seq": last.seq,
                    "to_xid": upto.xid, "to_seq": upto.seq,
                }
                async with db.transaction(uid) as conn:
                    rows = (await conn.execute(column_range, params)).mappings().all()
                for r in rows:
                    event = JobEvent.from_row(r)
                    last = event.position
                    yield event
                if len(rows) < PAGE:
                    return

        async for event in stored(feed.position):
            yield event
            if ends(event):
                return
        if terminal_now and (terminal_at is None or terminal_at <= last):
            return
        while True:
            item = await feed.get()
            if isinstance(item, Gap):
                # Fell behind: what the feed dropped is in the table, up to where the hub is now.
                assert hub.position is not None
                async for event in stored(hub.position):
                    yield event
                    if ends(event):
                        return
            elif item.position > last:
                last = item.position
                yield item
                if ends(item):
                    return


# ---------------------------------------------------------------------------------------
# Retention (the worker's: as the system)

_PURGE = text(
    """
    with gone as (
        delete from image_job_events e
         where e.at < clock_timestamp() - make_interval(secs => :seconds)
        returning e.xid, e.seq),
    newest as (select g.xid, g.seq from gone g order by g.xid desc, g.seq desc limit 1),
    moved as (
        update image_job_event_horizon h set xid = n.xid, seq = n.seq
          from newest n
         where (n.xid, n.seq) > (h.xid, h.seq)
        returning h.xid)
    select count(*) from gone
    """
)


async def purge_expired_events(db: Database, retention_days: float) -> int:
    """Deletes events older than the retention period; cursors before them become expired."""
    async with db.transaction(None) as conn:
        return int((await conn.execute(_PURGE, {"seconds": retention_days * 86400})).scalar_one())
