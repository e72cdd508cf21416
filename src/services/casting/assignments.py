"""Shot asset assignments: which scene assets appear in which shot, and how; transformation
events; and the per-scene read frame references are computed from.

Every operation is one unit of work with a constant number of statements, whatever the number
of shots, assets or entries. Invalidation follows docs/casting.md (What outdates stages 9-12):
a scene's locked stages 9-12 become outdated only when something its frames or prompts read
really changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.casting import frames
from services.core import validation
from services.core.errors import BadUserInput, Conflict, not_found
from services.db.database import Database
from services.db.predicates import asset_order, owned, typed
from services.film.stages import invalidate_frames

# Every assignment writer of a scene takes this lock first, so they run one after another and
# each reads (in its next statement) what the previous one committed. An advisory lock rather
# than the scene row: instance mutations lock an instance and then the scene row, and a writer
# here waiting on that instance while holding the scene row would deadlock with them. The scene
# row is only written last, after the inserts.
_WRITER_LOCK = "pg_advisory_xact_lock(hashtextextended('shot_asset_assignments:' || {scene}::text, 0))"

_LOCK_SCENE = text(
    f"""
    select s.id, s.project_id, s.assignments_initialized, {_WRITER_LOCK.format(scene="s.id")} as locked
      from scenes s
     where s.id = :id and {owned("s")}
    """
)

_WRITERS_OF_SCENE = text("select " + _WRITER_LOCK.format(scene="cast(:id as uuid)"))

_LOCK_SCENE_OF_ASSIGNMENT = text(
    f"""
    select t.scene_id, {_WRITER_LOCK.format(scene="t.scene_id")} as locked
      from shot_asset_assignments t
     where t.id = :id and {owned("t")}
    """
)

_MARK_INITIALISED = text(
    "update scenes set assignments_initialized = true where id = :scene_id and not assignments_initialized"
)

# Each entry's shot and instance as the viewer sees them, and whether its pair is taken.
_ENTRIES = text(
    f"""
    select x.ord, sh.id as shot_id, sh.scene_id as shot_scene_id,
           i.id as instance_id, i.scene_id as instance_scene_id,
           exists (select 1 from shot_asset_assignments t
                    where t.shot_id = x.shot_id and t.scene_asset_instance_id = x.instance_id) as taken
      from unnest(cast(:shots as uuid[]), cast(:instances as uuid[]))
           with ordinality as x(shot_id, instance_id, ord)
      left join shots sh on sh.id = x.shot_id and {owned("sh")}
      left join scene_asset_instances i on i.id = x.instance_id and {owned("i")}
     order by x.ord
    """
)

_INSERT = text(
    """
    insert into shot_asset_assignments (project_id, scene_id, shot_id, scene_asset_instance_id, presence_type)
    select :project_id, :scene_id, x.shot_id, x.instance_id, x.presence
      from unnest(cast(:shots as uuid[]), cast(:instances as uuid[]), cast(:presences as text[]))
           as x(shot_id, instance_id, presence)
    returning *
    """
)

_FOR_UPDATE = text(
    f"""
    select t.* from shot_asset_assignments t
     where t.id = :id and {owned("t")}
       for update of t
    """
)

_SET_PRESENCE = text("update shot_asset_assignments set presence_type = :presence where id = :id returning *")

_DELETE = text(
    f"""
    delete from shot_asset_assignments t
     where t.id = :id and {owned("t")}
    returning t.id, t.scene_id
    """
)

# One INSERT ... SELECT ... ON CONFLICT DO NOTHING; `before` and `initialized` read the
# statement's snapshot, which the insert's own rows are not part of.
_AUTO_POPULATE = text(
    """
    with before as (
        select count(*) as n from shot_asset_assignments where scene_id = :scene_id),
    ins as (
        insert into shot_asset_assignments (project_id, scene_id, shot_id, scene_asset_instance_id,
                                            presence_type)
        select sh.project_id, sh.scene_id, sh.id, i.id, 'throughout'
          from shots sh
          join scene_asset_instances i on i.scene_id = sh.scene_id
         where sh.scene_id = :scene_id
        on conflict (shot_id, scene_asset_instance_id) do nothing
        returning 1)
    select (select n from before) as existing, (select count(*) from ins) as created,
           (select assignments_initialized from scenes where id = :scene_id) as initialized
    """
)

_EVENT_CONTEXT = text(
    f"""
    select sh.id as shot_id, sh.scene_id as shot_scene_id, sh.project_id,
           i.id as instance_id, i.scene_id as instance_scene_id
      from (select 1) as one
      left join shots sh on sh.id = :shot_id and {owned("sh")}
      left join scene_asset_instances i on i.id = :instance_id and {owned("i")}
    """
)

# Recording again for the same pair replaces the event's content (same id, same creation).
_UPSERT_EVENT = text(
    """
    with old as (
        select post_description, post_image_key_url from transformation_events
         where shot_id = :shot_id and scene_asset_instance_id = :instance_id),
    up as (
        insert into transformation_events (project_id, scene_id, shot_id, scene_asset_instance_id,
                                           post_description, post_image_key_url)
        values (:project_id, :scene_id, :shot_id, :instance_id, :post_description, :post_image)
        on conflict (shot_id, scene_asset_instance_id) do update
           set post_description = excluded.post_description,
               post_image_key_url = excluded.post_image_key_url
        returning *)
    select up.*,
           (select row(o.post_description, o.post_image_key_url) from old o)
               is distinct from row(up.post_description, up.post_image_key_url) as changed
      from up
    """
)

# The per-scene read behind frame references: three statements for any number of scenes.
_CAST_ASSETS = typed(
    f"""
    select s.id as _key, s.assignments_initialized,
           i.id as instance_id, i.project_asset_id, a.name, a.asset_type, i.effective_description,
           i.status_tags, i.image_key_url as instance_image, a.image_key_url as asset_image
      from scenes s
      left join (scene_asset_instances i join project_assets a on a.id = i.project_asset_id)
             on i.scene_id = s.id
     where s.id = any(:keys) and {owned("s")}
     order by s.id, {asset_order("a")}
    """
)

_CAST_ASSIGNMENTS = typed(
    f"""
    select t.* from shot_asset_assignments t
     where t.scene_id = any(:keys) and {owned("t")}
    """
)

# What prompts read of an assignment (no row for the GraphQL layer to build objects from).
_CAST_PRESENCES = typed(
    f"""
    select t.scene_id, t.shot_id, t.scene_asset_instance_id, t.presence_type from shot_asset_assignments t
     where t.scene_id = any(:keys) and {owned("t")}
    """
)

_CAST_EVENTS = typed(
    f"""
    select t.scene_id, t.shot_id, t.scene_asset_instance_id, t.post_description, t.post_image_key_url
      from transformation_events t
     where t.scene_id = any(:keys) and {owned("t")}
    """
)


@dataclass(frozen=True)
class AssignmentEntry:
    shot_id: uuid.UUID
    scene_asset_instance_id: uuid.UUID
    presence_type: str = frames.THROUGHOUT


@dataclass(frozen=True)
class AutoPopulation:
    created: int
    existing: int


def _presence(field: str, value: str) -> str:
    if value not in frames.PRESENCES:
        raise BadUserInput(f"{field} must be THROUGHOUT, ENTERS, EXITS or PASSES_THROUGH")
    return value


async def _locked_scene(conn: AsyncConnection, uid: str, scene_id: uuid.UUID) -> Any:
    scene = (await conn.execute(_LOCK_SCENE, {"id": scene_id, "uid": uid})).mappings().first()
    if scene is None:
        raise not_found("scene", scene_id)
    return scene


async def lock_scene_writers(conn: AsyncConnection, scene_id: uuid.UUID) -> None:
    """Takes the scene's assignment-writer lock (for writers elsewhere that add assignments)."""
    await conn.execute(_WRITERS_OF_SCENE, {"id": scene_id})


