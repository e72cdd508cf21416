"""The loaders' batch reads of projects, branches, scenes, shots, project
assets and a branch's locked visual style: one statement per batch of parent keys, keyed by
relation name (the GraphQL layer's loaders pick one and run it with services.db.batches).

Each read selects `_key` (the parent key it answers) and the rows in the list's order
(`services.db.predicates`, shared with the query planner). Ownership is scoped explicitly, on
top of row-level security.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.db.batches import KEYS, reads
from services.db.predicates import asset_name_order, owned, owns_project, shot_order, typed
from services.db.rows import ProjectRow, all_rows

_SQL: dict[str, str] = {
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
}

READS = reads(_SQL)


_VIEWER_PROJECTS = typed(f"select * from projects where {owns_project()} order by created_at desc, id desc")


async def viewer_projects(conn: AsyncConnection, uid: str) -> list[ProjectRow]:
    result = await conn.execute(
        _VIEWER_PROJECTS,
        {"uid": uid},
    )
    return all_rows(result, ProjectRow)
