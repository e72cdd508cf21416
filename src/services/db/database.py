"""Engine, units of work and statement counting.

Every unit of work is one transaction. A user's runs as role `authenticated` with the
user's claims set for that transaction, so PostgreSQL's row-level security applies; the
system's (the image worker) runs without a role switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.elements import TextClause

from services.core import request_context
from services.core.config import Settings, load_settings
from services.core.errors import BadUserInput, Conflict, DomainError, NotFound, ServiceUnavailable

_CLAIMS = text(
    "select set_config('role', 'authenticated', true), "
    "set_config('request.jwt.claim.sub', :sub, true)"
)
# What the revisions triggers record a write as (docs/revisions.md): sent with the claims, so a
# write path that names its kind costs no extra statement.
_CLAIMS_AND_KIND = text(
    "select set_config('role', 'authenticated', true), "
    "set_config('request.jwt.claim.sub', :sub, true), "
    "set_config('continuity.revision_kind', :kind, true)"
)
_KIND = text("select set_config('continuity.revision_kind', :kind, true)")



def normalize_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def resolve_database_url(settings: Settings | None = None) -> str:
    """DATABASE_URL when set, else the embedded server in the data directory (started here)."""
    settings = settings or load_settings()
    if settings.database_url:
        return normalize_url(settings.database_url)
    from services.db import embedded

    return embedded.start(settings.data_dir)


_IN_UNIT_OF_WORK = "continuity.unit_of_work"
_REQUEST = "continuity.request"

# Serialization failures and deadlocks: the transaction lost a race, not the request's fault.
RETRYABLE = frozenset({"40001", "40P01"})
RETRY_ATTEMPTS = 8
T = TypeVar("T")


def retried(service: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """A service function (one unit of work per call) called again from the start when the
    database aborted it for a serialization failure or a deadlock: clients never see either."""

    @functools.wraps(service)
    async def call(*args: Any, **kwargs: Any) -> T:
        for attempt in range(RETRY_ATTEMPTS):
            try:
                return await service(*args, **kwargs)
            except DBAPIError as error:
                if sqlstate(error) not in RETRYABLE or attempt == RETRY_ATTEMPTS - 1:
                    raise
            await asyncio.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        raise AssertionError("unreachable")

    return call


class StatementCounter:
    """Counts SQL statements sent through an engine: tests bound them, the benchmark reports them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __call__(self, conn: Any, *_: Any) -> None:
        # Only statements of units of work: a new pooled connection's own setup queries
        # would make counts depend on how warm the pool is.
        if conn.info.get(_IN_UNIT_OF_WORK):
            with self._lock:
                self.count += 1
            stats = conn.info.get(_REQUEST)
            if stats is not None:
                stats.statements += 1

    def take(self) -> int:
        with self._lock:
            n, self.count = self.count, 0
            return n


def sqlstate(error: BaseException) -> str | None:
    seen: BaseException | None = error
    while seen is not None:
        state = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if isinstance(state, str):
            return state
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


def _constraint(error: BaseException) -> str:
    seen: BaseException | None = error
    while seen is not None:
        name = getattr(seen, "constraint_name", None)
        if name:
            return str(name)
        seen = getattr(seen, "orig", None) or seen.__cause__
    return ""


def _unreachable(error: BaseException) -> bool:
    """The database is down, restarting or the connection broke: not the request's fault."""
    state = sqlstate(error)
    if state is not None and (state.startswith("08") or state in {"57P01", "57P02", "57P03", "53300"}):
        return True
    if getattr(error, "connection_invalidated", False):
        return True
    seen: BaseException | None = error
    hops = 0
    while seen is not None and hops < 20:
        if isinstance(seen, (OSError, ConnectionError, sa_exc.TimeoutError)):
            return True  # sa_exc.TimeoutError: no pooled connection came free in time
        if type(seen).__name__ in _CONNECTION_FAULTS:
            return True
        if getattr(seen, "connection_invalidated", False):
            return True
        state = sqlstate(seen) if seen is not error else None
        if state is not None and (state.startswith("08") or state in {"57P01", "57P02", "57P03"}):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
        hops += 1
    return False


# Names, not classes: asyncpg's and SQLAlchemy's connection faults, without importing internals.
_CONNECTION_FAULTS = {
    "ConnectionDoesNotExistError",
    "InterfaceError",
    "CannotConnectNowError",
    "InternalClientError",
    "PendingRollbackError",
    "ResourceClosedError",
}


