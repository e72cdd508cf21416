"""A unit of work cancelled mid-statement (a subscriber whose socket dropped while it read)
ends as cancelled, gives its connection back, and leaves the pool serving."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from services.db.database import Database


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=1, max_overflow=0)
    yield database
    await database.dispose()


async def test_a_cancelled_unit_of_work_stays_cancelled_and_returns_its_connection(db: Database) -> None:
    started = asyncio.Event()

    async def slow_read() -> None:
        async with db.transaction(str(uuid.uuid4())) as conn:
            started.set()
            await conn.execute(text("select pg_sleep(30)"))

    for _ in range(3):  # one pooled connection: each round needs the previous one back
        started.clear()
        task = asyncio.create_task(slow_read())
        await started.wait()
        await asyncio.sleep(0.05)  # the statement is on its way (a wait, not an assertion)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert db.engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    db.statements.take()
    async with db.transaction(None) as conn:
        assert (await conn.execute(text("select 1"))).scalar() == 1
    assert db.statements.take() == 1  # a replaced connection's setup is not counted as the work's


async def test_an_exhausted_pool_is_service_unavailable(database_url: str) -> None:
    import asyncio

    import pytest

    from services.core.errors import ServiceUnavailable
    from services.db.database import Database

    db = Database(database_url, pool_size=1, max_overflow=0)
    db.engine.pool._timeout = 0.2  # type: ignore[attr-defined]
    try:
        holding = asyncio.Event()
        release = asyncio.Event()

        async def hold() -> None:
            async with db.transaction(None):
                holding.set()
                await release.wait()

        holder = asyncio.create_task(hold())
        await holding.wait()
        with pytest.raises(ServiceUnavailable):
            async with db.transaction(None):
                pass
        release.set()
        await holder
    finally:
        await db.dispose()
