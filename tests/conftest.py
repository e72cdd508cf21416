"""Fixtures: one fresh migrated database per run on a real PostgreSQL, one real server on
loopback (uvicorn, in this process), clients that speak GraphQL over HTTP as fresh users."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.support import TEST_SECRET, Client, create_database, drop_database, free_port, run_sync

_TMP = Path(tempfile.mkdtemp(prefix="continuity-tests-"))
os.environ["CONTINUITY_JWT_SECRET"] = TEST_SECRET
os.environ["CONTINUITY_DATA_DIR"] = str(_TMP / "data")
os.environ["CONTINUITY_MEDIA_DIR"] = str(_TMP / "media")
os.environ.pop("CONTINUITY_JWT_AUDIENCE", None)
os.environ.pop("CONTINUITY_DEV_AUTH", None)


@pytest.fixture(scope="session")
def pg_server() -> str:
    from tests.support import server_url

    return server_url()


@pytest.fixture(scope="session")
def database_url(pg_server: str) -> Iterator[str]:
    from services.db import migrations

    url = create_database(pg_server)
    run_sync(lambda: asyncio.to_thread(migrations.upgrade, url))
    yield url
    drop_database(pg_server, url)


@dataclass
class RunningServer:
    base_url: str
    app: Any
    state: Any  # gql.context.AppState
    settings: Any


def background_for_tests() -> list[Any]:
    """What the test server runs besides HTTP: the job-event listener and an image worker."""
    from continuity import background

    return [background.job_events, background.image_worker]


@pytest.fixture(scope="session")
async def server(database_url: str) -> AsyncIterator[RunningServer]:
    from gql.app import create_app, server_options
    from services.core.config import load_settings

    settings = load_settings()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    app = create_app(
        settings, database_url, public_url=base_url, dev_auth=False, background=background_for_tests()
    )
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
        **server_options(settings),
    )
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield RunningServer(base_url=base_url, app=app, state=app.state.continuity, settings=settings)
    uv.should_exit = True
    await task


@pytest.fixture(scope="session")
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def make_client(http: httpx.AsyncClient, server: RunningServer) -> Callable[..., Client]:
    from services.core.auth import issue_token

    def make(user_id: str | None = None) -> Client:
        user_id = user_id or str(uuid.uuid4())
        return Client(http, issue_token(server.settings, user_id), user_id)

    return make


@pytest.fixture
def alice(make_client: Callable[..., Client]) -> Client:
    return make_client()


@pytest.fixture
def bob(make_client: Callable[..., Client]) -> Client:
    return make_client()


@pytest.fixture
def anonymous(http: httpx.AsyncClient) -> Client:
    return Client(http, None, None)


@pytest.fixture
def statements(server: RunningServer) -> Any:
    """The server's SQL statement counter: `statements.take()` returns and resets the count."""
    return server.state.db.statements
