"""Scenes and shots: creating, editing, deleting, moving and reordering them.

Structural edits of a branch (createScene, deleteScene, moveScene) take the branch lock first
(services.film.chains) and repair chains where instances move or vanish. `updated_at` of scenes and
shots moves only when a field a client edits really changes (a trigger keeps it otherwise), so
an update that changes nothing writes nothing and `expectedUpdatedAt` stays valid.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from services.core import validation
from services.core.errors import BadUserInput, Conflict, not_found
from services.db import tables
from services.db.columns import Rule, checked, created, insert_select, settable, typed_by
from services.db.database import Database, retried
from services.db.predicates import owned
from services.db.rows import SceneRow, ShotRow, TimeOfDay, all_rows, first_row, one_row
from services.film.chains import lock_branch, lock_instances, repair_chains
from services.film.stages import invalidate_frames

TIMES_OF_DAY: tuple[TimeOfDay, ...] = ("day", "night", "dawn", "dusk")


def _time_of_day(field: str, value: str) -> str:
    if value not in TIMES_OF_DAY:
        raise BadUserInput(f"{field} must be DAY, NIGHT, DAWN or DUSK")
    return value


# The columns whose values have rules of their own; the others are checked by their type.
_SCENE_RULES: dict[str, Rule] = {
    "scene_number": validation.positive,
    "slug": validation.short_text,
    "story_day": validation.positive,
    "time_of_day": _time_of_day,
}
_SHOT_RULES: dict[str, Rule] = {
    "shot_label": validation.short_text,
    "shot_order": validation.positive,
    "duration_seconds": validation.positive,
}


# What clients set is every column of the catalogue except these: keys and what the system
# writes (stage locks, prompts and their reference lists, timestamps). A new column is
# settable on create and update, checked by its type unless it has a rule above.
_SCENE_SYSTEM = ("id", "project_id", "branch_id", "status", "stage_locks", "assignments_initialized",
                 "created_at", "updated_at")
_SHOT_SYSTEM = ("id", "project_id", "scene_id", "frame_prompt", "video_prompt", "reference_image_order",
                "end_frame_reference_image_order", "prompt_inputs", "created_at", "updated_at")
SCENE_CREATE_COLUMNS = settable(tables.scenes, _SCENE_SYSTEM, _SCENE_RULES)
SHOT_CREATE_COLUMNS = settable(tables.shots, _SHOT_SYSTEM, _SHOT_RULES)
# moveScene and reorderShots own the numbers: an update leaves them be.
SCENE_COLUMNS = SCENE_CREATE_COLUMNS - {"scene_number"}
SHOT_COLUMNS = SHOT_CREATE_COLUMNS - {"shot_order"}

_SCENE_FOR_UPDATE = text(f"select s.* from scenes s where s.id = :id and {owned('s')} for no key update of s")
_SHOT_FOR_UPDATE = text(f"select sh.* from shots sh where sh.id = :id and {owned('sh')} for no key update of sh")

_DELETE_SCENE = text("delete from scenes where id = :id returning id")

_SCENE_COUNT = text("select count(*) from scenes where branch_id = :branch_id")

# The branch renumbered 1..n in its current order with the scene moved to `to`: each scene's
# new number.
_NEW_ORDER = """
    with ordered as (
        select s.id, s.scene_number, row_number() over (order by s.scene_number) as n
          from scenes s
         where s.branch_id = :branch_id),
    moved as (select n from ordered where id = :id),
    target as (
        select o.id, o.scene_number,
               case when o.id = :id then :to
                    when m.n < :to and o.n > m.n and o.n <= :to then o.n - 1
                    when m.n > :to and o.n >= :to and o.n < m.n then o.n + 1
                    else o.n end as new_number
          from ordered o, moved m)
