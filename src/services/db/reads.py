"""Batch reads behind the GraphQL layer's DataLoaders: one statement per batch of parent keys.

Each read selects `_key` (the parent key it answers) and the child rows in the list's order
(`services.db.predicates`, shared with the query planner). Ownership is scoped explicitly, on
top of row-level security.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from services.db.predicates import (
    asset_name_order,
    asset_order,
    chain_walk,
    frame_job_order,
    frame_jobs,
    owned,
    owns_project,
    shot_order,
    typed,
)

KEYS = ":keys"
ASSET_ORDER = asset_order("a")

_READS: dict[str, str] = {
    "project": f"select t.id as _key, t.* from projects t where t.id = any({KEYS}) and {owns_project('t')}",
    "branch": f"select t.id as _key, t.* from branches t where t.id = any({KEYS}) and {owned('t')}",
    "branches_of_project": f"""
        select t.project_id as _key, t.* from branches t
         where t.project_id = any({KEYS}) and {owned('t')}
         order by t.created_at, t.id""",
    "scene": f"select t.id as _key, t.* from scenes t where t.id = any({KEYS}) and {owned('t')}",
    "scenes_of_branch": f"""
        select t.branch_id as _key, t.* from scenes t
         where t.branch_id = any({KEYS}) and {owned('t')}
         order by t.scene_number""",
    "prior_scene": f"""
        select s.id as _key, p.* from scenes s
          join lateral (select * from scenes p
                         where p.branch_id = s.branch_id and p.scene_number < s.scene_number
                         order by p.scene_number desc limit 1) p on true
         where s.id = any({KEYS}) and {owned('s')}""",
    "shot": f"select t.id as _key, t.* from shots t where t.id = any({KEYS}) and {owned('t')}",
    "shots_of_scene": f"""
        select t.scene_id as _key, t.* from shots t
         where t.scene_id = any({KEYS}) and {owned('t')}
         order by {shot_order('t')}""",
    "asset": f"select t.id as _key, t.* from project_assets t where t.id = any({KEYS}) and {owned('t')}",
    "assets_of_branch": f"""
        select t.branch_id as _key, t.* from project_assets t
         where t.branch_id = any({KEYS}) and {owned('t')}
         order by {asset_name_order('t')}""",
    "visual_style_of_branch": f"""
        select b.id as _key, st.content ->> 'locked_visual_style_capsule_id' as capsule
          from branches b
          join lateral (select content from stage_states s
                         where s.branch_id = b.id and s.stage_number = 5
                         order by s.version desc limit 1) st on true
         where b.id = any({KEYS}) and {owned('b')}""",
    "instance": f"""
        select t.id as _key, t.* from scene_asset_instances t
         where t.id = any({KEYS}) and {owned('t')}""",
    "instances_of_scene": f"""
        select t.scene_id as _key, t.* from scene_asset_instances t
          join project_assets a on a.id = t.project_asset_id
         where t.scene_id = any({KEYS}) and {owned('t')}
         order by {ASSET_ORDER}""",
    "instances_of_asset": f"""
        select t.project_asset_id as _key, t.* from scene_asset_instances t
          join scenes s on s.id = t.scene_id
         where t.project_asset_id = any({KEYS}) and {owned('t')}
         order by s.scene_number""",
    # Root first: the walk goes up the links, guarded against cycles and bounded in depth.
    "chain_of_instance": f"""
        with recursive {chain_walk('t', f"t.id = any({KEYS}) and {owned('t')}")}
        select w.start_id as _key, t.* from walk w
          join scene_asset_instances t on t.id = w.id
         order by w.start_id, w.depth desc""",
    "assignments_of_shot": f"""
        select t.shot_id as _key, t.* from shot_asset_assignments t
          join scene_asset_instances i on i.id = t.scene_asset_instance_id
          join project_assets a on a.id = i.project_asset_id
         where t.shot_id = any({KEYS}) and {owned('t')}
         order by {ASSET_ORDER}""",
    "assignments_of_scene": f"""
        select t.scene_id as _key, t.* from shot_asset_assignments t
          join shots sh on sh.id = t.shot_id
          join scene_asset_instances i on i.id = t.scene_asset_instance_id
          join project_assets a on a.id = i.project_asset_id
         where t.scene_id = any({KEYS}) and {owned('t')}
         order by {shot_order('sh')}, {ASSET_ORDER}""",
    "assignments_of_instance": f"""
        select t.scene_asset_instance_id as _key, t.* from shot_asset_assignments t
          join shots sh on sh.id = t.shot_id
         where t.scene_asset_instance_id = any({KEYS}) and {owned('t')}
         order by {shot_order('sh')}""",
    "assignment": f"""
        select t.id as _key, t.* from shot_asset_assignments t
         where t.id = any({KEYS}) and {owned('t')}""",
    "scene_has_assignments": f"""
        select s.id as _key, exists (select 1 from shot_asset_assignments x where x.scene_id = s.id) as has
          from scenes s
         where s.id = any({KEYS}) and {owned('s')}""",
    "events_of_shot": f"""
        select t.shot_id as _key, t.* from transformation_events t
         where t.shot_id = any({KEYS}) and {owned('t')}
         order by t.created_at, t.id""",
    # The newest of frame_jobs (a continuing shot's start frame is the previous shot's end frame).
    "end_frame_of_shot": f"""
        select sh.id as _key, j.* from shots sh
          join lateral (select * from image_generation_jobs j where {frame_jobs('sh', 'j', 'end')}
                         order by {frame_job_order('j')} limit 1) j on true
         where sh.id = any({KEYS}) and {owned('sh')}""",
    "start_frame_of_shot": f"""
        select sh.id as _key, j.* from shots sh
          join lateral (select * from image_generation_jobs j where {frame_jobs('sh', 'j', 'start')}
                         order by {frame_job_order('j')} limit 1) j on true
         where sh.id = any({KEYS}) and {owned('sh')}""",
    "image_job": f"""
        select t.id as _key, t.* from image_generation_jobs t
         where t.id = any({KEYS}) and {owned('t')}""",
}

_COMPILED: dict[str, TextClause] = {name: typed(sql) for name, sql in _READS.items()}


async def read_many(conn: AsyncConnection, uid: str, name: str, keys: Sequence[Any]) -> dict[Any, list[Any]]:
    """Rows of relation `name` for every key, grouped by key, each group in list order."""
    grouped: dict[Any, list[Any]] = defaultdict(list)
    result = await conn.execute(_COMPILED[name], {"keys": list(keys), "uid": uid})
    for row in result.mappings():
        grouped[row["_key"]].append(row)
    return grouped


_VIEWER_PROJECTS = typed(f"select * from projects where {owns_project()} order by created_at desc, id desc")


async def viewer_projects(conn: AsyncConnection, uid: str) -> list[Any]:
    result = await conn.execute(
        _VIEWER_PROJECTS,
        {"uid": uid},
    )
    return list(result.mappings())
