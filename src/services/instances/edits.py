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
from sqlalchemy.ext.asyncio import AsyncConnection

from services.casting.assignments import lock_scene_writers
from services.casting.frames import PRESENCES
from services.core import validation
from services.core.errors import (
    BadUserInput,
    Conflict,
    SceneNotEmpty,
    TemporalParadox,
    not_found,
)
from services.db.database import Database, retried
from services.db.predicates import asset_order, owned
from services.film.chains import lock_branch, repair_chains
from services.film.stages import invalidate_frames

# Asset order for the rows an insert returns.
_ORDERED = f"""
    select ins.* from ins join project_assets a on a.id = ins.project_asset_id
     order by {asset_order("a")}
"""

# Locks the scene row so concurrent inherits on it run one after another. It also tells the
# revisions triggers what the insert that follows records (docs/revisions.md), at no extra
# statement.
_LOCK_SCENE = text(
    f"""
    select s.id, s.project_id, s.branch_id, s.scene_number, s.assignments_initialized,
           prior.id as prior_id,
           set_config('continuity.revision_kind',
                      case when prior.id is null then 'bootstrapped' else 'inherited' end,
                      true) as revision_kind
      from scenes s
      left join lateral (select p.id from scenes p
                          where p.branch_id = s.branch_id and p.scene_number < s.scene_number
                          order by p.scene_number desc limit 1) prior on true
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
        base_image_key_url, image_is_own, inherited_from_instance_id, edited)
    values (:project_id, :branch_id, :scene_id, :asset_id, :override, :image,
            cast(:tags as text[]), :carry_forward, :effective, :base_version, :base_description,
            :image, false, :source_id, :edited)
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


# The rows again after chain repair relinked some of them, in the order asked for.
_REREAD = text(
    """
    select i.* from unnest(cast(:ids as uuid[])) with ordinality as x(id, n)
      join scene_asset_instances i on i.id = x.id
     order by x.n
    """
)


async def _reread(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[Any]:
    return list((await conn.execute(_REREAD, {"ids": list(ids)})).mappings())


@dataclass(frozen=True)
class Inheritance:
    source: str  # 'bootstrap' | 'prior_scene'
    prior_scene_id: uuid.UUID | None
    instances: list[Any]


@retried
async def inherit_scene_assets(db: Database, uid: str, scene_id: uuid.UUID) -> Inheritance:
    async with db.transaction(uid) as conn:
        branch = await lock_branch(conn, uid, "scene", scene_id)
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
        if instances:
            # Later scenes' instances of these assets may now have a nearer source; the new
            # rows themselves already link by the rule (prior scene, or none for a bootstrap).
            await repair_chains(conn, branch["id"])
            if not scene["assignments_initialized"]:
                await invalidate_frames(conn, [scene_id])
    return Inheritance(
        source="bootstrap" if prior_id is None else "prior_scene",
        prior_scene_id=prior_id,
        instances=instances,
    )


@retried
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
        await lock_branch(conn, uid, "scene", scene_id)
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
                    # Without them the instance would have had no override and no tags.
                    "edited": override is not None or bool(tags),
                },
            )
        ).mappings().one()
        # The given source stays only when no scene between has the asset (docs/editing.md).
        if await repair_chains(conn, ctx["scene_branch_id"]):
            row = (await _reread(conn, [row["id"]]))[0]
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


@retried
async def delete_scene_asset_instance(db: Database, uid: str, instance_id: uuid.UUID) -> uuid.UUID:
    async with db.transaction(uid) as conn:
        branch = await lock_branch(conn, uid, "scene asset instance", instance_id)
        gone = (await conn.execute(_DELETE, {"id": instance_id, "uid": uid})).mappings().first()
        if gone is None:
            raise not_found("scene asset instance", instance_id)
        # Its children link to its predecessor (or to nothing when it had none).
        await repair_chains(conn, branch["id"])
        if gone["had_assignments"] or not gone["assignments_initialized"]:
            await invalidate_frames(conn, [gone["scene_id"]])
    return instance_id


async def resync_scene_asset_instance(db: Database, uid: str, instance_id: uuid.UUID) -> Any:
    async with db.transaction(uid, revision_kind="resynced") as conn:
        row = (await conn.execute(_RESYNC, {"id": instance_id, "uid": uid})).mappings().first()
        if row is None:
            raise not_found("scene asset instance", instance_id)
        if row["visible_change"]:
            await invalidate_frames(conn, [row["scene_id"]])
    return row


# The scene, the asset, whether the scene has the asset already, and the asset's instance in
# the latest earlier scene of the branch that has one (the LATEST source), in one statement.
_ADD_CONTEXT = text(
    f"""
    select s.id as scene_id, s.project_id, s.branch_id as scene_branch_id, s.assignments_initialized,
           a.id as asset_id, a.branch_id as asset_branch_id, a.description as asset_description,
           a.version as asset_version, a.image_key_url as asset_image,
           exists (select 1 from scene_asset_instances x
                    where x.scene_id = s.id and x.project_asset_id = a.id) as taken,
           src.id as source_id, src.carry_forward as source_carry_forward,
           src.description_override as source_override, src.image_key_url as source_image,
           src.status_tags as source_tags, src.effective_description as source_effective,
           src.base_version as source_base_version, src.base_description as source_base_description,
           src.base_image_key_url as source_base_image, src.image_is_own as source_image_is_own
      from (select 1) as one
      left join scenes s on s.id = :scene_id and {owned("s")}
      left join project_assets a on a.id = :asset_id and {owned("a")}
      left join lateral (
          select p.* from scene_asset_instances p join scenes ps on ps.id = p.scene_id
           where p.project_asset_id = a.id and ps.branch_id = s.branch_id
             and ps.scene_number < s.scene_number
           order by ps.scene_number desc
           limit 1) src on true
    """
)

_GIVEN_SHOTS = text(
    """
    select x.n, x.id as given_id, sh.id as shot_id
      from unnest(cast(:ids as uuid[])) with ordinality as x(id, n)
      left join shots sh on sh.id = x.id and sh.scene_id = :scene_id
     order by x.n
    """
)

# A first population of a never-initialised scene, before the new instance exists.
_POPULATE_OTHERS = text(
    """
    insert into shot_asset_assignments (project_id, scene_id, shot_id, scene_asset_instance_id, presence_type)
    select sh.project_id, sh.scene_id, sh.id, i.id, 'throughout'
      from shots sh join scene_asset_instances i on i.scene_id = sh.scene_id
     where sh.scene_id = :scene_id
    on conflict (shot_id, scene_asset_instance_id) do nothing
    """
)

_INSERT_ADDED = text(
    """
    insert into scene_asset_instances (
        project_id, branch_id, scene_id, project_asset_id, description_override, image_key_url,
        status_tags, carry_forward, effective_description, base_version, base_description,
        base_image_key_url, image_is_own, inherited_from_instance_id)
    values (:project_id, :branch_id, :scene_id, :asset_id, :override, :image,
            cast(:tags as text[]), :carry_forward, :effective, :base_version, :base_description,
            :base_image, :image_is_own, :source_id)
    returning *
    """
)

_INSERT_PRESENCES = text(
    """
    insert into shot_asset_assignments (project_id, scene_id, shot_id, scene_asset_instance_id, presence_type)
    select :project_id, :scene_id, x.shot_id, :instance_id, x.presence
      from unnest(cast(:shots as uuid[]), cast(:presences as text[])) as x(shot_id, presence)
    """
)

_MARK_INITIALISED = text(
    "update scenes set assignments_initialized = true where id = :scene_id and not assignments_initialized"
)


@dataclass(frozen=True)
class ShotPresence:
    shot_id: uuid.UUID
    presence_type: str = "throughout"


def added_state(ctx: Any, inherit_latest: bool, override: Any, tags: Any) -> dict[str, Any]:
    """The new instance's state: the inheritance rule from the LATEST source (or the asset now),
    then a given override (OMITTED: keep; "" or null: none) or tag list replaces the inherited one."""
    source = ctx["source_id"] if inherit_latest else None
    if source is not None and ctx["source_carry_forward"]:
        state = {
            "override": ctx["source_override"], "image": ctx["source_image"], "tags": list(ctx["source_tags"]),
            "carry_forward": True, "effective": ctx["source_effective"],
            "base_version": ctx["source_base_version"], "base_description": ctx["source_base_description"],
            "base_image": ctx["source_base_image"], "image_is_own": ctx["source_image_is_own"],
        }
    else:
        state = {
            "override": None, "image": ctx["asset_image"], "tags": [],
            "carry_forward": source is None, "effective": ctx["asset_description"],
            "base_version": ctx["asset_version"], "base_description": ctx["asset_description"],
            "base_image": ctx["asset_image"], "image_is_own": False,
        }
    if override is not OMITTED:
        state["override"] = override
        state["effective"] = validation.effective_description(override, state["base_description"])
    if tags is not OMITTED:
        state["tags"] = list(tags)
    return state


async def add_asset_to_scene(
    db: Database,
    uid: str,
    *,
    scene_id: uuid.UUID,
    project_asset_id: uuid.UUID,
    inherit_latest: bool = True,
    description_override: Any = OMITTED,
    status_tags: Any = OMITTED,
    shots: Sequence[ShotPresence] = (),
) -> Any:
    """The instance and its shot assignments in one transaction (the drawer's shot checklist).

    A never-initialised scene given shots is first populated (THROUGHOUT for every other asset
    in every shot), so the other assets keep the frames the legacy fallback gave them.
    """
    override = OMITTED if description_override is OMITTED else validation.normalize_override(description_override)
    tags = OMITTED if status_tags is OMITTED else validation.normalize_tags(status_tags)
    validation.list_size("shots", shots)
    for n, entry in enumerate(shots):
        if entry.presence_type not in PRESENCES:
            raise BadUserInput(f"shots[{n}].presenceType must be THROUGHOUT, ENTERS, EXITS or PASSES_THROUGH")
    shot_ids = [e.shot_id for e in shots]

    async def work(conn: AsyncConnection) -> Any:
        await lock_branch(conn, uid, "scene", scene_id)
        await lock_scene_writers(conn, scene_id)
        ctx = (
            await conn.execute(_ADD_CONTEXT, {"scene_id": scene_id, "asset_id": project_asset_id, "uid": uid})
        ).mappings().one()
        if ctx["asset_id"] is None:
            raise not_found("project asset", project_asset_id)
        if ctx["asset_branch_id"] != ctx["scene_branch_id"]:
            raise BadUserInput("projectAssetId: the asset is not of the scene's branch")
        if shot_ids:
            found = list((await conn.execute(_GIVEN_SHOTS, {"ids": shot_ids, "scene_id": scene_id})).mappings())
            for n, row in enumerate(found):
                if row["shot_id"] is None:
                    raise BadUserInput(f"shots[{n}]: {row['given_id']} is not a shot of scene {scene_id}")
            seen: dict[uuid.UUID, int] = {}
            for n, row in enumerate(found):
                if row["shot_id"] in seen:
                    raise Conflict(f"shots[{n}]: repeats shots[{seen[row['shot_id']]}]")
                seen[row["shot_id"]] = n
        if ctx["taken"]:
            raise Conflict(f"scene {scene_id} already has an instance of project asset {project_asset_id}")
        if shot_ids and not ctx["assignments_initialized"]:
            await conn.execute(_POPULATE_OTHERS, {"scene_id": scene_id})
        state = added_state(ctx, inherit_latest, override, tags)
        row = (
            await conn.execute(
                _INSERT_ADDED,
                {
                    "project_id": ctx["project_id"],
                    "branch_id": ctx["scene_branch_id"],
                    "scene_id": scene_id,
                    "asset_id": project_asset_id,
                    # Linked to the latest earlier appearance whatever the state came from.
                    "source_id": ctx["source_id"],
                    **state,
                },
            )
        ).mappings().one()
        # Instance rows before the scene row (services.film.chains: lock order).
        if await repair_chains(conn, ctx["scene_branch_id"]):
            row = (await _reread(conn, [row["id"]]))[0]
        if shot_ids:
            await conn.execute(
                _INSERT_PRESENCES,
                {
                    "project_id": ctx["project_id"],
                    "scene_id": scene_id,
                    "instance_id": row["id"],
                    "shots": shot_ids,
                    "presences": [e.presence_type for e in shots],
                },
            )
            if not ctx["assignments_initialized"]:
                await conn.execute(_MARK_INITIALISED, {"scene_id": scene_id})
        if shot_ids or not ctx["assignments_initialized"]:
            await invalidate_frames(conn, [scene_id])
        return row

    return await db.retrying(uid, work)
