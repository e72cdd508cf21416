"""Every relation goes through a per-request DataLoader: statements do not grow with data."""

from __future__ import annotations

from typing import Any

from tests.support import Client
from tests.support.film import new_film

DEEP = """
query($b: UUID!) {
  branch(id: $b) {
    name project { title activeBranch { name } }
    assets { name sceneInstances { id } }
    scenes {
      sceneNumber priorScene { sceneNumber } branch { name }
      stageLocks { stage }
      assetInstances { effectiveDescription isOutdated projectAsset { name } inheritedFrom { id } scene { id } chain { id } }
      shots { shotLabel scene { sceneNumber } assetAssignments { id } transformationEvents { id } }
      shotAssignments { id }
      hasShotAssignments
    }
  }
}
"""


async def _film(client: Client, scenes: int, shots: int) -> str:
    film = await new_film(client)
    for name in ("Mara", "Tom"):
        await film.asset(name)
    await film.lock_assets()
    for n in range(1, scenes + 1):
        scene = await film.scene(n)
        for s in range(1, shots + 1):
            await film.shot(n, f"{n}-{s}", s)
        await client.data("mutation($s: UUID!) { inheritSceneAssets(sceneId: $s) { count } }", {"s": scene})
    return film.branch_id


async def test_deep_query_statements_do_not_grow_with_scenes_and_shots(alice: Client, statements: Any) -> None:
    small = await _film(alice, 3, 2)
    large = await _film(alice, 30, 10)
    counts = []
    for branch in (small, large):
        statements.take()
        data = await alice.data(DEEP, {"b": branch})
        counts.append(statements.take())
        assert data["branch"]["scenes"]
    assert counts[0] == counts[1], counts
