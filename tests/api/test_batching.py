"""Every relation goes through a per-request DataLoader: statements do not grow with data."""

from __future__ import annotations

from typing import Any

from tests.support import Client
from tests.support.film import bulk_film

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


async def test_deep_query_statements_do_not_grow_with_scenes_and_shots(
    alice: Client, database_url: str, statements: Any
) -> None:
    small = await bulk_film(database_url, str(alice.user_id), scenes=3, assets=2, shots=2)
    large = await bulk_film(database_url, str(alice.user_id), scenes=30, assets=2, shots=10)
    counts = []
    for film in (small, large):
        statements.take()
        data = await alice.data(DEEP, {"b": film.branch_id})
        counts.append(statements.take())
        scenes = data["branch"]["scenes"]
        # Every relation has rows to load, so a query per row would show in the count.
        assert len(scenes) == len(film.scenes) and all(s["shots"] and s["assetInstances"] for s in scenes)
        assert all(i["inheritedFrom"] for s in scenes[1:] for i in s["assetInstances"])
        assert all(sh["assetAssignments"] for s in scenes for sh in s["shots"])
    assert counts[0] == counts[1], counts
