"""Builds films through the public API, for tests that need one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bench.film import BenchFilm, standard_film
from tests.support import Client, asyncpg_dsn

CREATE_PROJECT = "mutation($t: String!) { createProject(input: {title: $t}) { id activeBranch { id } } }"
CREATE_ASSET = """
mutation($i: CreateProjectAssetInput!) { createProjectAsset(input: $i) { id name assetType version } }
"""
CREATE_SCENE = "mutation($i: CreateSceneInput!) { createScene(input: $i) { id sceneNumber } }"
CREATE_SHOT = "mutation($i: CreateShotInput!) { createShot(input: $i) { id shotLabel } }"
LOCK_ASSETS = "mutation($b: UUID!) { lockProjectAssets(branchId: $b) { id } }"
LOCK_STYLE = "mutation($b: UUID!, $c: String!) { lockVisualStyle(branchId: $b, capsuleId: $c) { id } }"


@dataclass
class Film:
    client: Client
    project_id: str
    branch_id: str
    assets: dict[str, str] = field(default_factory=dict)
    scenes: dict[int, str] = field(default_factory=dict)
    shots: dict[str, str] = field(default_factory=dict)

    async def asset(
        self, name: str, asset_type: str = "CHARACTER", description: str | None = None,
        image: str | None = None,
    ) -> str:
        given: dict[str, Any] = {
            "branchId": self.branch_id,
            "name": name,
            "assetType": asset_type,
            "description": description or f"{name}, as designed",
        }
        if image is not None:
            given["imageKeyUrl"] = image
        data = await self.client.data(CREATE_ASSET, {"i": given})
        self.assets[name] = data["createProjectAsset"]["id"]
        return self.assets[name]

    async def scene(self, number: int, **extra: Any) -> str:
        given = {"branchId": self.branch_id, "sceneNumber": number, "slug": f"scene-{number}", **extra}
        data = await self.client.data(CREATE_SCENE, {"i": given})
        self.scenes[number] = data["createScene"]["id"]
        return self.scenes[number]

    async def shot(self, scene_number: int, label: str, order: int, **extra: Any) -> str:
        given = {
            "sceneId": self.scenes[scene_number],
            "shotLabel": label,
            "shotOrder": order,
            "durationSeconds": 4,
            **extra,
        }
        data = await self.client.data(CREATE_SHOT, {"i": given})
        self.shots[label] = data["createShot"]["id"]
        return self.shots[label]

    async def lock_assets(self) -> None:
        await self.client.data(LOCK_ASSETS, {"b": self.branch_id})

    async def lock_style(self, capsule: str = "noir-1") -> None:
        await self.client.data(LOCK_STYLE, {"b": self.branch_id, "c": capsule})


async def new_film(client: Client, title: str = "Test film") -> Film:
    data = await client.data(CREATE_PROJECT, {"t": title})
    project = data["createProject"]
    return Film(client=client, project_id=project["id"], branch_id=project["activeBranch"]["id"])


INHERIT_IDS = "mutation($s: UUID!) { inheritSceneAssets(sceneId: $s) { instances { id projectAsset { name } } } }"


async def film_with_instances(client: Client, *, style: bool = True) -> tuple[Film, dict[str, str]]:
    """Scene 1 with an instance of a character, a location and a prop (by asset name)."""
    film = await new_film(client, "Image film")
    await film.asset("Mara", "CHARACTER", "An old keeper", image="https://img.example/mara.png")
    await film.asset("Lighthouse", "LOCATION", "A white tower")
    await film.asset("Anchor", "PROP", "A rusty anchor")
    await film.lock_assets()
    await film.scene(1)
    data = await client.data(INHERIT_IDS, {"s": film.scenes[1]})
    if style:
        await film.lock_style()
    return film, {i["projectAsset"]["name"]: i["id"] for i in data["inheritSceneAssets"]["instances"]}


async def bulk_film(
    database_url: str, owner: str, *, scenes: int, assets: int, shots: int, title: str = "Bulk film"
) -> BenchFilm:
    """A film of the given size inserted as the system with set-based SQL (the benchmark's
    standard film, bench/film.py: every scene one instance per asset, chained to the prior
    scene's; every instance on every shot): for tests about what reads or writes cost at a size,
    not about how the film was built (a few statements instead of a request per scene and shot)."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with conn.transaction():
            return await standard_film(conn, owner, scenes=scenes, assets=assets, shots=shots, title=title)
    finally:
        await conn.close()
