"""Per-request DataLoaders: one per relation, one SQL statement per batch.

A loader answers with GraphQL objects, not rows, and primes the by-id loader of what it
fetched, so a later `{ scene { ... } }` of a row already read costs nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiodataloader import DataLoader

from services import batches
from services.db.database import Database

Factory = Callable[[Any], Any]

# relation -> (factory of the GraphQL object, by-id loader it primes)
_ENTITY: dict[str, tuple[str, str | None]] = {
    "project": ("Project", None),
    "branch": ("Branch", None),
    "branches_of_project": ("Branch", "branch"),
    "scene": ("Scene", None),
    "scenes_of_branch": ("Scene", "scene"),
    "prior_scene": ("Scene", "scene"),
    "shot": ("Shot", None),
    "shots_of_scene": ("Shot", "shot"),
    "asset": ("ProjectAsset", None),
    "assets_of_branch": ("ProjectAsset", "asset"),
    "instance": ("SceneAssetInstance", None),
    "instances_of_scene": ("SceneAssetInstance", "instance"),
    "instances_of_asset": ("SceneAssetInstance", "instance"),
    "chain_of_instance": ("SceneAssetInstance", "instance"),
    "assignment": ("ShotAssetAssignment", None),
    "assignments_of_shot": ("ShotAssetAssignment", "assignment"),
    "assignments_of_scene": ("ShotAssetAssignment", "assignment"),
    "assignments_of_instance": ("ShotAssetAssignment", "assignment"),
    "events_of_shot": ("TransformationEvent", None),
    "image_job": ("ImageJob", None),
    "start_frame_of_shot": ("ImageJob", None),
    "end_frame_of_shot": ("ImageJob", None),
}


def _factories() -> dict[str, Factory]:
    from gql.types.assignment import ShotAssetAssignment, TransformationEvent
    from gql.types.image_job import ImageJob
    from gql.types.instance import SceneAssetInstance
    from gql.types.project import Branch, Project, ProjectAsset
    from gql.types.scene import Scene, Shot

    types: dict[str, Any] = {
        "Project": Project,
        "Branch": Branch,
        "Scene": Scene,
        "Shot": Shot,
        "ProjectAsset": ProjectAsset,
        "SceneAssetInstance": SceneAssetInstance,
        "ShotAssetAssignment": ShotAssetAssignment,
        "TransformationEvent": TransformationEvent,
        "ImageJob": ImageJob,
    }
    return {name: cls.from_row for name, cls in types.items()}


_FACTORIES: dict[str, Factory] | None = None


def factory(type_name: str) -> Factory:
    global _FACTORIES
    if _FACTORIES is None:
        _FACTORIES = _factories()
    return _FACTORIES[type_name]


def handed_on(future: Awaitable[Any]) -> Any:
    """A loader's future returned from a synchronous resolver: graphql-core awaits it, and no
    coroutine is made per field (the loader path's hottest cost after execution itself)."""
    return future


class Loaders:
    def __init__(self, db: Database, uid: str) -> None:
        self.db = db
        self.uid = uid
        self._loaders: dict[tuple[str, bool], DataLoader] = {}

    def _make(self, relation: str, single: bool) -> DataLoader:
        type_name, primes = _ENTITY[relation]
        build = factory(type_name)

        async def batch(keys: list[Any]) -> list[Any]:
            async with self.db.transaction(self.uid) as conn:
                grouped = await batches.read_many(conn, self.uid, relation, keys)
            if single:
                return [build(rows[0]) if (rows := grouped.get(k)) else None for k in keys]
            answers = [[build(row) for row in grouped.get(k, ())] for k in keys]
            if primes is not None:
                by_id = self.one(primes)
                for objects in answers:
                    for obj in objects:
                        by_id.prime(obj.id, obj)
            return answers

        return DataLoader(batch)

    def one(self, relation: str) -> DataLoader:
        """Keyed by id (or by parent for to-one relations): the object or None."""
        key = (relation, True)
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = self._make(relation, True)
        return loader

    def many(self, relation: str) -> DataLoader:
        """Keyed by parent id: the list of children, in list order."""
        key = (relation, False)
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = self._make(relation, False)
        return loader

    def value(self, relation: str, column: str, default: Any = None) -> DataLoader:
        """Keyed by id: one column of the relation's row (e.g. a flag), or the default."""
        key = (f"{relation}.{column}", True)
        loader = self._loaders.get(key)
        if loader is None:

            async def batch(keys: list[Any]) -> list[Any]:
                async with self.db.transaction(self.uid) as conn:
                    grouped = await batches.read_many(conn, self.uid, relation, keys)
                return [rows[0][column] if (rows := grouped.get(k)) else default for k in keys]

            loader = self._loaders[key] = DataLoader(batch)
        return loader

    def custom(self, name: str, batch: Callable[[list[Any]], Any]) -> DataLoader:
        """A loader with its own batch function (e.g. chains, frame references)."""
        key = (name, False)
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = DataLoader(batch)
        return loader