async def _lock_scene_of(conn: AsyncConnection, uid: str, assignment_id: uuid.UUID) -> None:
    if (await conn.execute(_LOCK_SCENE_OF_ASSIGNMENT, {"id": assignment_id, "uid": uid})).first() is None:
        raise not_found("shot asset assignment", assignment_id)


def _first_offence(scene_id: uuid.UUID, entries: Sequence[AssignmentEntry], found: Sequence[Any]) -> Exception | None:
    """The error the precedence of docs/errors.md picks: NOT_FOUND, then relations (BAD_USER_INPUT), then
    CONFLICT; within a class, the first offending entry."""
    for n, (entry, row) in enumerate(zip(entries, found, strict=True)):
        if row["shot_id"] is None:
            return not_found(f"assignments[{n}]: shot", entry.shot_id)
        if row["instance_id"] is None:
            return not_found(f"assignments[{n}]: scene asset instance", entry.scene_asset_instance_id)
    for n, (entry, row) in enumerate(zip(entries, found, strict=True)):
        if row["shot_scene_id"] != scene_id:
            return BadUserInput(f"assignments[{n}]: shot {entry.shot_id} is not of scene {scene_id}")
        if row["instance_scene_id"] != scene_id:
            return BadUserInput(
                f"assignments[{n}]: scene asset instance {entry.scene_asset_instance_id} is not of scene {scene_id}"
            )
    seen: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for n, (entry, row) in enumerate(zip(entries, found, strict=True)):
        pair = (entry.shot_id, entry.scene_asset_instance_id)
        if row["taken"]:
            return Conflict(
                f"assignments[{n}]: shot {entry.shot_id} already has an assignment of "
                f"scene asset instance {entry.scene_asset_instance_id}"
            )
        if pair in seen:
            return Conflict(f"assignments[{n}]: repeats assignments[{seen[pair]}]")
        seen[pair] = n
    return None


