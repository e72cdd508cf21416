"""The total order of stored job events, with real interleaved transactions on PostgreSQL.

A reader (the hub's own statement) returns only events below the oldest running transaction
id, so what it returns never gains an event in the middle later: an event that commits after
another was returned comes after it. Each job's events are in commit order even when a
transaction with an older id writes the job last, and one transaction's in insertion order.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from services.images.events import TAIL, Position, asyncpg_dsn
from tests.support import Client
from tests.support.film import film_with_instances

WAIT = 30.0


@pytest.fixture
async def conns(database_url: str) -> AsyncIterator[list[asyncpg.Connection]]:
    opened = [await asyncpg.connect(asyncpg_dsn(database_url)) for _ in range(3)]
    try:
        yield opened
    finally:
        for conn in opened:
            await conn.close()


async def _jobs(conn: asyncpg.Connection, alice: Client, n: int) -> list[uuid.UUID]:
    """Jobs no worker touches (PROCESSING without a lease), made by hand."""
    film, _ = await film_with_instances(alice)
    rows = await conn.fetch(
        "insert into image_generation_jobs (project_id, branch_id, job_type, status, prompt, width, height, "
        "idempotency_key) select $1, $2, 'master_asset', 'processing', 'by hand', 64, 64, 'order-' || g "
        "from generate_series(1, $3) g returning id",
        uuid.UUID(film.project_id), uuid.UUID(film.branch_id), n,
    )
    return [r["id"] for r in rows]


async def _read(reader: asyncpg.Connection, after: Position, jobs: list[uuid.UUID]) -> list[tuple[Position, uuid.UUID, str]]:
    """The stable events of these jobs after `after`, as the hub reads them."""
    rows = await reader.fetch(TAIL, after.xid, after.seq)
    out = []
    for r in rows:
        if r["xid"] is None:
            continue
        state = json.loads(r["state"])
        if uuid.UUID(state["id"]) in jobs:
            out.append((Position(r["xid"], r["seq"]), uuid.UUID(state["id"]), r["status"]))
    return out


async def _read_until(reader: asyncpg.Connection, after: Position, jobs: list[uuid.UUID], n: int) -> list[Any]:
    """Other tests' short transactions may hold the horizon back for a moment."""
    async def poll() -> list[Any]:
        while len(seen := await _read(reader, after, jobs)) < n:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return seen

    return await asyncio.wait_for(poll(), WAIT)


async def _after_creation(reader: asyncpg.Connection, alice: Client, n: int) -> tuple[list[uuid.UUID], Position]:
    """New jobs, and the position of their creation events once they are readable."""
    before = Position(int(await reader.fetchval("select pg_snapshot_xmin(pg_current_snapshot())::text::bigint")), 0)
    jobs = await _jobs(reader, alice, n)
    created = await _read_until(reader, before, jobs, n)
    return jobs, created[-1][0]


async def test_an_event_committed_after_one_was_read_comes_after_it(
    conns: list[asyncpg.Connection], alice: Client
) -> None:
    one, two, reader = conns
    (a, b), start = await _after_creation(reader, alice, 2)
    older = one.transaction()
    await older.start()
    await one.execute("update image_generation_jobs set status = 'completed' where id = $1", a)  # the older id
    async with two.transaction():
        await two.execute("update image_generation_jobs set status = 'failed' where id = $1", b)
    # B's event is committed, but A's transaction (older id) is still open: the reader must not
    # return B yet, or A's event, committed next, would land before what was already read.
    assert await _read(reader, start, [a, b]) == []
    assert await reader.fetchval("select count(*) from image_job_events where job_id = $1", b) == 2  # created, failed
    await older.commit()
    seen = await _read_until(reader, start, [a, b], 2)
    assert [(job, status) for _, job, status in seen] == [(a, "completed"), (b, "failed")]
    # And every later read agrees: the order is fixed once read.
    again = await _read(reader, start, [a, b])
    assert again == seen
    # An event that commits after B was read comes after it.
    await one.execute("update image_generation_jobs set status = 'queued' where id = $1", a)
    later = await _read_until(reader, seen[-1][0], [a, b], 1)
    assert later[0][0] > seen[-1][0] and later[0][1:] == (a, "queued")


async def test_a_jobs_events_are_in_commit_order_even_from_an_older_transaction(
    conns: list[asyncpg.Connection], alice: Client
) -> None:
    one, two, reader = conns
    (c, j), start = await _after_creation(reader, alice, 2)
    older = two.transaction()
    await older.start()
    await two.execute("update image_generation_jobs set status = 'completed' where id = $1", c)  # takes its id first
    async with one.transaction():  # a younger transaction changes J and commits first
        await one.execute("update image_generation_jobs set status = 'queued' where id = $1", j)
    assert await _read(reader, start, [c, j]) == []  # held back by the older, open transaction
    await two.execute("update image_generation_jobs set status = 'failed' where id = $1", j)
    await older.commit()
    seen = await _read_until(reader, start, [c, j], 3)
    # J: the younger transaction's change (committed first) before the older's; the older
    # transaction's two events in the order it wrote them.
    assert [(job, status) for _, job, status in seen] == [(c, "completed"), (j, "queued"), (j, "failed")]
    assert [p for p, _, _ in seen] == sorted(p for p, _, _ in seen)


async def test_events_are_append_only(conns: list[asyncpg.Connection], alice: Client) -> None:
    _, _, conn = conns
    [job] = await _jobs(conn, alice, 1)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await conn.execute("update image_job_events set status = 'completed' where job_id = $1", job)
