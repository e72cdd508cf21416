"""Per-request DataLoaders: one per relation, one SQL statement per batch.

A loader answers with GraphQL objects, not rows, and primes the by-id loader of what it
fetched, so a later `{ scene { ... } }` of a row already read costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiodataloader import DataLoader

from gql.relations import RelationName, ValueRelation, registered
from services.db import reads
from services.db.database import Database


class Loaders:
    def __init__(self, db: Database, uid: str) -> None:
        self.db = db
        self.uid = uid
        self._loaders: dict[tuple[str, bool], DataLoader] = {}

    def _make(self, relation: RelationName, single: bool) -> DataLoader:
        build, primes = registered(relation).build, registered(relation).primes

        async def batch(keys: list[Any]) -> list[Any]:
            async with self.db.transaction(self.uid) as conn:
                grouped = await reads.read_many(conn, self.uid, relation, keys)
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

    def one(self, relation: RelationName) -> DataLoader:
        """Keyed by id (or by parent for to-one relations): the object or None."""
        key = (relation, True)
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = self._make(relation, True)
        return loader

    def many(self, relation: RelationName) -> DataLoader:
        """Keyed by parent id: the list of children, in list order."""
        key = (relation, False)
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = self._make(relation, False)
        return loader

    def value(self, relation: ValueRelation, column: str, default: Any = None) -> DataLoader:
        """Keyed by id: one column of the relation's row (e.g. a flag), or the default."""
        key = (f"{relation}.{column}", True)
        loader = self._loaders.get(key)
        if loader is None:

            async def batch(keys: list[Any]) -> list[Any]:
                async with self.db.transaction(self.uid) as conn:
                    grouped = await reads.read_many(conn, self.uid, relation, keys)
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
