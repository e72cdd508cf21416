"""The query planner answers exactly as the loader path does: every benchmark query and a
generated set of selections, for the owner and for another user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bench.film import BenchFilm, standard_film
from tests.support import Client

QUERIES = Path(__file__).resolve().parents[2] / "bench" / "queries"
OFF = {"x-continuity-planner": "off"}


async def post(client: Client, query: str, variables: dict[str, Any], planner: bool) -> dict[str, Any]:
    headers = client.headers() | ({} if planner else OFF)
    response = await client.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code < 500, response.text
    return response.json()


async def both(client: Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    planned = await post(client, query, variables, planner=True)
    loaded = await post(client, query, variables, planner=False)
    assert planned == loaded
    return planned


@pytest.fixture
async def film(database_url: str, alice: Client) -> BenchFilm:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with conn.transaction():
            return await standard_film(conn, str(alice.user_id), scenes=4, assets=5, shots=3)
    finally:
        await conn.close()


@pytest.mark.parametrize("name", ["scene_page", "stage9_page", "continuity_page"])
async def test_benchmark_queries_answer_alike_on_both_paths(
    name: str, film: BenchFilm, alice: Client, bob: Client
) -> None:
    query = (QUERIES / f"{name}.graphql").read_text()
    target = film.branch_id if name == "continuity_page" else film.scenes[3]
    mine = await both(alice, query, {"id": target})
    print(mine)
    theirs = await both(bob, query, {"id": target})
    assert theirs["data"] == {"branch" if name == "continuity_page" else "scene": None}


async def test_scene_page_is_one_statement_after_the_claims(film: BenchFilm, alice: Client, statements: Any) -> None:
    query = (QUERIES / "scene_page.graphql").read_text()
    await post(alice, query, {"id": film.scenes[2]}, planner=True)
    statements.take()
    body = await post(alice, query, {"id": film.scenes[2]}, planner=True)
    assert len(body["data"]["scene"]["assetInstances"]) == 5
    assert statements.take() == 2