"""

# The chain repair of a move (docs/editing.md, Chain repair), run before the shift, in the
# order the shift will give. Only the moved scene's assets can relink: the other scenes keep
# their order among themselves, so an asset the moved scene lacks keeps every link. The update
# locks just the instances it relinks, and it runs before any scene row is written, so the lock
# order of services.film.chains (instances, then scenes) holds without locking the whole branch.
# The links that differ are picked before the join, so only those rows are looked up again.
_RELINK_FOR_MOVE = text(
    _NEW_ORDER
    + """,
    links as (
        select i.id, i.inherited_from_instance_id as linked,
               lag(i.id) over (partition by i.project_asset_id order by t.new_number) as parent
          from scene_asset_instances i
          join target t on t.id = i.scene_id
         where i.project_asset_id in (select m.project_asset_id from scene_asset_instances m
                                       where m.scene_id = :id))
    update scene_asset_instances i
       set inherited_from_instance_id = l.parent, linked_at = clock_timestamp()
      from links l
     where l.linked is distinct from l.parent
       and i.id = l.id and i.inherited_from_instance_id is distinct from l.parent
    """
)

# The shift itself, in one statement: the unique (branch_id, scene_number) constraint is
# deferrable, so it is checked once, at the statement's end, not row by row halfway through.
_MOVE_SCENE = text(
    _NEW_ORDER
    + """
    update scenes s set scene_number = t.new_number
      from target t
     where s.id = t.id and s.scene_number <> t.new_number
    """
)

_SCENES_OF_BRANCH = text("select * from scenes where branch_id = :branch_id order by scene_number")

_DELETE_SHOT = text(f"delete from shots sh where sh.id = :id and {owned('sh')} returning sh.id, sh.scene_id")

_REORDER_CONTEXT = text(
    """
    select x.n, x.id as given_id, sh.id as shot_id
      from unnest(cast(:ids as uuid[])) with ordinality as x(id, n)
      left join shots sh on sh.id = x.id and sh.scene_id = :scene_id
     order by x.n
    """
)

_SCENE_OWNED = text(f"select s.id from scenes s where s.id = :id and {owned('s')}")

# Concurrent reorders of one scene run one after another. The shots, not the scene row: a shot
# update locks its shot and then the scene row it invalidates, so this lock comes first.
_LOCK_SHOTS = text(
    """
    select count(*) as shots from (
        select 1 from shots where scene_id = :scene_id order by id for no key update) locked
    """
)

_REORDER = text(
    """
    with old as (select id, shot_order from shots where scene_id = :scene_id)
    update shots sh set shot_order = x.n
      from unnest(cast(:ids as uuid[])) with ordinality as x(id, n)
      join old on old.id = x.id
     where sh.id = x.id and sh.scene_id = :scene_id
    returning sh.*, old.shot_order as old_order
    """
)


async def create_scene(db: Database, uid: str, *, branch_id: uuid.UUID, **columns: Any) -> SceneRow:
    """`columns` by name (scene_number and slug at least); omitted ones take their defaults."""
    values = checked(tables.scenes, created(columns), SCENE_CREATE_COLUMNS, _SCENE_RULES)
    insert = insert_select(tables.scenes, {"project_id": ":project_id", "branch_id": ":branch_id"}, values)

    async def work(conn: AsyncConnection) -> SceneRow:
        branch = await lock_branch(conn, uid, "branch", branch_id)
        params = {**values, "project_id": branch["project_id"], "branch_id": branch_id}
        return one_row(await conn.execute(insert, params), SceneRow)

    return await db.retrying(uid, work)


async def create_shot(db: Database, uid: str, *, scene_id: uuid.UUID, **columns: Any) -> ShotRow:
    """`columns` by name (shot_label, shot_order and duration_seconds at least); omitted ones
    take their defaults."""
    values = checked(tables.shots, created(columns), SHOT_CREATE_COLUMNS, _SHOT_RULES)
    insert = insert_select(
        tables.shots, {"project_id": "s.project_id", "scene_id": "s.id"}, values,
        f"from scenes s where s.id = :scene_id and {owned('s')}",
    )
    async with db.transaction(uid) as conn:
        row = first_row(await conn.execute(insert, {**values, "uid": uid, "scene_id": scene_id}), ShotRow)
    if row is None:
        raise not_found("scene", scene_id)
    return row


# The two rows the edit step serves.
Edited = TypeVar("Edited", SceneRow, ShotRow)


def _stale(kind: str, current: SceneRow | ShotRow, expected: datetime | None) -> None:
    if expected is not None and current["updated_at"] != expected:
        raise Conflict(
            f"the {kind} has moved on: updatedAt is {current['updated_at'].isoformat()}, "
            f"not {expected.isoformat()}"
        )


def _differing(current: Mapping[str, object], changes: dict[str, Any]) -> dict[str, Any]:
    return {c: v for c, v in changes.items() if current[c] != v}


async def _update_row(
    conn: AsyncConnection, table: Table, ident: uuid.UUID, values: dict[str, Any], row_type: type[Edited]
) -> Edited:
    # Column names are checked against SCENE_COLUMNS / SHOT_COLUMNS before they get here.
    assignments = ", ".join(f"{c} = :{c}" for c in values)
    sql = typed_by(table, f"update {table.name} set {assignments} where id = :id returning *")
    return one_row(await conn.execute(sql, {"id": ident, **values}), row_type)


async def _edit(
    conn: AsyncConnection, kind: str, table: Table, locking: TextClause, uid: str, ident: uuid.UUID,
    given: dict[str, Any], expected: datetime | None, row_type: type[Edited],
) -> tuple[Edited, dict[str, Any]]:
    """The row after an update of the given columns and the columns that really changed: an
    update that changes nothing writes nothing (so updatedAt stays), a stale expectation is
    CONFLICT."""
    current = first_row(await conn.execute(locking, {"id": ident, "uid": uid}), row_type)
    if current is None:
        raise not_found(kind, ident)
    _stale(kind, current, expected)
    differing = _differing(current, given)
    if not differing:
        return current, differing
    return await _update_row(conn, table, ident, differing, row_type), differing


def validated_scene_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` holds the fields the client sent (null included), by column. A null script
    excerpt clears it to empty text (the column holds no null)."""
    return checked(tables.scenes, changes, SCENE_COLUMNS, _SCENE_RULES, cleared={"script_excerpt": ""})