async def create_shot_asset_assignments(
    db: Database, uid: str, scene_id: uuid.UUID, entries: Sequence[AssignmentEntry]
) -> list[Any]:
    """All or nothing; the rows come back in the order of `entries`."""
    validation.list_size("assignments", entries)
    presences = [_presence(f"assignments[{n}].presenceType", e.presence_type) for n, e in enumerate(entries)]
    shots = [e.shot_id for e in entries]
    instances = [e.scene_asset_instance_id for e in entries]
    async with db.transaction(uid) as conn:
        scene = await _locked_scene(conn, uid, scene_id)
        if not entries:
            return []
        found = list(
            (await conn.execute(_ENTRIES, {"shots": shots, "instances": instances, "uid": uid})).mappings()
        )
        offence = _first_offence(scene_id, entries, found)
        if offence is not None:
            raise offence
        rows = (
            await conn.execute(
                _INSERT,
                {
                    "project_id": scene["project_id"],
                    "scene_id": scene_id,
                    "shots": shots,
                    "instances": instances,
                    "presences": presences,
                },
            )
        ).mappings().all()
        # Read before the writer lock was held: a stale `false` only costs a no-op update.
        if not scene["assignments_initialized"]:
            await conn.execute(_MARK_INITIALISED, {"scene_id": scene_id})
        await invalidate_frames(conn, [scene_id])
    by_pair = {(r["shot_id"], r["scene_asset_instance_id"]): r for r in rows}
    return [by_pair[(e.shot_id, e.scene_asset_instance_id)] for e in entries]


async def update_shot_asset_assignment(
    db: Database,
    uid: str,
    assignment_id: uuid.UUID,
    presence_type: str,
    expected_updated_at: datetime | None = None,
) -> Any:
    """An update to the same presence changes nothing (and outdates nothing)."""
    presence = _presence("presenceType", presence_type)
    async with db.transaction(uid) as conn:
        await _lock_scene_of(conn, uid, assignment_id)
        current = (await conn.execute(_FOR_UPDATE, {"id": assignment_id, "uid": uid})).mappings().first()
        if current is None:
            raise not_found("shot asset assignment", assignment_id)
        if expected_updated_at is not None and current["updated_at"] != expected_updated_at:
            raise Conflict(
                f"the assignment has moved on: updatedAt is {current['updated_at'].isoformat()}, "
                f"not {expected_updated_at.isoformat()}"
            )
        if current["presence_type"] == presence:
            return current
        row = (await conn.execute(_SET_PRESENCE, {"id": assignment_id, "presence": presence})).mappings().one()
        await invalidate_frames(conn, [row["scene_id"]])
    return row


async def delete_shot_asset_assignment(db: Database, uid: str, assignment_id: uuid.UUID) -> uuid.UUID:
    """The scene stays initialised: deleting its last assignment does not bring the fallback back."""
    async with db.transaction(uid) as conn:
        await _lock_scene_of(conn, uid, assignment_id)
        gone = (await conn.execute(_DELETE, {"id": assignment_id, "uid": uid})).mappings().first()
        if gone is None:
            raise not_found("shot asset assignment", assignment_id)
        await invalidate_frames(conn, [gone["scene_id"]])
    return assignment_id


