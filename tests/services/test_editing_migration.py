"""Migration 0006 on a database with data: every branch's chains repaired once, link times
set, scene numbers shiftable in one statement; and back down to 0005."""

from __future__ import annotations

import uuid

import asyncpg

from bench.film import standard_film
from services.db import migrations
from tests.support import asyncpg_dsn, create_database, drop_database, run_sync

OWNER = str(uuid.uuid4())

# Rows whose link differs from the rule: the asset's instance in the latest earlier scene.
WRONG_LINKS = """
with ordered as (
    select i.id, i.inherited_from_instance_id as link,
           lag(i.id) over (partition by i.project_asset_id order by s.scene_number) as parent
      from scene_asset_instances i join scenes s on s.id = i.scene_id)
select count(*) from ordered where link is distinct from parent
"""

# Broken the ways the old rules left chains: a cleared link after a delete, a link that skips
# a scene having the asset, and an instance removed from the middle of a chain.
BREAK = """
update scene_asset_instances i set inherited_from_instance_id = null
  from scenes s where s.id = i.scene_id and s.scene_number = 3;
update scene_asset_instances i set inherited_from_instance_id = p.id
  from scenes s, scenes ps, scene_asset_instances p
 where s.id = i.scene_id and s.scene_number = 5 and ps.branch_id = s.branch_id and ps.scene_number = 2
   and p.scene_id = ps.id and p.project_asset_id = i.project_asset_id;
delete from scene_asset_instances i using scenes s, project_assets a
 where s.id = i.scene_id and s.scene_number = 4 and a.id = i.project_asset_id and a.name like 'Mara%';
"""


def test_0006_repairs_every_branch_once_and_goes_back_down(pg_server: str) -> None:
    url = create_database(pg_server, "continuity_editing_migration")
    dsn = asyncpg_dsn(url)

    async def prepare() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for title in ("One", "Two"):
                await standard_film(conn, OWNER, scenes=6, assets=5, shots=2, title=title)
            await conn.execute(BREAK)
            assert await conn.fetchval(WRONG_LINKS) > 0
        finally:
            await conn.close()

    async def check() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval(WRONG_LINKS) == 0
            assert await conn.fetchval("select count(*) from scene_asset_instances where linked_at is null") == 0
            branch = await conn.fetchval("select id from branches limit 1")
            # One statement shifts every scene number by one (the constraint is checked at its end).
            await conn.execute("update scenes set scene_number = scene_number + 1 where branch_id = $1", branch)
            # updated_at moves on a real change of an edited field only.
            before = await conn.fetchval("select updated_at from scenes where branch_id = $1 and scene_number = 2", branch)
            await conn.execute("update scenes set stage_locks = '{}' where branch_id = $1 and scene_number = 2", branch)
            assert await conn.fetchval(
                "select updated_at from scenes where branch_id = $1 and scene_number = 2", branch) == before
        finally:
            await conn.close()

    try:
        migrations.upgrade(url, "0005")
        run_sync(prepare)
        migrations.upgrade(url, "0006")
        run_sync(check)
        migrations.downgrade(url, "0005")
        migrations.upgrade(url, "0006")
    finally:
        drop_database(pg_server, url)
