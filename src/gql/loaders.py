"""Per-request DataLoaders: one per relation, one SQL statement per batch.

A loader answers with GraphQL objects, not rows, and primes the by-id loader of what it
fetched, so a later `{ scene { ... } }` of a row already read costs nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from gql.relations import RelationName, ValueRelation, registered
from services.casting.reads import READS as CASTING_READS
from services.db.batches import read_batch
from services.db.database import Database
from services.film.reads import READS as FILM_READS
from services.images.reads import READS as IMAGE_READS
from services.instances.reads import READS as INSTANCE_READS

# Which domain's read answers each relation (services.<domain>.reads).
READS: dict[str, TextClause] = {**FILM_READS, **INSTANCE_READS, **CASTING_READS, **IMAGE_READS}


async def read_relation(
    conn: AsyncConnection, uid: str, relation: RelationName | ValueRelation, keys: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[RowMapping]]:
    """The rows of `relation` for every key, grouped by key, in list order."""
    return await read_batch(conn, uid, READS[relation], keys)


class Loaders:
    def __init__(self, db: Database, uid: str) -> None:
        self.db = db
        self.uid = uid
        self._loaders: dict[tuple[str, bool], DataLoader] = {}

    def _make(self, relation: RelationName, single: bool) -> DataLoader:
        build, primes = registered(relation).build, registered(relation).primes

        async def batch(keys: list[Any]) -> list[Any]:
            async with self.db.transaction(self.uid) as conn:
                grouped = await read_relation(conn, self.uid, relation, keys)
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
                    grouped = await read_relation(conn, self.uid, relation, keys)
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
