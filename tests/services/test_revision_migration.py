"""The migration that brings revisions gives every existing instance one CREATED revision (no
actor) and its edited flag, touches nothing else, and goes back cleanly."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.db import migrations
from tests.support import asyncpg_dsn, create_database, drop_database, run_sync

FILM = """
with p as (insert into projects (user_id, title) values (gen_random_uuid(), 'Before') returning id),
b as (insert into branches (project_id, name) select id, 'main' from p returning id, project_id),
s as (insert into scenes (project_id, branch_id, scene_number, slug)
      select project_id, id, 1, 's' from b returning id, branch_id, project_id),
a as (insert into project_assets (project_id, branch_id, name, asset_type, description)
      select b.project_id, b.id, n, 'prop', 'd' from b, unnest(array['plain', 'counted', 'override', 'tagged']) n
      returning id, name)
insert into scene_asset_instances (project_id, branch_id, scene_id, project_asset_id, description_override,
    status_tags, effective_description, base_version, base_description, modification_count)
select s.project_id, s.branch_id, s.id, a.id,
       case when a.name = 'override' then 'o' end,
       case when a.name = 'tagged' then array['muddy'] else '{}' end,
       'd', 1, 'd', case when a.name = 'counted' then 2 else 0 end
  from s, a
"""

READ = """
select a.name, i.edited, i.updated_at, r.number, r.kind, r.actor_user_id, r.before, r.after
  from scene_asset_instances i
  join project_assets a on a.id = i.project_asset_id
  left join instance_revisions r on r.scene_asset_instance_id = i.id
 order by a.name
"""


def _run(url: str, sql: str) -> list[Any]:
    async def go() -> list[Any]:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    return run_sync(go)  # type: ignore[no-any-return]


def test_existing_instances_get_a_created_revision_and_their_edited_flag(pg_server: str) -> None:
    url = create_database(pg_server, "continuity_revisions")
    try:
        migrations.upgrade(url, "0006")
        _run(url, FILM)
        stamps = {r["name"]: r["updated_at"] for r in _run(
            url, "select a.name, i.updated_at from scene_asset_instances i join project_assets a on a.id = i.project_asset_id")}
        migrations.upgrade(url)
        rows = _run(url, READ)
        assert [(r["name"], r["edited"], r["number"], r["kind"], r["actor_user_id"], r["before"]) for r in rows] == [
            ("counted", True, 1, "created", None, None),
            ("override", True, 1, "created", None, None),
            ("plain", False, 1, "created", None, None),
            ("tagged", True, 1, "created", None, None),
        ]
        assert all(r["updated_at"] == stamps[r["name"]] for r in rows)
        tagged = next(r for r in rows if r["name"] == "tagged")
        assert '"status_tags": ["muddy"]' in tagged["after"] and '"carry_forward": true' in tagged["after"]
        migrations.downgrade(url, "0005")
        columns = _run(url, "select column_name from information_schema.columns where table_name = 'scene_asset_instances'")
        assert "edited" not in {c["column_name"] for c in columns}
        assert _run(url, "select to_regclass('instance_revisions') as t")[0]["t"] is None
        migrations.upgrade(url)
        assert len(_run(url, "select * from instance_revisions")) == 4
    finally:
        drop_database(pg_server, url)
