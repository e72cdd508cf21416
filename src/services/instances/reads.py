"""The loaders' batch reads of scene asset instances: by id, of a scene,
of an asset, and an instance's chain: one statement per batch of parent keys, keyed by
relation name (the GraphQL layer's loaders pick one and run it with services.db.batches).

Each read selects `_key` (the parent key it answers) and the rows in the list's order
(`services.db.predicates`, shared with the query planner). Ownership is scoped explicitly, on
top of row-level security.
"""

from __future__ import annotations

from services.db.batches import KEYS, reads
from services.db.predicates import asset_order, chain_walk, owned

ASSET_ORDER = asset_order("a")

_SQL: dict[str, str] = {
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
        with recursive {chain_walk(f"r0.id = any({KEYS}) and {owned('r0')}")}
        select w.start_id as _key, t.* from walk w
          join scene_asset_instances t on t.id = w.id
         order by w.start_id, w.depth desc""",
}

READS = reads(_SQL)
