"""Running the loaders' batch reads: one statement per batch of parent keys.

Each domain keeps its reads beside its services (`services.<domain>.reads`, a `READS` map from
relation name to statement); the GraphQL layer's loaders pick the read of a relation and run it
here. A read selects `_key`, the parent key each row answers, and binds `:keys` (every key of
the batch, one array) and `:uid` (the viewer).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from services.db.predicates import typed

KEYS = ":keys"


def reads(sql: Mapping[str, str]) -> dict[str, TextClause]:
    """The statements of a domain's reads, compiled once with their binds' types."""
    return {name: typed(text) for name, text in sql.items()}


async def read_batch(
    conn: AsyncConnection, uid: str, statement: TextClause, keys: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[RowMapping]]:
    """Rows for every key, grouped by key, each group in list order (the relation's row type of
    services.db.rows, plus `_key`)."""
    grouped: dict[uuid.UUID, list[RowMapping]] = defaultdict(list)
    result = await conn.execute(statement, {"keys": list(keys), "uid": uid})
    for row in result.mappings():
        grouped[row["_key"]].append(row)
    return grouped
