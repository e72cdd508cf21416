"""A unit of work that PostgreSQL aborts for a serialization failure runs again from the start,
and a repeatable-read unit reads one snapshot (the fork's guarantee)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text

from services.db.database import Database, retried
from tests.support import asyncpg_dsn


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2, max_overflow=0)
    yield database
    await database.dispose()


@pytest.fixture
async def other(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    await conn.execute("create table retry_probe (id int primary key, n int not null); insert into retry_probe values (1, 0)")
    yield conn
    await conn.execute("drop table retry_probe")
    await conn.close()


async def test_a_serialization_failure_is_run_again_from_the_start(db: Database, other: asyncpg.Connection) -> None:
    attempts: list[int] = []

    @retried
    async def add_ten() -> int:
        async with db.transaction(None, isolation="REPEATABLE READ") as conn:
            seen = (await conn.execute(text("select n from retry_probe where id = 1"))).scalar_one()
            attempts.append(seen)
            if len(attempts) == 1:
                # Committed after this unit's snapshot: its update below cannot serialize.
                await other.execute("update retry_probe set n = n + 1 where id = 1")
            await conn.execute(text("update retry_probe set n = n + 10 where id = 1"))
            return int(seen)

    assert await add_ten() == 1
    assert attempts == [0, 1]
    assert await other.fetchval("select n from retry_probe where id = 1") == 11


async def test_other_errors_are_not_retried(db: Database, other: asyncpg.Connection) -> None:
    calls: list[int] = []

    @retried
    async def duplicate() -> None:
        calls.append(1)
        async with db.transaction(None) as conn:
            await conn.execute(text("insert into retry_probe values (1, 5)"))

    with pytest.raises(Exception) as raised:
        await duplicate()
    assert getattr(raised.value, "code", None) == "CONFLICT" and calls == [1]
