"""Test support: databases on a real PostgreSQL, a real server, a GraphQL client; the film
builder (`film`), websocket subscriptions (`subscriptions`) and image providers (`providers`)
live beside it in this package."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx

REPO = Path(__file__).resolve().parents[2]
TEST_SECRET = "continuity-test-secret-0123456789abcdef0123456789"
T = TypeVar("T")


def run_sync(awaitable_factory: Any) -> Any:
    """Runs a coroutine on its own loop in a thread (safe from inside pytest-asyncio)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, awaitable_factory()).result()


def server_url() -> str:
    """The PostgreSQL server tests create their databases on: TEST_DATABASE_URL or DATABASE_URL
    (any database on it), else the embedded one under .data/test."""
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        from services.db.database import normalize_url

        return normalize_url(url)
    from services.db import embedded

    data_dir = Path(os.environ.get("CONTINUITY_TEST_DATA_DIR") or REPO / ".data" / "test")
    return embedded.start(data_dir)


def pg_ctl(data_dir: Path, *args: str) -> None:
    """pg_ctl on the embedded server under `data_dir` (as user pgserver when run as root, as
    pgserver runs it)."""
    from pgserver._commands import pg_ctl as run

    run(["-w", *args], pgdata=data_dir / "pg", user="pgserver" if os.geteuid() == 0 else None)


def asyncpg_dsn(url: str) -> str:
    """The same URL as asyncpg takes it (no SQLAlchemy driver name)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def create_database(url: str, prefix: str = "continuity_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.execute(f'create database "{name}"')
        finally:
            await conn.close()

    run_sync(create)
    return with_database(url, name)


def drop_database(server: str, url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).database

    async def drop() -> None:
        conn = await asyncpg.connect(asyncpg_dsn(server))
        try:
            await conn.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await conn.close()

    run_sync(drop)


# uvicorn closes a keep-alive connection idle for 5 s; a client that reuses it just then reads
# nothing (httpx.ReadError). Long-lived test clients drop idle connections well before that.
SOCKET_LIMITS = httpx.Limits(keepalive_expiry=1.0)


def socket_client(base_url: str, timeout: float = 60) -> httpx.AsyncClient:
    """An HTTP client for a real server on loopback, kept for a module or a session."""
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=SOCKET_LIMITS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GraphQLError(AssertionError):
    pass


class Client:
    """Posts real GraphQL documents over HTTP as one user (or anonymously): in process or over
    the socket, whichever `http` client it is given (tests/conftest.py, docs/testing.md)."""

    def __init__(self, http: httpx.AsyncClient, token: str | None, user_id: str | None) -> None:
        self.http = http
        self.token = token
        self.user_id = user_id

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=self.headers()
        )
        assert response.status_code < 500, response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.post(query, variables)
        if body.get("errors"):
            raise GraphQLError(f"unexpected errors: {body['errors']}")
        return body["data"]

    async def error(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The first error of a request expected to fail."""
        body = await self.post(query, variables)
        assert body.get("errors"), f"expected an error, got {body}"
        return body["errors"][0]

    async def code(self, query: str, variables: dict[str, Any] | None = None) -> str:
        error = await self.error(query, variables)
        return error.get("extensions", {}).get("code", "")


async def gather(*aws: Awaitable[T]) -> list[T]:
    return list(await asyncio.gather(*aws))


@contextlib.asynccontextmanager
async def serving(
    database_url: str, background: list[Any], *, dev_auth: bool = False, **settings: Any
) -> AsyncIterator[Any]:
    """A real server (uvicorn, in this process, on loopback) over the given database; yields
    its app state (`.db`, `.events`, `.settings`; `.public_url` is its address). `settings`
    replace fields of the environment's settings."""
    from dataclasses import replace

    import uvicorn

    from gql.app import create_app
    from services.core.config import load_settings

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    app = create_app(
        replace(load_settings(), **settings), database_url, public_url=base_url, dev_auth=dev_auth,
        background=background,
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield app.state.continuity
    finally:
        server.should_exit = True
        await task
