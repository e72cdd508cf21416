"""Scene asset instances: per-scene asset state, inherited from scene to scene (Feature 5.1).

Every operation is one unit of work with a constant number of statements, whatever the
number of assets.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from services import validation
from services.db.database import Database
from services.db.predicates import asset_order
from services.errors import (
    BadUserInput,
    Conflict,
    SceneNotEmpty,
    TemporalParadox,
    not_found,
)
from services.ownership import owned
from services.stages import invalidate_frames

# Asset order for the rows an insert returns.
_ORDERED = f"""
    select ins.* from ins join project_assets a on a.id = ins.project_asset_id
     order by {asset_order("a")}
"""

# Locks the scene row so concurrent inherits on it run one after another.
_LOCK_SCENE = text(
    f"""
    select s.id, s.project_id, s.branch_id, s.scene_number, s.assignments_initialized,
           (select p.id from scenes p
             where p.branch_id = s.branch_id and p.scene_number < s.scene_number
             order by p.scene_number desc limit 1) as prior_id
      from scenes s
     where s.id = :id and {owned("s")}
       for update of s
    """
)

# A new statement (and so a new snapshot) after the lock: sees what a winner committed.
_HAS_INSTANCES = text("select exists (select 1 from scene_asset_instances where scene_id = :id)")

_BOOTSTRAP = text(
    f"""
    with ins as (
        insert into scene_asset_instances (
            project_id, branch_id, scene_id, project_asset_id, image_key_url, status_tags,
            carry_forward, effective_description, base_version, base_description,
            base_image_key_url, image_is_own)
        select a.project_id, a.branch_id, :scene_id, a.id, a.image_key_url, '{{}}',
               true, a.description, a.version, a.description, a.image_key_url, false
          from project_assets a
         where a.branch_id = :branch_id and a.locked
        returning *)
    {_ORDERED}
    """
)

# carry_forward true copies the prior state; false resets it to the asset now.
_FROM_PRIOR = text(
    f"""
    with ins as (
        insert into scene_asset_instances (
            project_id, branch_id, scene_id, project_asset_id, description_override,
            image_key_url, status_tags, carry_forward, effective_description, base_version,
            base_description, base_image_key_url, image_is_own, inherited_from_instance_id)
        select p.project_id, p.branch_id, :scene_id, p.project_asset_id,
               case when p.carry_forward then p.description_override end,
               case when p.carry_forward then p.image_key_url else a.image_key_url end,
               case when p.carry_forward then p.status_tags else '{{}}' end,
               p.carry_forward,
               case when p.carry_forward then p.effective_description else a.description end,
               case when p.carry_forward then p.base_version else a.version end,
               case when p.carry_forward then p.base_description else a.description end,
               case when p.carry_forward then p.base_image_key_url else a.image_key_url end,
               p.carry_forward and p.image_is_own,
               p.id
          from scene_asset_instances p
          join project_assets a on a.id = p.project_asset_id
         where p.scene_id = :prior_id
        returning *)
    {_ORDERED}
    """
)

_CREATE_CONTEXT = text(
    f"""
    select s.id as scene_id, s.project_id, s.branch_id as scene_branch_id, s.scene_number,
           s.assignments_initialized,
           a.id as asset_id, a.branch_id as asset_branch_id, a.description as asset_description,
           a.version as asset_version, a.image_key_url as asset_image,
           src.id as source_id, src.project_asset_id as source_asset_id,
           ss.scene_number as source_scene_number, ss.branch_id as source_branch_id
      from (select 1) as one
      left join scenes s on s.id = :scene_id and {owned("s")}
      left join project_assets a on a.id = :asset_id and {owned("a")}
      left join scene_asset_instances src on src.id = :source_id and {owned("src")}
      left join scenes ss on ss.id = src.scene_id
    """
)

_INSERT = text(
    """
    insert into scene_asset_instances (
        project_id, branch_id, scene_id, project_asset_id, description_override, image_key_url,
        status_tags, carry_forward, effective_description, base_version, base_description,
        base_image_key_url, image_is_own, inherited_from_instance_id)
    values (:project_id, :branch_id, :scene_id, :asset_id, :override, :image,
            cast(:tags as text[]), :carry_forward, :effective, :base_version, :base_description,
            :image, false, :source_id)
    returning *
    """
)

_FOR_UPDATE = text(
    f"""
    select i.*, s.assignments_initialized
      from scene_asset_instances i
      join scenes s on s.id = i.scene_id
     where i.id = :id and {owned("i")}
       for update of i
    """
)

_DELETE = text(
    f"""
    with target as (
        select i.id, i.scene_id, s.assignments_initialized,
               exists (select 1 from shot_asset_assignments x
                        where x.scene_asset_instance_id = i.id) as had_assignments
          from scene_asset_instances i
          join scenes s on s.id = i.scene_id
         where i.id = :id and {owned("i")}),
    gone as (
        delete from scene_asset_instances i using target t where i.id = t.id returning i.id)
    select t.* from target t join gone g on g.id = t.id
    """
)

# modification_reason := null: a resync gives no reason; the trigger restores the old one
# when no tracked column changes.
_RESYNC = text(
    f"""
    with old as (
        select i.id, i.effective_description, i.image_key_url
          from scene_asset_instances i
         where i.id = :id and {owned("i")}
           for update of i)
    update scene_asset_instances i
       set base_version = a.version,
           base_description = a.description,
           base_image_key_url = a.image_key_url,
           effective_description = coalesce(i.description_override, a.description),
           image_key_url = case when i.image_is_own then i.image_key_url else a.image_key_url end,
           modification_reason = null
      from old, project_assets a
     where i.id = old.id and a.id = i.project_asset_id
    returning i.*,
              (i.effective_description is distinct from old.effective_description
               or i.image_key_url is distinct from old.image_key_url) as visible_change
    """
)


@dataclass(frozen=True)
class Inheritance:
    source: str  # 'bootstrap' | 'prior_scene'
    prior_scene_id: uuid.UUID | None
    instances: list[Any]


async def inherit_scene_assets(db: Database, uid: str, scene_id: uuid.UUID) -> Inheritance:
    async with db.transaction(uid) as conn:
        scene = (await conn.execute(_LOCK_SCENE, {"id": scene_id, "uid": uid})).mappings().first()
        if scene is None:
            raise not_found("scene", scene_id)
        if (await conn.execute(_HAS_INSTANCES, {"id": scene_id})).scalar():
            raise SceneNotEmpty(f"scene {scene_id} already has asset instances")
        prior_id = scene["prior_id"]
        if prior_id is None:
            rows = await conn.execute(_BOOTSTRAP, {"scene_id": scene_id, "branch_id": scene["branch_id"]})
        else:
            rows = await conn.execute(_FROM_PRIOR, {"scene_id": scene_id, "prior_id": prior_id})
        instances = list(rows.mappings())
        if instances and not scene["assignments_initialized"]:
            await invalidate_frames(conn, [scene_id])
    return Inheritance(
        source="bootstrap" if prior_id is None else "prior_scene",
        prior_scene_id=prior_id,
        instances=instances,
    )


async def create_scene_asset_instance(
    db: Database,
    uid: str,
    *,
    scene_id: uuid.UUID,
    project_asset_id: uuid.UUID,
    description_override: str | None = None,
    status_tags: Sequence[str] | None = None,
    carry_forward: bool = True,
    inherited_from_instance_id: uuid.UUID | None = None,
) -> Any:
    override = validation.normalize_override(description_override)
    tags = validation.normalize_tags(status_tags or [])
    async with db.transaction(uid) as conn:
        ctx = (
            await conn.execute(
                _CREATE_CONTEXT,
                {
                    "scene_id": scene_id,
                    "asset_id": project_asset_id,
                    "source_id": inherited_from_instance_id,
                    "uid": uid,
                },
            )
        ).mappings().one()
        if ctx["scene_id"] is None:
            raise not_found("scene", scene_id)
        if ctx["asset_id"] is None:
            raise not_found("project asset", project_asset_id)
        if inherited_from_instance_id is not None and ctx["source_id"] is None:
            raise not_found("scene asset instance", inherited_from_instance_id)
        if ctx["asset_branch_id"] != ctx["scene_branch_id"]:
            raise BadUserInput("projectAssetId: the asset is not of the scene's branch")
        if inherited_from_instance_id is not None:
            if ctx["source_asset_id"] != project_asset_id:
                raise BadUserInput(
                    "inheritedFromInstanceId: the source is an instance of another asset"
                )
            if ctx["source_scene_number"] >= ctx["scene_number"]:
                raise TemporalParadox(
                    "inheritedFromInstanceId: an instance can only inherit from an earlier scene"
                )
        row = (
            await conn.execute(
                _INSERT,
                {
                    "project_id": ctx["project_id"],
                    "branch_id": ctx["scene_branch_id"],
                    "scene_id": scene_id,
                    "asset_id": project_asset_id,
                    "override": override,
                    "image": ctx["asset_image"],
                    "tags": tags,
                    "carry_forward": carry_forward,
                    "effective": validation.effective_description(override, ctx["asset_description"]),
                    "base_version": ctx["asset_version"],
                    "base_description": ctx["asset_description"],
                    "source_id": inherited_from_instance_id,
                },
            )
        ).mappings().one()
        if not ctx["assignments_initialized"]:
            await invalidate_frames(conn, [scene_id])
    return row


# Marks a field the client did not send (distinct from an explicit null).
OMITTED: Any = object()


@dataclass(frozen=True)
class InstanceChanges:
    """Only the fields the client sent; OMITTED marks the others."""

    description_override: Any = OMITTED
    image_key_url: Any = OMITTED
    status_tags: Any = OMITTED
    carry_forward: Any = OMITTED
    modification_reason: Any = OMITTED


def _validated(changes: InstanceChanges) -> dict[str, Any]:
    given: dict[str, Any] = {}
    if changes.description_override is not OMITTED:
        given["description_override"] = validation.normalize_override(changes.description_override)
    if changes.image_key_url is not OMITTED:
        given["image_key_url"] = validation.optional_image_url("imageKeyUrl", changes.image_key_url)
    if changes.status_tags is not OMITTED:
        if changes.status_tags is None:
            raise BadUserInput("statusTags must not be null")
        given["status_tags"] = validation.normalize_tags(changes.status_tags)
    if changes.carry_forward is not OMITTED:
        if changes.carry_forward is None:
            raise BadUserInput("carryForward must not be null")
        given["carry_forward"] = bool(changes.carry_forward)
    reason = None if changes.modification_reason is OMITTED else changes.modification_reason
    given["modification_reason"] = validation.optional_long_text("modificationReason", reason)
    return given


async def update_scene_asset_instance(
    db: Database,
    uid: str,
    instance_id: uuid.UUID,
    changes: InstanceChanges,
    expected_modification_count: int | None = None,
) -> Any:
    given = _validated(changes)
    async with db.transaction(uid) as conn:
        current = (await conn.execute(_FOR_UPDATE, {"id": instance_id, "uid": uid})).mappings().first()
        if current is None:
            raise not_found("scene asset instance", instance_id)
        if (
            expected_modification_count is not None
            and current["modification_count"] != expected_modification_count
        ):
            raise Conflict(
                f"the instance has moved on: modificationCount is {current['modification_count']}, "
                f"not {expected_modification_count}"
            )
        new = dict(current)
        for column in ("description_override", "image_key_url", "status_tags", "carry_forward"):
            if column in given:
                new[column] = given[column]
        tracked = ("description_override", "status_tags", "image_key_url", "carry_forward")
        if all(list(new[c]) == list(current[c]) if c == "status_tags" else new[c] == current[c] for c in tracked):
            return current
        new["effective_description"] = validation.effective_description(
            new["description_override"], current["base_description"]
        )
        if "image_key_url" in given:
            new["image_is_own"] = given["image_key_url"] is not None
        row = (
            await conn.execute(
                text(
                    """
                    update scene_asset_instances
                       set description_override = :description_override,
                           image_key_url = :image_key_url,
                           image_is_own = :image_is_own,
                           status_tags = cast(:status_tags as text[]),
                           carry_forward = :carry_forward,
                           effective_description = :effective_description,
                           modification_reason = :modification_reason
                     where id = :id
                    returning *
                    """
                ),
                {
                    "id": instance_id,
                    "description_override": new["description_override"],
                    "image_key_url": new["image_key_url"],
                    "image_is_own": new["image_is_own"],
                    "status_tags": list(new["status_tags"]),
                    "carry_forward": new["carry_forward"],
                    "effective_description": new["effective_description"],
                    "modification_reason": given["modification_reason"],
                },
            )
        ).mappings().one()
        visible = (
            row["effective_description"] != current["effective_description"]
            or row["image_key_url"] != current["image_key_url"]
            or list(row["status_tags"]) != list(current["status_tags"])
        )
        if visible:
            await invalidate_frames(conn, [row["scene_id"]])
    return row


async def delete_scene_asset_instance(db: Database, uid: str, instance_id: uuid.UUID) -> uuid.UUID:
    async with db.transaction(uid) as conn:
        gone = (await conn.execute(_DELETE, {"id": instance_id, "uid": uid})).mappings().first()
        if gone is None:
            raise not_found("scene asset instance", instance_id)
        if gone["had_assignments"] or not gone["assignments_initialized"]:
            await invalidate_frames(conn, [gone["scene_id"]])
    return instance_id


async def resync_scene_asset_instance(db: Database, uid: str, instance_id: uuid.UUID) -> Any:
    async with db.transaction(uid) as conn:
        row = (await conn.execute(_RESYNC, {"id": instance_id, "uid": uid})).mappings().first()
        if row is None:
            raise not_found("scene asset instance", instance_id)
        if row["visible_change"]:
            await invalidate_frames(conn, [row["scene_id"]])
    return row