def translate(error: DBAPIError) -> Exception:
    """What a constraint the database enforced means to the client."""
    state = sqlstate(error)
    name = _constraint(error)
    if state == "23505":
        return Conflict(f"already exists ({name})" if name else "already exists")
    if state == "23503":
        return NotFound(f"a referenced object does not exist ({name})")
    if state in {"23514", "22001", "22003", "22P02", "22021", "23502"}:
        return BadUserInput(f"invalid value ({name or state})")
    if state == "42501":
        return NotFound("not found")
    return error


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 10) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            # No ping per checkout: SQLAlchemy's asyncpg ping is BEGIN, `;`, ROLLBACK, three round
            # trips on every unit of work (a fifth of a planned read's Python time). A connection
            # the database dropped fails its first statement instead, which answers
            # SERVICE_UNAVAILABLE and invalidates the pool (docs/errors.md, SERVICE_UNAVAILABLE).
            pool_pre_ping=False,
            pool_recycle=1800,
            # A failing statement's error (and so its log line) never shows its parameters:
            # they hold users' text and ids (docs/operations.md, Logs).
            hide_parameters=True,
        )
        self.statements = StatementCounter()
        event.listen(self.engine.sync_engine, "before_cursor_execute", self.statements)

    @contextlib.asynccontextmanager
    async def transaction(
        self, user_id: str | None, *, isolation: str | None = None, revision_kind: str | None = None
    ) -> AsyncIterator[AsyncConnection]:
        """One unit of work: commits when the block ends, rolls back on any error.

        `user_id=None` is the system (no role switch); every request passes its user.
        `isolation` (e.g. "REPEATABLE READ") gives every statement of the unit one snapshot.
        `revision_kind` names what the unit's instance writes are (docs/revisions.md).
        """
        try:
            async with self.engine.connect() as conn:
                if isolation is not None:
                    await conn.execution_options(isolation_level=isolation)
                async with conn.begin():
                    conn.sync_connection.info[_IN_UNIT_OF_WORK] = True  # type: ignore[union-attr]
                    # The request this unit of work is for, so its statements are counted for it.
                    conn.sync_connection.info[_REQUEST] = request_context.current()  # type: ignore[union-attr]
                    try:
                        if user_id is not None and revision_kind is not None:
                            await conn.execute(_CLAIMS_AND_KIND, {"sub": str(user_id), "kind": revision_kind})
                        elif user_id is not None:
                            await conn.execute(_CLAIMS, {"sub": str(user_id)})
                        elif revision_kind is not None:
                            await conn.execute(_KIND, {"kind": revision_kind})
                        yield conn
                    finally:
                        with contextlib.suppress(Exception):  # an invalidated connection has no info
                            conn.sync_connection.info.pop(_IN_UNIT_OF_WORK, None)  # type: ignore[union-attr]
                            conn.sync_connection.info.pop(_REQUEST, None)  # type: ignore[union-attr]
        except DomainError:
            raise
        except DBAPIError as error:
            if _unreachable(error):
                raise ServiceUnavailable("the database is unavailable; retry shortly") from error
            translated = translate(error)
            if translated is error:
                raise
            raise translated from error
        except Exception as error:
            if _unreachable(error):
                raise ServiceUnavailable("the database is unavailable; retry shortly") from error
            raise

    def positional(self, clause: TextClause) -> tuple[str, tuple[str, ...]]:
        """The statement as the driver takes it (`$1`, `$2`, with the typed parameters' casts)
        and the names of its parameters in that order; for read_json."""
        compiled = clause.compile(dialect=self.engine.dialect)
        return str(compiled), tuple(compiled.positiontup or ())

    async def read_json(self, user_id: str, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """A read-only unit of work as `user_id` (role `authenticated` with the claim, as
        `transaction`), run on the driver connection: the first value of each statement. For
        the planner's fast path, whose statements build the whole answer: the begin and the
        claims travel in one round trip, and SQLAlchemy's execute layer (a fifth of such a
        request's Python time) is skipped. The engine's `before_cursor_execute` listeners still
        see every statement (the claims as one, as in `transaction`): the statement counter
        and whoever else watches the engine. Any failure is raised as it is (the caller answers
        through `transaction` then) and the connection, which SQLAlchemy did not see at work,
        is invalidated."""
        # A literal in a simple query: only a canonical UUID text gets there.
        claim = str(uuid.UUID(user_id))
        claims = (
            "begin read only; select set_config('role', 'authenticated', true), "
            f"set_config('request.jwt.claim.sub', '{claim}', true)"
        )
        async with self.engine.connect() as conn:
            sync = conn.sync_connection
            assert sync is not None
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            seen = self.engine.sync_engine.dispatch.before_cursor_execute
            sync.info[_IN_UNIT_OF_WORK] = True
            sync.info[_REQUEST] = request_context.current()
            try:
                seen(sync, None, claims, (), None, False)
                await driver.execute(claims)
                try:
                    values = []
                    for sql, args in statements:
                        seen(sync, None, sql, tuple(args), None, False)
                        values.append(await driver.fetchval(sql, *args))
                finally:
                    await driver.execute("rollback")  # nothing to commit: it only read
            except BaseException:
                await conn.invalidate()
                raise
            finally:
                with contextlib.suppress(Exception):  # an invalidated connection has no info
                    sync.info.pop(_IN_UNIT_OF_WORK, None)
                    sync.info.pop(_REQUEST, None)
            return values

    async def retrying(
        self,
        user_id: str | None,
        work: Callable[[AsyncConnection], Awaitable[T]],
        *,
        isolation: str | None = None,
        attempts: int = RETRY_ATTEMPTS,
    ) -> T:
        """`work` in one unit of work, run again from the start when the database aborted it
        for a serialization failure or a deadlock, so the client never sees either."""
        for attempt in range(attempts):
            try:
                async with self.transaction(user_id, isolation=isolation) as conn:
                    return await work(conn)
            except DBAPIError as error:
                if sqlstate(error) not in RETRYABLE or attempt == attempts - 1:
                    raise
            await asyncio.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        raise AssertionError("unreachable")

    async def retrying_work(self, work: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
        """Runs a unit of work again when PostgreSQL broke a deadlock or a serialization
        conflict by aborting it: the client sees the result of some serial order, never the
        error (each attempt is a whole transaction that changed nothing)."""
        for attempt in range(1, attempts + 1):
            try:
                return await work()
            except DBAPIError as error:
                if sqlstate(error) not in RETRYABLE or attempt == attempts:
                    raise
                await asyncio.sleep(random.uniform(0, 0.01 * attempt))
        raise AssertionError("unreachable")

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("select 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()
