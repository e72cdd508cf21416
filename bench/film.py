"""The standard film, inserted as the system with set-based SQL (no API, no per-row statements).

Scale N: 40N scenes, 25N assets, every scene one instance per asset inheriting from the prior
scene's instance of that asset, 12 shots per scene, every instance on every shot.
At N=1: 1,000 instances and 12,000 assignments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

OWNER = "00000000-0000-4000-8000-00000000b001"
STRANGER = "00000000-0000-4000-8000-00000000b002"

SCENES = 40
ASSETS = 25
SHOTS = 12

# One statement per table, each over generate_series: the data size never changes the count.
FILM = """
with ids as (select gen_random_uuid() as p, gen_random_uuid() as b),
pr as (insert into projects (id, user_id, title, active_branch_id)
       select p, $1::uuid, $2, b from ids),
br as (insert into branches (id, project_id, name) select b, p, 'main' from ids)
select p, b from ids
"""

ASSETS_SQL = """
insert into project_assets (project_id, branch_id, name, asset_type, description, image_key_url,
                            locked, version)
select $1::uuid, $2::uuid,
       (array['Mara', 'Tom', 'Lighthouse', 'Lantern', 'Harbour'])[1 + n % 5] || ' ' || n,
       (array['character', 'location', 'prop'])[1 + n % 3],
       'The designed look of asset ' || n || ': ' || repeat('weathered detail, ', 4),
       case when n % 4 = 0 then null else 'https://img.example.com/assets/' || n || '.png' end,
       true, 1 + n % 2
  from generate_series(1, $3::int) n
"""

SCENES_SQL = """
insert into scenes (project_id, branch_id, scene_number, slug, script_excerpt, end_state_summary,
                    stage_locks, assignments_initialized)
select $1::uuid, $2::uuid, n, 'scene-' || n, 'INT. LIGHTHOUSE - NIGHT. Scene ' || n || '.',
       case when n % 2 = 0 then 'End of scene ' || n else null end,
       '{"9": {"status": "locked"}}'::jsonb, $4::bool
  from generate_series(1, $3::int) n
"""

SHOTS_SQL = """
insert into shots (project_id, scene_id, shot_label, shot_order, duration_seconds, setting, action,
                   camera)
select s.project_id, s.id, s.scene_number || chr(64 + k), k, 2 + k % 5,
       'The lighthouse, night', 'Waves crash against the rocks.', 'Wide, slow push in'
  from scenes s, generate_series(1, $2::int) k
 where s.branch_id = $1::uuid
"""

# Instances of all scenes at once; the chain link is set by the update below.
INSTANCES_SQL = """
insert into scene_asset_instances (project_id, branch_id, scene_id, project_asset_id,
    description_override, status_tags, carry_forward, effective_description,
    base_version, base_description, base_image_key_url)
select s.project_id, s.branch_id, s.id, a.id,
       case when (s.scene_number + a.version) % 3 = 0 then 'Override ' || s.scene_number else null end,
       case when s.scene_number % 2 = 0 then array['muddy', 'torn_shirt'] else '{}'::text[] end,
       (s.scene_number + length(a.name)) % 7 <> 0,
       case when (s.scene_number + a.version) % 3 = 0 then 'Override ' || s.scene_number
            else a.description end,
       a.version, a.description, a.image_key_url
  from scenes s join project_assets a on a.branch_id = s.branch_id
 where s.branch_id = $1::uuid and s.scene_number <= $2::int
"""

CHAIN_SQL = """
update scene_asset_instances t set inherited_from_instance_id = p.id
  from scenes s, scenes ps, scene_asset_instances p
 where t.branch_id = $1::uuid and s.id = t.scene_id
   and ps.branch_id = s.branch_id and ps.scene_number = s.scene_number - 1
   and p.scene_id = ps.id and p.project_asset_id = t.project_asset_id
"""

ASSIGNMENTS_SQL = """
insert into shot_asset_assignments (project_id, scene_id, shot_id, scene_asset_instance_id,
                                    presence_type)
select i.project_id, i.scene_id, sh.id, i.id,
       (array['throughout', 'throughout', 'enters', 'exits', 'passes_through'])
           [1 + (sh.shot_order + length(i.effective_description)) % 5]
  from scene_asset_instances i join shots sh on sh.scene_id = i.scene_id
 where i.branch_id = $1::uuid and sh.shot_order <= $2::int
"""


@dataclass
class BenchFilm:
    project_id: str
    branch_id: str
    scenes: dict[int, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


async def _film(
    conn: asyncpg.Connection,
    title: str,
    *,
    scenes: int,
    assets: int,
    shots: int,
    instance_scenes: int,
    assigned_shots: int,
    owner: str = OWNER,
) -> BenchFilm:
    project_id, branch_id = await conn.fetchrow(FILM, owner, title)
    await conn.execute(ASSETS_SQL, project_id, branch_id, assets)
    await conn.execute(SCENES_SQL, project_id, branch_id, scenes, assigned_shots > 0)
    await conn.execute(SHOTS_SQL, branch_id, shots)
    await conn.execute(INSTANCES_SQL, branch_id, instance_scenes)
    await conn.execute(CHAIN_SQL, branch_id)
    if assigned_shots:
        await conn.execute(ASSIGNMENTS_SQL, branch_id, assigned_shots)
    rows = await conn.fetch("select scene_number, id from scenes where branch_id = $1", branch_id)
    return BenchFilm(
        project_id=str(project_id),
        branch_id=str(branch_id),
        scenes={r["scene_number"]: str(r["id"]) for r in rows},
    )


async def standard_film(
    conn: asyncpg.Connection, owner: str, scale: int = 1, *, scenes: int = SCENES,
    assets: int = ASSETS, shots: int = SHOTS, title: str = "Standard film",
) -> BenchFilm:
    """The standard film (or a smaller one, for tests) owned by `owner`."""
    return await _film(
        conn, f"{title} x{scale}", scenes=scenes * scale, assets=assets * scale, shots=shots,
        instance_scenes=scenes * scale, assigned_shots=shots, owner=owner,
    )


async def build(dsn: str, scale: int = 1) -> dict[str, BenchFilm]:
    """The standard film plus the mutation fixtures, in one transaction."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("delete from projects where user_id = any($1::uuid[])", [OWNER, STRANGER])
            films = {
                "standard": await standard_film(conn, OWNER, scale),
                # inheritSceneAssets: scene 1 has 500 instances, scene 2 none.
                "inherit": await _film(
                    conn, "Inherit 500", scenes=2, assets=500, shots=0, instance_scenes=1,
                    assigned_shots=0,
                ),
                # autoPopulate 100 x 50 and generateShotPrompts on 50 shots.
                "populate": await _film(
                    conn, "Populate 100x50", scenes=1, assets=100, shots=50, instance_scenes=1,
                    assigned_shots=0,
                ),
                # Another tenant's film of the same size: RLS has something to filter.
                "stranger": await standard_film(conn, STRANGER, title="Someone else's film"),
            }
        await conn.execute("analyze")
    finally:
        await conn.close()
    return films