async def auto_populate_shot_assignments(db: Database, uid: str, scene_id: uuid.UUID) -> AutoPopulation:
    """A THROUGHOUT assignment for every (shot, instance) pair of the scene that has none.

    It outdates frames only when the scene already had assignments and it created more (a first
    population reproduces the legacy behaviour; docs/casting.md, What outdates stages 9-12). By
    that rule an initialised scene whose assignments were all deleted is not outdated either.
    """
    async with db.transaction(uid) as conn:
        await _locked_scene(conn, uid, scene_id)
        counts = (await conn.execute(_AUTO_POPULATE, {"scene_id": scene_id})).mappings().one()
        if counts["created"]:
            if counts["existing"]:
                await invalidate_frames(conn, [scene_id])
            if not counts["initialized"]:
                await conn.execute(_MARK_INITIALISED, {"scene_id": scene_id})
    return AutoPopulation(created=int(counts["created"]), existing=int(counts["existing"]))


async def record_transformation_event(
    db: Database,
    uid: str,
    *,
    shot_id: uuid.UUID,
    scene_asset_instance_id: uuid.UUID,
    post_description: str,
    post_image_key_url: str | None = None,
) -> Any:
    validation.long_text("postDescription", post_description)
    validation.optional_image_url("postImageKeyUrl", post_image_key_url)
    params = {"shot_id": shot_id, "instance_id": scene_asset_instance_id, "uid": uid}
    async with db.transaction(uid) as conn:
        ctx = (await conn.execute(_EVENT_CONTEXT, params)).mappings().one()
        if ctx["shot_id"] is None:
            raise not_found("shot", shot_id)
        if ctx["instance_id"] is None:
            raise not_found("scene asset instance", scene_asset_instance_id)
        if ctx["shot_scene_id"] != ctx["instance_scene_id"]:
            raise BadUserInput(
                f"sceneAssetInstanceId: instance {scene_asset_instance_id} is not of the scene of shot {shot_id}"
            )
        row = (
            await conn.execute(
                _UPSERT_EVENT,
                {
                    **params,
                    "project_id": ctx["project_id"],
                    "scene_id": ctx["shot_scene_id"],
                    "post_description": post_description,
                    "post_image": post_image_key_url,
                },
            )
        ).mappings().one()
        if row["changed"]:
            await invalidate_frames(conn, [row["scene_id"]])
    return row


async def read_scene_casts(
    conn: AsyncConnection, uid: str, scene_ids: Sequence[uuid.UUID], *, presences_only: bool = False
) -> dict[uuid.UUID, frames.SceneCast]:
    """What the frames of every shot of these scenes read (the viewer's scenes only): three
    statements whatever the number of scenes, shots, assets and assignments. With
    `presences_only`, an assignment is read as its shot, instance and presence alone (enough
    for prompts; not for `FrameReferences.videoOnlyAssets`)."""
    params = {"keys": list(scene_ids), "uid": uid}
    casts: dict[uuid.UUID, frames.SceneCast] = {}
    for row in (await conn.execute(_CAST_ASSETS, params)).mappings():
        cast = casts.get(row["_key"])
        if cast is None:
            cast = casts[row["_key"]] = frames.SceneCast(row["_key"], row["assignments_initialized"])
        if row["instance_id"] is not None:
            cast.assets.append(
                frames.SceneAsset(
                    instance_id=row["instance_id"],
                    project_asset_id=row["project_asset_id"],
                    name=row["name"],
                    asset_type=row["asset_type"],
                    effective_description=row["effective_description"],
                    status_tags=tuple(row["status_tags"] or ()),
                    instance_image=row["instance_image"],
                    asset_image=row["asset_image"],
                    rank=len(cast.assets),
                )
            )
    if not casts:
        return casts
    for row in (await conn.execute(_CAST_PRESENCES if presences_only else _CAST_ASSIGNMENTS, params)).mappings():
        if (cast := casts.get(row["scene_id"])) is not None:
            cast.assignments.setdefault(row["shot_id"], []).append(row)
    for row in (await conn.execute(_CAST_EVENTS, params)).mappings():
        if (cast := casts.get(row["scene_id"])) is not None:
            cast.transformations.setdefault(row["shot_id"], {})[row["scene_asset_instance_id"]] = (
                frames.Transformation(
                    row["scene_asset_instance_id"], row["post_description"], row["post_image_key_url"]
                )
            )
    return casts
