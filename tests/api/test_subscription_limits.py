"""Websocket limits with the real subscription (`imageJobUpdated`) on a real server whose
limits come from the environment: the per-connection cap, the connection_init timeout, and
what an abruptly dropped subscriber leaves behind (hub feeds, asyncio tasks, pooled
connections: nothing).

The capped server relays job events but runs no worker; the session server's in-process
worker (same database) renders the jobs, so every update crosses LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import websockets
from sqlalchemy import text

from services.images.events import APPLICATION_NAME
from tests.api.test_image_jobs import generate, until
from tests.support import Client, serving
from tests.support.film import film_with_instances
from tests.support.subscriptions import BY_JOB, BY_PROJECT, PROTOCOL, WAIT, connect

CAP = 3


@pytest.fixture
async def capped(database_url: str, server: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """A second real server (app, lifespan, job-event hub) with small websocket limits."""
    from continuity.background import job_events

    monkeypatch.setenv("CONTINUITY_WS_MAX_SUBSCRIPTIONS", str(CAP))
    monkeypatch.setenv("CONTINUITY_WS_INIT_TIMEOUT_SECONDS", "0.3")
    async with serving(database_url, [job_events]) as state:
        assert (state.settings.ws_max_subscriptions, state.settings.ws_init_timeout_seconds) == (CAP, 0.3)
        yield state


async def test_the_subscription_past_the_cap_is_refused_and_the_connection_goes_on(
    alice: Client, capped: Any
) -> None:
    film, instances = await film_with_instances(alice)
    hub = capped.events
    before = hub.subscribers
    async with connect(capped.public_url, alice.token) as socket:
        watching = [await socket.subscribe(BY_PROJECT, {"p": film.project_id}) for _ in range(CAP)]
        await until(lambda: hub.subscribers == before + CAP)
        early = await generate(alice, instances["Anchor"])
        refused = await socket.subscribe(BY_JOB, {"j": early["id"]})
        message = await refused.message()
        assert message["type"] == "error", message
        extensions = dict(message["payload"][0]["extensions"])
        assert isinstance(extensions.pop("requestId"), str)  # the connection's request id
        assert extensions == {"code": "TOO_MANY_SUBSCRIPTIONS", "maxSubscriptions": CAP}
        assert hub.subscribers == before + CAP  # the refused one never reached the hub
        # The connection and its subscriptions go on: each sees the job to its end.
        job = await generate(alice, instances["Lighthouse"])
        for op in watching:
            seen = await op.until(job["id"], "COMPLETED")
            assert seen[-1]["imageUrl"], seen
        # Ending one frees a place: the same socket subscribes again and is served.
        await watching[0].stop()
        await until(lambda: hub.subscribers == before + CAP - 1)
        again = await socket.subscribe(BY_JOB, {"j": job["id"]})
        final = await again.job()
        assert final["id"] == job["id"] and final["status"] == "COMPLETED"
        assert (await again.message())["type"] == "complete"
    await until(lambda: hub.subscribers == before)


async def test_a_socket_that_never_sends_connection_init_is_closed_after_the_timeout(capped: Any) -> None:
    url = capped.public_url.replace("http://", "ws://", 1) + "/graphql"
    before = capped.events.subscribers
    async with websockets.connect(url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), WAIT)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4408, "Connection initialisation timeout")
    assert capped.events.subscribers == before


def _pool_checked_out(state: Any) -> int:
    return int(state.db.engine.sync_engine.pool.checkedout())


def _tasks() -> int:
    """Tasks of the event loop but the job-event hubs' own (a hub waits with two tasks and reads
    with none, so their number depends on when one looks)."""
    return sum(1 for task in asyncio.all_tasks() if not task.get_name().startswith(APPLICATION_NAME))


async def _settled(condition: Callable[[], bool]) -> bool:
    """Whether the condition holds within WAIT (cleanup on the server side is asynchronous)."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def _held_job(state: Any, film: Any) -> str:
    """A job row made by hand as PROCESSING without a lease: no worker touches it, so a jobId
    subscription to it stays open."""
    async with state.db.transaction(None) as conn:
        job_id = (await conn.execute(text(
            "insert into image_generation_jobs (project_id, branch_id, job_type, status, prompt, width, height, "
            "idempotency_key) values (:p, :b, 'master_asset', 'processing', 'held', 64, 64, :k) returning id"),
            {"p": film.project_id, "b": film.branch_id, "k": str(uuid.uuid4())})).scalar_one()
    return str(job_id)


async def test_dropped_subscribers_leave_no_feeds_tasks_or_connections(alice: Client, capped: Any) -> None:
    film, instances = await film_with_instances(alice)
    held = await _held_job(capped, film)
    hub = capped.events
    url = capped.public_url.replace("http://", "ws://", 1) + "/graphql"
    # Counts, not identities.
    feeds_before, tasks_before = hub.subscribers, _tasks()

    sockets, per_socket = [], [(BY_JOB, {"j": held}), (BY_PROJECT, {"p": film.project_id})]
    for _ in range(5):
        ws = await websockets.connect(url, subprotocols=[PROTOCOL])  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {alice.token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "connection_ack"
        for n, (query, variables) in enumerate(per_socket, 1):
            payload = {"query": query, "variables": variables}
            await ws.send(json.dumps({"id": str(n), "type": "subscribe", "payload": payload}))
        # The jobId subscription's first message: subscribed and reading.
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["payload"]["data"]["imageJobUpdated"]["id"]
        sockets.append(ws)
    await until(lambda: hub.subscribers == feeds_before + 10)
    during = _tasks() - tasks_before
    # Events flow while the subscribers vanish: a job goes through its states.
    job = await generate(alice, instances["Lighthouse"])
    for ws in sockets:
        ws.transport.abort()  # no `complete`, no close frame: the TCP connection is gone
    assert await _settled(lambda: hub.subscribers == feeds_before), hub.subscribers - feeds_before
    assert await _settled(lambda: _tasks() <= tasks_before), _tasks() - tasks_before
    assert await _settled(lambda: _pool_checked_out(capped) == 0), _pool_checked_out(capped)
    print(f"\nleak check: 10 subscriptions on 5 sockets held {during} tasks and 10 hub feeds; "
          f"after the drop: {hub.subscribers - feeds_before} feeds, {_tasks() - tasks_before} tasks, "
          f"{_pool_checked_out(capped)} pooled connections checked out")
    # The hub still serves: a new subscriber sees the job the dropped ones were watching end.
    async with connect(capped.public_url, alice.token) as socket:
        op = await socket.subscribe(BY_JOB, {"j": job["id"]})
        status = (await op.job())["status"]
        while status not in ("COMPLETED", "FAILED"):
            status = (await op.job())["status"]
    assert status == "COMPLETED"
