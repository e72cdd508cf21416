"""Fixtures: one fresh migrated database per run on a real PostgreSQL, one app with its
lifespan running, reached in process by the clients (`alice`, `bob`, `make_client`) and on a
real server on loopback (uvicorn, in this process) by what needs a socket (`server`, `http`)."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.support import TEST_SECRET, Client, create_database, drop_database, run_sync, socket_client

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
    listening: socket.socket  # bound to base_url's port from the start; uvicorn serves on it once asked for


def background_for_tests() -> list[Any]:
    """What the test server runs besides HTTP: the job-event listener and an image worker."""
    from continuity import background

    return [background.job_events, background.image_worker]


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[RunningServer]:
    """The session's app with its lifespan running (job-event listener, image worker), as
    `continuity serve` runs it. Requests reach it in process (`app_http`) or, for what is about
    the wire, over a real socket (`server`, `http`); both are the same app and state.

    Its address is a socket bound now, so the URLs the app hands out (images) are the ones the
    real server answers on once a test asks for it."""
    from gql.app import create_app
    from services.core.config import load_settings

    settings = load_settings()
    # IPPROTO_TCP as getaddrinfo gives it: asyncio sets TCP_NODELAY on accepted sockets only
    # then (with proto 0, Nagle holds back a 413 until the peer's reset has destroyed it).
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listening.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{listening.getsockname()[1]}"
    served = create_app(
        settings, database_url, public_url=base_url, dev_auth=False, background=background_for_tests()
    )
    try:
        async with served.router.lifespan_context(served):
            yield RunningServer(
                base_url=base_url, app=served, state=served.state.continuity, settings=settings, listening=listening
            )
    finally:
        listening.close()


@pytest.fixture(scope="session")
async def server(app: RunningServer) -> AsyncIterator[RunningServer]:
    """The same app on a real server (uvicorn, in this process, on loopback): for websockets,
    real clients and everything about the wire (headers, bodies, status lines, streaming)."""
    from gql.app import server_options

    # The lifespan is the `app` fixture's: uvicorn only serves.
    config = uvicorn.Config(
        app.app, host="127.0.0.1", log_level="warning", lifespan="off", **server_options(app.settings)
    )
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve(sockets=[app.listening]))
    while not uv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield app
    uv.should_exit = True
    await task


@pytest.fixture(scope="session")
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP over the real socket."""
    async with socket_client(server.base_url) as client:
        yield client


@pytest.fixture(scope="session")
async def app_http(app: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP to the app in process (no socket): what GraphQL answers, not how the wire carries it.
    An exception escaping the app fails the test with its own traceback (uvicorn would answer 500)."""
    transport = httpx.ASGITransport(app=app.app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=app.base_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def make_client(app_http: httpx.AsyncClient, app: RunningServer) -> Callable[..., Client]:
    """Clients as fresh users, in process. `Client(http, c.token, c.user_id)` speaks as the
    same user over the socket."""
    from services.core.auth import issue_token

    def make(user_id: str | None = None) -> Client:
        user_id = user_id or str(uuid.uuid4())
        return Client(app_http, issue_token(app.settings, user_id), user_id)

    return make


@pytest.fixture
def alice(make_client: Callable[..., Client]) -> Client:
    return make_client()


@pytest.fixture
def bob(make_client: Callable[..., Client]) -> Client:
    return make_client()


@pytest.fixture
def anonymous(app_http: httpx.AsyncClient) -> Client:
    return Client(app_http, None, None)


@pytest.fixture
def statements(app: RunningServer) -> Any:
    """The app's SQL statement counter: `statements.take()` returns and resets the count."""
    return app.state.db.statements
