"""A unit of work that PostgreSQL aborts to break a deadlock runs again: both sides of a real
deadlock succeed, and anything else still fails at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from services.core.errors import NotFound
from services.db.database import Database


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=4, max_overflow=0)
    async with database.transaction(None) as conn:
        await conn.execute(text("create table if not exists retry_probe (id int primary key, hits int not null)"))
        await conn.execute(text("delete from retry_probe"))
        await conn.execute(text("insert into retry_probe values (1, 0), (2, 0)"))
    yield database
    async with database.transaction(None) as conn:
        await conn.execute(text("drop table retry_probe"))
    await database.dispose()


async def test_both_sides_of_a_deadlock_succeed_when_retried(db: Database) -> None:
    attempts = {"a": 0, "b": 0}
    both_hold_one = asyncio.Barrier(2)

    def work(name: str, first: int, second: int):  # type: ignore[no-untyped-def]
        async def run() -> None:
            attempts[name] += 1
            async with db.transaction(None) as conn:
                await conn.execute(text("update retry_probe set hits = hits + 1 where id = :i"), {"i": first})
                if attempts[name] == 1:
                    await both_hold_one.wait()  # the first attempts cross: a real deadlock
                await conn.execute(text("update retry_probe set hits = hits + 1 where id = :i"), {"i": second})

        return run

    await asyncio.gather(db.retrying_work(work("a", 1, 2)), db.retrying_work(work("b", 2, 1)))
    assert sorted(attempts.values()) == [1, 2]  # PostgreSQL aborted exactly one of them
    async with db.transaction(None) as conn:
        hits = (await conn.execute(text("select array_agg(hits order by id) from retry_probe"))).scalar()
    assert hits == [2, 2]  # the aborted attempt left nothing behind


async def test_other_failures_are_not_retried(db: Database) -> None:
    calls = 0

    async def run() -> None:
        nonlocal calls
        calls += 1
        raise NotFound("nothing here")

    with pytest.raises(NotFound):
        await db.retrying_work(run)
    assert calls == 1
