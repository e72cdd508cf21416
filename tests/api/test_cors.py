"""CORS on /graphql and /media, over real HTTP (README, For frontend engineers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gql.cors import cors_rule
from services.core.config import load_settings
from tests.support import serving

QUERY = {"query": "{ __typename }"}
VITE = "http://127.0.0.1:5173"


@pytest.fixture(scope="module")
async def dev(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(database_url, [], dev_auth=True) as state, httpx.AsyncClient(base_url=state.public_url) as c:
        yield c


@pytest.fixture(scope="module")
async def listed(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    origins = "https://studio.example, http://localhost:3000"
    async with serving(database_url, [], dev_auth=True, cors_origins=origins) as state, \
            httpx.AsyncClient(base_url=state.public_url) as c:
        yield c


@pytest.fixture(scope="module")
async def anyone(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(database_url, [], cors_origins="*") as state, httpx.AsyncClient(base_url=state.public_url) as c:
        yield c


def preflight(origin: str, method: str = "POST", headers: str = "authorization,content-type") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


@pytest.mark.parametrize(
    ("setting", "dev_auth", "allowed", "refused"),
    [
        (None, True, ["http://localhost:5173", "http://127.0.0.1:8080", "http://[::1]:3000"],
         ["http://localhost", "https://localhost:5173", "http://127.0.0.2:5173", "http://localhost.example:5173",
          "http://studio.example", "null"]),
        (None, False, [], ["http://localhost:5173", "https://studio.example"]),
        ("", True, ["http://localhost:5173"], ["https://studio.example"]),
        ("https://studio.example,http://localhost:3000", True, ["https://studio.example", "http://localhost:3000"],
         ["http://localhost:5173", "https://studio.example:443", "https://evil.studio.example"]),
        ("*", False, ["https://anything.example", "http://localhost:1"], []),
    ],
)
def test_which_origins_are_allowed(setting: str | None, dev_auth: bool, allowed: list[str], refused: list[str]) -> None:
    import re

    rule = cors_rule(setting, dev_auth)

    def allows(origin: str) -> bool:
        return origin in rule.origins or (rule.pattern is not None and re.fullmatch(rule.pattern, origin) is not None)

    assert [o for o in allowed if not allows(o)] == []
    assert [o for o in refused if allows(o)] == []


async def test_a_loopback_origin_is_allowed_in_development_mode(dev: httpx.AsyncClient) -> None:
    answer = await dev.options("/graphql", headers=preflight(VITE))
    assert answer.status_code == 204, answer.text
    assert cors_headers(answer) == {
        "access-control-allow-origin": VITE,
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": "authorization,content-type",
        "access-control-max-age": "600",
    }
    assert "Origin" in answer.headers["vary"]
    response = await dev.post("/graphql", json=QUERY, headers={"Origin": VITE})
    assert response.json() == {"data": {"__typename": "Query"}}
    assert cors_headers(response) == {
        "access-control-allow-origin": VITE, "access-control-expose-headers": "X-Request-Id",
    }
    assert "Origin" in response.headers["vary"]


async def test_an_origin_not_allowed_gets_no_cors_header(dev: httpx.AsyncClient, listed: httpx.AsyncClient) -> None:
    for client, origin in ((dev, "https://studio.example"), (listed, VITE)):
        answer = await client.options("/graphql", headers=preflight(origin))
        assert not 200 <= answer.status_code < 300, answer
        assert cors_headers(answer) == {}
        response = await client.post("/graphql", json=QUERY, headers={"Origin": origin})
        assert response.status_code == 200 and cors_headers(response) == {}
        assert "Origin" in response.headers["vary"]


async def test_listed_origins_are_allowed_exactly(listed: httpx.AsyncClient) -> None:
    for origin in ("https://studio.example", "http://localhost:3000"):
        answer = await listed.options("/graphql", headers=preflight(origin))
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-origin"] == origin


async def test_a_star_echoes_the_origin(anyone: httpx.AsyncClient) -> None:
    origin = "https://anything.example"
    answer = await anyone.options("/graphql", headers=preflight(origin, "GET", "x-custom"))
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == origin
    assert answer.headers["access-control-allow-headers"] == "x-custom"
    response = await anyone.get("/graphql", params=QUERY, headers={"Origin": origin})
    assert response.headers["access-control-allow-origin"] == origin
    assert "Origin" in response.headers["vary"]


async def test_a_method_outside_get_post_options_is_not_granted(anyone: httpx.AsyncClient) -> None:
    answer = await anyone.options("/graphql", headers=preflight("https://a.example", "DELETE"))
    assert not 200 <= answer.status_code < 300


async def test_media_carries_cors_too(dev: httpx.AsyncClient) -> None:
    answer = await dev.options("/media/some.png", headers=preflight(VITE, "GET", ""))
    assert answer.status_code == 204 and answer.headers["access-control-allow-origin"] == VITE
    media = load_settings().media_dir
    media.mkdir(parents=True, exist_ok=True)
    (media / "cors-test.png").write_bytes(b"\x89PNG")
    image = await dev.get("/media/cors-test.png", headers={"Origin": VITE})
    assert image.status_code == 200 and image.headers["access-control-allow-origin"] == VITE


async def test_an_options_request_without_a_preflight_still_gets_the_coded_405(dev: httpx.AsyncClient) -> None:
    response = await dev.options("/graphql")
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_health_is_not_cross_origin(dev: httpx.AsyncClient) -> None:
    response = await dev.get("/healthz", headers={"Origin": VITE})
    assert cors_headers(response) == {}


def test_no_server_answers_cors_without_the_rule(server: Any) -> None:
    # The shared test server runs outside development mode with no origins: none allowed.
    assert not cors_rule(server.settings.cors_origins, False).allows_any
