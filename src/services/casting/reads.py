"""The loaders' batch reads of shot asset assignments and
transformation events: one statement per batch of parent keys, keyed by
relation name (the GraphQL layer's loaders pick one and run it with services.db.batches).

Each read selects `_key` (the parent key it answers) and the rows in the list's order
(`services.db.predicates`, shared with the query planner). Ownership is scoped explicitly, on
top of row-level security.
"""

from __future__ import annotations

from services.db.batches import KEYS, reads
from services.db.predicates import asset_order, owned, shot_order

ASSET_ORDER = asset_order("a")

_SQL: dict[str, str] = {
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
}

READS = reads(_SQL)
