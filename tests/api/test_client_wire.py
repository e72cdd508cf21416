"""What crosses the wire to browsers and websocket clients: text frames only, and a GraphiQL
page that loads everything from this server (README, For frontend engineers)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from services.core.config import DEV_USER_ID
from tests.support import Client, serving
from tests.support.film import film_with_instances
from tests.support.subscriptions import PROTOCOL, WAIT


async def _frames(base_url: str, token: str | None, messages: list[dict[str, Any]], expect: int) -> list[str | bytes]:
    """Raw frames the server sends after connection_init and the given messages."""
    url = base_url.replace("http://", "ws://", 1) + "/graphql"
    received: list[str | bytes] = []
    async with websockets.connect(url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        received.append(await asyncio.wait_for(ws.recv(), WAIT))
        for message in messages:
            await ws.send(json.dumps(message))
        await ws.send(json.dumps({"type": "ping"}))
        while len(received) < expect:
            received.append(await asyncio.wait_for(ws.recv(), WAIT))
    return received


async def test_every_websocket_message_is_a_text_frame(server: Any, alice: Client) -> None:
    _, instances = await film_with_instances(alice)
    job = (await alice.data(
        "mutation($i: UUID!) { generateSceneAssetImage(instanceId: $i) { id } }", {"i": instances["Mara"]}
    ))["generateSceneAssetImage"]
    messages = [
        {"id": "q", "type": "subscribe", "payload": {"query": "{ __typename }"}},
        {"id": "bad", "type": "subscribe", "payload": {"query": "subscription { imageJobUpdated { id } }"}},
        {"id": "job", "type": "subscribe", "payload": {
            "query": "subscription($j: UUID) { imageJobUpdated(jobId: $j) { id status } }", "variables": {"j": job["id"]}}},
    ]
    frames = await _frames(server.base_url, alice.token, messages, expect=1 + 2 + 2 + 1)
    assert [type(f) for f in frames] == [str] * len(frames), frames
    kinds = [json.loads(f)["type"] for f in frames]
    assert kinds[0] == "connection_ack" and {"next", "complete", "pong"} <= set(kinds), kinds


@pytest.fixture(scope="module")
async def dev_page(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.Response]]:
    async with serving(database_url, [], dev_auth=True) as state, httpx.AsyncClient(base_url=state.public_url) as c:
        yield c, await c.get("/graphql", headers={"Accept": "text/html"})


async def test_graphiql_loads_every_asset_from_this_server(dev_page: tuple[httpx.AsyncClient, httpx.Response]) -> None:
    client, page = dev_page
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<title>Continuity</title>" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 5 and all(a.startswith("/graphiql/") for a in assets), assets
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html) and "unpkg" not in html
    for asset in assets:
        response = await client.get(asset)
        assert response.status_code == 200 and len(response.content) > 5_000, asset
        kind = "text/css" if asset.endswith(".css") else "javascript"
        assert kind in response.headers["content-type"], (asset, response.headers["content-type"])
        # No bundle reaches for a CDN at run time either.
        assert b"unpkg.com" not in response.content and b"cdn.jsdelivr" not in response.content, asset


async def test_graphiql_says_whom_requests_act_as_in_development_mode(
    dev_page: tuple[httpx.AsyncClient, httpx.Response], http: httpx.AsyncClient
) -> None:
    _, page = dev_page
    assert f"requests without a token act as user {DEV_USER_ID}" in page.text
    outside = await http.get("/graphql", headers={"Accept": "text/html"})
    assert DEV_USER_ID not in outside.text and "Requests need a token" in outside.text


async def test_graphiqls_default_tab_runs_on_the_demo_film(dev_page: tuple[httpx.AsyncClient, httpx.Response]) -> None:
    from gql.graphiql import FILM_QUERY, JOBS_SUBSCRIPTION

    client, page = dev_page
    config = json.loads(re.search(r'<script id="continuity-config" type="application/json">(.*?)</script>',
                                  page.text, re.S).group(1))  # type: ignore[union-attr]
    assert [t["query"] for t in config["tabs"]] == [FILM_QUERY, JOBS_SUBSCRIPTION]
    response = await client.post("/graphql", json={"query": FILM_QUERY})
    body = response.json()
    assert "errors" not in body and body["data"]["viewer"]["userId"] == DEV_USER_ID
