"""Websocket limits (graphql-transport-ws): the connection_init timeout, the number of
operations one connection may run at once, the message size, and the query limits."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gql.app import ContinuityGraphQL, server_options
from gql.context import AppState
from gql.errors import ErrorCodes
from gql.queries import Query
from gql.schema import ContinuitySchema
from tests.support import Client, free_port

PROTOCOL = "graphql-transport-ws"


@strawberry.type
class Ticks:
    """A test-only subscription: one tick, then open until the client completes it."""

    @strawberry.subscription
    async def ticks(self) -> AsyncIterator[int]:
        yield 0
        await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def serving(server: Any, schema: Any = None, **settings: Any) -> AsyncIterator[str]:
    """The GraphQL view alone with other settings (and schema), on its own port."""
    state = AppState(
        db=server.state.db,
        settings=replace(server.settings, **settings),
        dev_auth=False,
        public_url=server.base_url,
    )
    view = ContinuityGraphQL(state, schema=schema)
    app = Starlette(routes=[Route("/graphql", view), WebSocketRoute("/graphql", view)])
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
            **server_options(state.settings),
        )
    )
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        uv.should_exit = True
        await task


async def receive(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=30))


async def receive_for(ws: ClientConnection, operation: str) -> dict[str, Any]:
    while True:
        message = await receive(ws)
        if message.get("id") == operation:
            return message


async def initialised(ws: ClientConnection, token: str | None = None) -> None:
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert (await receive(ws))["type"] == "connection_ack"


async def subscribe(ws: ClientConnection, operation: str, query: str) -> None:
    await ws.send(json.dumps({"id": operation, "type": "subscribe", "payload": {"query": query}}))


async def test_a_connection_without_connection_init_is_closed_4408(server: Any) -> None:
    async with serving(server, ws_init_timeout_seconds=0.2) as url, connect(url, subprotocols=[PROTOCOL]) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), timeout=30)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4408


async def test_operations_per_connection_are_capped_with_a_coded_error(server: Any) -> None:
    schema = ContinuitySchema(query=Query, subscription=Ticks, extensions=[ErrorCodes])
    async with serving(server, schema, ws_max_subscriptions=2) as url, connect(url, subprotocols=[PROTOCOL]) as ws:
        await initialised(ws)
        for operation in ("1", "2"):
            await subscribe(ws, operation, "subscription { ticks }")
            assert (await receive_for(ws, operation))["payload"] == {"data": {"ticks": 0}}
        await subscribe(ws, "3", "subscription { ticks }")
        refused = await receive_for(ws, "3")
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"] == {
            "code": "TOO_MANY_SUBSCRIPTIONS", "maxSubscriptions": 2
        }
        # The connection and its operations go on; completing one frees a place.
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
        await subscribe(ws, "4", "subscription { ticks }")
        assert (await receive_for(ws, "4"))["payload"] == {"data": {"ticks": 0}}


async def test_query_limits_hold_over_websockets(server: Any, alice: Client) -> None:
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    deep = "{ viewer { projects { " + "branches { project { " * 8 + "id" + " } }" * 8 + " } } }"
    async with connect(url, subprotocols=[PROTOCOL]) as ws:
        await initialised(ws, alice.token)
        await subscribe(ws, "deep", deep)
        refused = await receive_for(ws, "deep")
        assert refused["type"] == "error"
        extensions = dict(refused["payload"][0]["extensions"])
        assert isinstance(extensions.pop("requestId"), str)  # the connection's request id
        assert extensions == {"code": "QUERY_TOO_DEEP", "depth": 19, "maxDepth": 15}
        await subscribe(ws, "ok", "{ viewer { userId } }")
        answered = await receive_for(ws, "ok")
        assert answered["payload"] == {"data": {"viewer": {"userId": alice.user_id}}}


async def test_a_websocket_message_over_the_body_limit_closes_the_connection(server: Any) -> None:
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[PROTOCOL], max_size=None) as ws:
        await initialised(ws)
        padding = " " * server.settings.max_body_bytes
        await ws.send(json.dumps({"id": "big", "type": "subscribe", "payload": {"query": "{ __typename }" + padding}}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), timeout=30)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


async def test_errors_over_websockets_carry_their_codes(server: Any, alice: Client) -> None:
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    missing = "00000000-0000-4000-8000-00000000abcd"
    cases = {
        "validation": ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
        "variables": ("query($id: UUID!) { scene(id: $id) { id } }", "BAD_USER_INPUT"),
        "field": (
            f'mutation {{ setSceneStageStatus(sceneId: "{missing}", stage: 9, status: LOCKED) {{ id }} }}',
            "NOT_FOUND",
        ),
    }
    async with connect(url, subprotocols=[PROTOCOL]) as ws:
        await initialised(ws, alice.token)
        for operation, (query, code) in cases.items():
            await subscribe(ws, operation, query)
            message = await receive_for(ws, operation)
            errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
            assert [e["extensions"]["code"] for e in errors] == [code], message
