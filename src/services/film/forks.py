"""forkBranch: a deep copy of a branch in a constant number of statements, whatever its size.

The copy reads one snapshot (repeatable read, after the branch lock) and maps every old id to
a new one in a transaction-local table first; each table is then copied with one
`insert ... select` that translates its references through that map, so nothing of the fork
points into the source: parents, `inherited_from_instance_id`, and the instance and asset ids
inside the shots' stored reference lists. Image jobs are not copied; images are shared by URL.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.core import validation
from services.db import tables
from services.db.columns import copy_of
from services.db.database import Database
from services.film.chains import lock_branch

_ID_MAP = text("create temporary table fork_ids (old_id uuid primary key, new_id uuid not null) on commit drop")

_MAP_IDS = text(
    """
    insert into fork_ids (old_id, new_id)
    select id, gen_random_uuid() from project_assets where branch_id = :src
    union all
    select id, gen_random_uuid() from scenes where branch_id = :src
    union all
    select id, gen_random_uuid() from scene_asset_instances where branch_id = :src
    union all
    select sh.id, gen_random_uuid() from shots sh join scenes s on s.id = sh.scene_id where s.branch_id = :src
    """
)

_BRANCH = text(
    """
    insert into branches (id, project_id, name, forked_from_branch_id)
    values (:id, :project_id, :name, :src)
    returning *
    """
)

# Each copy takes every column of the catalogue (services.db.columns.copy_of), so a new column
# is forked as it is; only the keys into the fork (and the references inside stored lists) are
# written out here. Rows without an id in the map get a fresh one (None: the column's default).
_ASSET = copy_of(tables.project_assets, "a", {"id": "m.new_id", "branch_id": ":dst"})
_ASSETS = text(
    f"""
    insert into project_assets ({_ASSET.columns})
    select {_ASSET.values}
      from project_assets a join fork_ids m on m.old_id = a.id
     where a.branch_id = :src
    """
)

_STAGE = copy_of(tables.stage_states, "st", {"id": None, "branch_id": ":dst"})
_STAGES = text(
    f"""
    insert into stage_states ({_STAGE.columns})
    select {_STAGE.values}
      from stage_states st
     where st.branch_id = :src
    """
)

_SCENE = copy_of(tables.scenes, "s", {"id": "m.new_id", "branch_id": ":dst"})
_SCENES = text(
    f"""
    insert into scenes ({_SCENE.columns})
    select {_SCENE.values}
      from scenes s join fork_ids m on m.old_id = s.id
     where s.branch_id = :src
    """
)

# The revisions of the source instances are copied before the instances themselves, whose
# inserts then record one FORKED revision each, numbered after the copies (docs/revisions.md).
# `authenticated` may not insert revisions: the database's own copy function does, after
# checking that the fork is the viewer's.
_REVISIONS = text(
    """
    select continuity_copy_instance_revisions(
               :dst,
               coalesce(array_agg(i.id order by i.id), '{}'),
               coalesce(array_agg(mi.new_id order by i.id), '{}'),
               coalesce(array_agg(ms.new_id order by i.id), '{}'),
               coalesce(array_agg(ma.new_id order by i.id), '{}'))
          , set_config('continuity.revision_kind', 'forked', true)
      from scene_asset_instances i
      join fork_ids mi on mi.old_id = i.id
      join fork_ids ms on ms.old_id = i.scene_id
      join fork_ids ma on ma.old_id = i.project_asset_id
     where i.branch_id = :src
    """
)

# Every column, modification tracking and link time included.
_INSTANCE = copy_of(
    tables.scene_asset_instances, "i",
    {"id": "mi.new_id", "branch_id": ":dst", "scene_id": "ms.new_id", "project_asset_id": "ma.new_id",
     "inherited_from_instance_id": "mp.new_id"},
)
_INSTANCES = text(
    f"""
    insert into scene_asset_instances ({_INSTANCE.columns})
    select {_INSTANCE.values}
      from scene_asset_instances i
      join fork_ids mi on mi.old_id = i.id
      join fork_ids ms on ms.old_id = i.scene_id
      join fork_ids ma on ma.old_id = i.project_asset_id
      left join fork_ids mp on mp.old_id = i.inherited_from_instance_id
     where i.branch_id = :src
    """
)


def _remapped(column: str) -> str:
    """A stored reference list with its instance and asset ids translated into the fork."""
    return f"""(select coalesce(jsonb_agg(
                   x.e || jsonb_strip_nulls(jsonb_build_object(
                       'scene_asset_instance_id', mi.new_id, 'project_asset_id', ma.new_id))
                   order by x.n), '[]'::jsonb)
              from jsonb_array_elements(sh.{column}) with ordinality as x(e, n)
              left join fork_ids mi on mi.old_id::text = lower(x.e ->> 'scene_asset_instance_id')
              left join fork_ids ma on ma.old_id::text = lower(x.e ->> 'project_asset_id'))"""


def _references(column: str) -> str:
    return f"case when jsonb_typeof(sh.{column}) = 'array' then {_remapped(column)} else sh.{column} end"


_SHOT = copy_of(
    tables.shots, "sh",
    {"id": "m.new_id", "scene_id": "ms.new_id",
     "reference_image_order": _references("reference_image_order"),
     "end_frame_reference_image_order": _references("end_frame_reference_image_order")},
)
_SHOTS = text(
    f"""
    insert into shots ({_SHOT.columns})
    select {_SHOT.values}
      from shots sh
      join fork_ids m on m.old_id = sh.id
      join fork_ids ms on ms.old_id = sh.scene_id
    """
)

_ASSIGNMENT = copy_of(
    tables.shot_asset_assignments, "x",
    {"id": None, "scene_id": "ms.new_id", "shot_id": "msh.new_id", "scene_asset_instance_id": "mi.new_id"},
)
_ASSIGNMENTS = text(
    f"""
    insert into shot_asset_assignments ({_ASSIGNMENT.columns})
    select {_ASSIGNMENT.values}
      from shot_asset_assignments x
      join fork_ids ms on ms.old_id = x.scene_id
      join fork_ids msh on msh.old_id = x.shot_id
      join fork_ids mi on mi.old_id = x.scene_asset_instance_id
    """
)

_EVENT = copy_of(
    tables.transformation_events, "e",
    {"id": None, "scene_id": "ms.new_id", "shot_id": "msh.new_id", "scene_asset_instance_id": "mi.new_id"},
)
_EVENTS = text(
    f"""
    insert into transformation_events ({_EVENT.columns})
    select {_EVENT.values}
      from transformation_events e
      join fork_ids ms on ms.old_id = e.scene_id
      join fork_ids msh on msh.old_id = e.shot_id
      join fork_ids mi on mi.old_id = e.scene_asset_instance_id
    """
)


async def fork_branch(db: Database, uid: str, branch_id: uuid.UUID, name: str) -> Any:
    """A new branch of the same project named `name` (unique in the project ignoring case:
    CONFLICT otherwise) holding a deep copy of the branch; the active branch stays."""
    validation.short_text("name", name)

    async def work(conn: AsyncConnection) -> Any:
        source = await lock_branch(conn, uid, "branch", branch_id)
        new_id = uuid.uuid4()
        params = {"src": branch_id, "dst": new_id}
        branch = (
            await conn.execute(
                _BRANCH, {"id": new_id, "project_id": source["project_id"], "name": name, "src": branch_id}
            )
        ).mappings().one()
        await conn.execute(_ID_MAP)
        await conn.execute(_MAP_IDS, params)
        for statement in (_ASSETS, _STAGES, _SCENES):
            await conn.execute(statement, params)
        await conn.execute(_REVISIONS, params)
        for statement in (_INSTANCES, _SHOTS, _ASSIGNMENTS, _EVENTS):
            await conn.execute(statement, params)
        return branch

    return await db.retrying(uid, work, isolation="REPEATABLE READ")
