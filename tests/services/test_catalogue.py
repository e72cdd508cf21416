"""The table catalogue (`services.db.tables`) and the migrations describe the same database."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.db.tables import metadata
from tests.support import run_sync


def _differences(url: str) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async def read() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return run_sync(read)


def test_upgrade_head_matches_the_catalogue(database_url: str) -> None:
    # The session's database is `upgrade head` on an empty database (tests/conftest.py); tests
    # change rows there, never the schema (the few that add a probe table drop it themselves).
    diff = _differences(database_url)
    # A new migration's columns, keys and indexes go into tables.py as well.
    assert not diff, "src/services/db/tables.py and `upgrade head` differ:\n" + "\n".join(
        describe(d) for d in diff
    )


def describe(difference: Any) -> str:
    """One line per difference: "add_*" is in the catalogue only, "remove_*" in the database
    only, "modify_*" in both but unlike (catalogue's value last)."""
    if isinstance(difference, list):  # modify_* entries come grouped per column
        return "\n".join(describe(d) for d in difference)
    kind, *rest = difference
    if kind.startswith("modify_"):
        _schema, table, column, _existing, database, catalogue = rest
        return f"{kind} {table}.{column}: database {database!r}, catalogue {catalogue!r}"
    if kind in ("add_column", "remove_column"):
        _schema, table, column = rest
        return f"{kind} {table}.{column.name} {column.type}"
    item = rest[-1]
    if kind.endswith("_table"):
        return f"{kind} {item.name}"
    table = getattr(item, "table", None)
    columns = [getattr(c, "name", str(c)) for c in getattr(item, "columns", [])] or [
        str(e) for e in getattr(item, "expressions", [])
    ]
    extra = f" on delete {item.ondelete}" if getattr(item, "ondelete", None) else ""
    return f"{kind} {getattr(table, 'name', '?')}: {item.name} ({', '.join(columns)}){extra}"