@retried
async def update_scene(
    db: Database, uid: str, scene_id: uuid.UUID, changes: dict[str, Any], expected_updated_at: datetime | None = None
) -> SceneRow:
    given = validated_scene_changes(changes)
    async with db.transaction(uid) as conn:
        row, _ = await _edit(
            conn, "scene", tables.scenes, _SCENE_FOR_UPDATE, uid, scene_id, given, expected_updated_at, SceneRow
        )
        return row


async def delete_scene(db: Database, uid: str, scene_id: uuid.UUID) -> uuid.UUID:
    """Its shots, instances, assignments and events go with it (cascades); the chains that ran
    through it are relinked to the scene before it."""

    async def work(conn: AsyncConnection) -> uuid.UUID:
        branch = await lock_branch(conn, uid, "scene", scene_id)
        await lock_instances(conn, branch["id"])
        await conn.execute(_DELETE_SCENE, {"id": scene_id})
        await repair_chains(conn, branch["id"])
        return scene_id

    return await db.retrying(uid, work)


async def move_scene(db: Database, uid: str, scene_id: uuid.UUID, scene_number: int) -> list[SceneRow]:
    """The branch's scenes renumbered 1..n, the scene at `scene_number`, those between shifted by
    one, chains repaired (relinked first, in the new order); returns the branch's scenes in
    order. A constant number of statements."""
    validation.positive("sceneNumber", scene_number)

    async def work(conn: AsyncConnection) -> list[SceneRow]:
        branch = await lock_branch(conn, uid, "scene", scene_id)
        count = (await conn.execute(_SCENE_COUNT, {"branch_id": branch["id"]})).scalar_one()
        if scene_number > count:
            raise BadUserInput(f"sceneNumber: the branch has {count} scenes, so {scene_number} is past its end")
        params = {"branch_id": branch["id"], "id": scene_id, "to": scene_number}
        await conn.execute(_RELINK_FOR_MOVE, params)
        await conn.execute(_MOVE_SCENE, params)
        return all_rows(await conn.execute(_SCENES_OF_BRANCH, {"branch_id": branch["id"]}), SceneRow)

    return await db.retrying(uid, work)


# Changing these changes what a shot's frames or prompts are made from (docs/editing.md).
_SHOT_INVALIDATING = ("setting", "action", "camera", "continues_from_previous")


def validated_shot_changes(changes: dict[str, Any]) -> dict[str, Any]:
    return checked(tables.shots, changes, SHOT_COLUMNS, _SHOT_RULES)


@retried
async def update_shot(
    db: Database, uid: str, shot_id: uuid.UUID, changes: dict[str, Any], expected_updated_at: datetime | None = None
) -> ShotRow:
    given = validated_shot_changes(changes)
    async with db.transaction(uid) as conn:
        row, differing = await _edit(
            conn, "shot", tables.shots, _SHOT_FOR_UPDATE, uid, shot_id, given, expected_updated_at, ShotRow
        )
        if any(c in differing for c in _SHOT_INVALIDATING):
            await invalidate_frames(conn, [row["scene_id"]])
    return row


@retried
async def delete_shot(db: Database, uid: str, shot_id: uuid.UUID) -> uuid.UUID:
    async with db.transaction(uid) as conn:
        gone = (await conn.execute(_DELETE_SHOT, {"id": shot_id, "uid": uid})).mappings().first()
        if gone is None:
            raise not_found("shot", shot_id)
        await invalidate_frames(conn, [gone["scene_id"]])
    return shot_id


@retried
async def reorder_shots(db: Database, uid: str, scene_id: uuid.UUID, shot_ids: Sequence[uuid.UUID]) -> list[ShotRow]:
    """Shot orders become 1..n in the order given; the list holds each shot of the scene once."""
    validation.list_size("shotIds", shot_ids)
    ids = list(shot_ids)
    async with db.transaction(uid) as conn:
        if (await conn.execute(_SCENE_OWNED, {"id": scene_id, "uid": uid})).first() is None:
            raise not_found("scene", scene_id)
        total = int((await conn.execute(_LOCK_SHOTS, {"scene_id": scene_id})).scalar_one())
        found = list((await conn.execute(_REORDER_CONTEXT, {"ids": ids, "scene_id": scene_id})).mappings())
        seen: dict[uuid.UUID, int] = {}
        for n, row in enumerate(found):
            if row["shot_id"] is None:
                raise BadUserInput(f"shotIds[{n}]: {row['given_id']} is not a shot of scene {scene_id}")
            if row["shot_id"] in seen:
                raise BadUserInput(f"shotIds[{n}]: repeats shotIds[{seen[row['shot_id']]}]")
            seen[row["shot_id"]] = n
        if len(seen) != total:
            raise BadUserInput(f"shotIds: {total - len(seen)} shot(s) of scene {scene_id} left out")
        if not ids:
            return []
        rows = all_rows(await conn.execute(_REORDER, {"ids": ids, "scene_id": scene_id}), ShotRow)
        # `old_order` rides along with the shot columns (see _REORDER).
        if any(r["shot_order"] != cast("dict[str, object]", r)["old_order"] for r in rows):
            await invalidate_frames(conn, [scene_id])
    by_id = {r["id"]: r for r in rows}
    return [by_id[i] for i in ids]

