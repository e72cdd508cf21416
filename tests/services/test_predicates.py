"""The shared orders (`services.db.predicates`), as PostgreSQL applies them."""

from __future__ import annotations

import asyncpg

from services.db.predicates import asset_name_order, asset_order, shot_order
from tests.support import asyncpg_dsn, run_sync


def _ordered(database_url: str, rows: str, columns: str, order: str) -> list[str]:
    async def read() -> list[str]:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            found = await conn.fetch(f"select t.label from (values {rows}) t(label, {columns}) order by {order}")
            return [r["label"] for r in found]
        finally:
            await conn.close()

    return run_sync(read)


def _id(n: int) -> str:
    return f"'00000000-0000-4000-8000-{n:012d}'::uuid"


ASSETS = f"""
    ('Anchor', 'prop', 'Anchor', {_id(1)}),
    ('Lighthouse', 'location', 'Lighthouse', {_id(2)}),
    ('Mara', 'character', 'Mara', {_id(3)}),
    ('bo', 'character', 'bo', {_id(4)}),
    ('x-9', 'prop', 'x', {_id(9)}),
    ('X-8', 'prop', 'X', {_id(8)})
"""


def test_asset_order_is_type_then_name_ignoring_case_then_id(database_url: str) -> None:
    got = _ordered(database_url, ASSETS, "asset_type, name, id", asset_order("t"))
    assert got == ["bo", "Mara", "Lighthouse", "Anchor", "X-8", "x-9"]


def test_a_branch_lists_its_assets_by_name_ignoring_case_then_id(database_url: str) -> None:
    got = _ordered(database_url, ASSETS, "asset_type, name, id", asset_name_order("t"))
    assert got == ["Anchor", "bo", "Lighthouse", "Mara", "X-8", "x-9"]


def test_shot_order_is_shot_order_then_label(database_url: str) -> None:
    rows = "('second', 2, 'A'), ('third', 2, 'B'), ('first', 1, 'Z')"
    assert _ordered(database_url, rows, "shot_order, shot_label", shot_order("t")) == ["first", "second", "third"]
