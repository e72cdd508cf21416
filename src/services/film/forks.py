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

_ASSETS = text(
    """
    insert into project_assets (id, project_id, branch_id, name, asset_type, description, image_key_url,
                                visual_style_capsule_id, locked, version, created_at, updated_at)
    select m.new_id, a.project_id, :dst, a.name, a.asset_type, a.description, a.image_key_url,
           a.visual_style_capsule_id, a.locked, a.version, a.created_at, a.updated_at
      from project_assets a join fork_ids m on m.old_id = a.id
     where a.branch_id = :src
    """
)

_STAGES = text(
    """
    insert into stage_states (project_id, branch_id, stage_number, version, content, created_at, updated_at)
    select st.project_id, :dst, st.stage_number, st.version, st.content, st.created_at, st.updated_at
      from stage_states st
     where st.branch_id = :src
    """
)

_SCENES = text(
    """
    insert into scenes (id, project_id, branch_id, scene_number, slug, script_excerpt, status,
                        end_state_summary, stage_locks, assignments_initialized, story_day,
                        time_of_day, created_at, updated_at)
    select m.new_id, s.project_id, :dst, s.scene_number, s.slug, s.script_excerpt, s.status,
           s.end_state_summary, s.stage_locks, s.assignments_initialized, s.story_day,
           s.time_of_day, s.created_at, s.updated_at
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
_INSTANCES = text(
    """
    insert into scene_asset_instances (
        id, project_id, branch_id, scene_id, project_asset_id, description_override, image_key_url,
        status_tags, carry_forward, inherited_from_instance_id, effective_description, base_version,
        base_description, base_image_key_url, image_is_own, modification_count, last_modified_field,
        modification_reason, edited, created_at, updated_at, linked_at)
    select mi.new_id, i.project_id, :dst, ms.new_id, ma.new_id, i.description_override, i.image_key_url,
           i.status_tags, i.carry_forward, mp.new_id, i.effective_description, i.base_version,
           i.base_description, i.base_image_key_url, i.image_is_own, i.modification_count,
           i.last_modified_field, i.modification_reason, i.edited, i.created_at, i.updated_at, i.linked_at
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


_SHOTS = text(
    f"""
    insert into shots (id, project_id, scene_id, shot_label, shot_order, duration_seconds, setting, action,
                       camera, frame_prompt, video_prompt, reference_image_order,
                       end_frame_reference_image_order, continues_from_previous, prompt_inputs, created_at,
                       updated_at)
    select m.new_id, sh.project_id, ms.new_id, sh.shot_label, sh.shot_order, sh.duration_seconds, sh.setting,
           sh.action, sh.camera, sh.frame_prompt, sh.video_prompt,
           case when jsonb_typeof(sh.reference_image_order) = 'array'
                then {_remapped("reference_image_order")} else sh.reference_image_order end,
           case when jsonb_typeof(sh.end_frame_reference_image_order) = 'array'
                then {_remapped("end_frame_reference_image_order")} else sh.end_frame_reference_image_order end,
           sh.continues_from_previous, sh.prompt_inputs, sh.created_at, sh.updated_at
      from shots sh
      join fork_ids m on m.old_id = sh.id
      join fork_ids ms on ms.old_id = sh.scene_id
    """
)

_ASSIGNMENTS = text(
    """
    insert into shot_asset_assignments (project_id, scene_id, shot_id, scene_asset_instance_id, presence_type,
                                        created_at, updated_at)
    select x.project_id, ms.new_id, msh.new_id, mi.new_id, x.presence_type, x.created_at, x.updated_at
      from shot_asset_assignments x
      join fork_ids ms on ms.old_id = x.scene_id
      join fork_ids msh on msh.old_id = x.shot_id
      join fork_ids mi on mi.old_id = x.scene_asset_instance_id
    """
)

_EVENTS = text(
    """
    insert into transformation_events (project_id, scene_id, shot_id, scene_asset_instance_id,
                                       post_description, post_image_key_url, created_at, updated_at)
    select e.project_id, ms.new_id, msh.new_id, mi.new_id, e.post_description, e.post_image_key_url,
           e.created_at, e.updated_at
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
