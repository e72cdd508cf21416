"""Master assets of a branch (Stage 5) and the branch's locked visual style."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.core import validation
from services.core.errors import BadUserInput, not_found
from services.db import tables
from services.db.columns import Rule, checked, created, insert_select, settable, typed_by
from services.db.database import Database
from services.db.predicates import asset_name_order, owned, typed
from services.film.chains import lock_branch, repair_chains
from services.film.projects import owned_branch
from services.film.stages import invalidate_frames

ASSET_TYPES = ("character", "location", "prop")

def _asset_type(field: str, value: str) -> str:
    if value not in ASSET_TYPES:
        raise BadUserInput(f"{field} must be CHARACTER, LOCATION or PROP")
    return value


_RULES: dict[str, Rule] = {
    "name": validation.short_text,
    "asset_type": _asset_type,
    "image_key_url": validation.image_url,
    "visual_style_capsule_id": validation.short_text,
}

# What clients set is every column of the catalogue except keys and what the system writes
# (locks by lockProjectAssets, the version by its trigger, timestamps); a new column is
# settable on create and update, checked by its type unless it has a rule above.
ASSET_COLUMNS = settable(
    tables.project_assets, ("id", "project_id", "branch_id", "locked", "version", "created_at", "updated_at"), _RULES
)

# Locking returns the locked assets in the branch's asset order.
_LOCK_ALL = text(
    f"""
    with locked as (
        update project_assets a set locked = true
         where a.branch_id = :branch_id and {owned("a")}
        returning a.*)
    select l.* from locked l order by {asset_name_order("l")}
    """
)

_ASSETS_BY_IDS = typed(
    f"""
    select a.id, a.branch_id from project_assets a
     where a.id = any(:ids) and {owned("a")}
    """
)

_LOCK_SOME = typed(
    f"""
    with locked as (
        update project_assets a set locked = true
         where a.id = any(:ids) and a.branch_id = :branch_id and {owned("a")}
        returning a.*)
    select l.* from locked l order by {asset_name_order("l")}
    """
)

_NEW_STYLE_STATE = text(
    """
    insert into stage_states (project_id, branch_id, stage_number, version, content)
    select :project_id, :branch_id, 5,
           coalesce(max(st.version), 0) + 1,
           coalesce((select s2.content from stage_states s2
                      where s2.branch_id = :branch_id and s2.stage_number = 5
                      order by s2.version desc limit 1), '{}'::jsonb)
             || jsonb_build_object('locked_visual_style_capsule_id', cast(:capsule as text))
      from stage_states st
     where st.branch_id = :branch_id and st.stage_number = 5
    """
)

_LOCKED_STYLE = text(
    """
    select content ->> 'locked_visual_style_capsule_id' as capsule
      from stage_states
     where branch_id = :branch_id and stage_number = 5
     order by version desc
     limit 1
    """
)


async def create_project_asset(db: Database, uid: str, *, branch_id: uuid.UUID, **columns: Any) -> Any:
    """`columns` by name (name, asset_type and description at least); null and omitted alike
    take the column's default."""
    values = checked(tables.project_assets, created(columns), ASSET_COLUMNS, _RULES)
    insert = insert_select(
        tables.project_assets, {"project_id": "b.project_id", "branch_id": "b.id"}, values,
        f"from branches b where b.id = :branch_id and {owned('b')}",
    )
    async with db.transaction(uid) as conn:
        row = (await conn.execute(insert, {**values, "uid": uid, "branch_id": branch_id})).mappings().first()
    if row is None:
        raise not_found("branch", branch_id)
    return row


async def update_project_asset(db: Database, uid: str, asset_id: uuid.UUID, changes: dict[str, Any]) -> Any:
    """`changes` holds only the fields given; the version grows (trigger) when description or
    image really change."""
    values = checked(tables.project_assets, changes, ASSET_COLUMNS, _RULES)
    async with db.transaction(uid) as conn:
        if values:
            assignments = ", ".join(f"{c} = :{c}" for c in values)
            # Only rows whose values really differ are written, so no-op edits leave updated_at be.
            differs = " or ".join(f"a.{c} is distinct from :{c}" for c in values)
            sql = typed_by(
                tables.project_assets,
                f"update project_assets a set {assignments} "
                f"where a.id = :id and {owned('a')} and ({differs}) returning a.*",
            )
            row = (await conn.execute(sql, {"id": asset_id, "uid": uid, **values})).mappings().first()
            if row is not None:
                return row
        row = (
            await conn.execute(
                text(f"select a.* from project_assets a where a.id = :id and {owned('a')}"),
                {"id": asset_id, "uid": uid},
            )
        ).mappings().first()
    if row is None:
        raise not_found("project asset", asset_id)
    return row


async def lock_project_assets(
    db: Database, uid: str, branch_id: uuid.UUID, ids: Sequence[uuid.UUID] | None
) -> list[Any]:
    if ids is not None:
        validation.list_size("ids", ids)
    async with db.transaction(uid) as conn:
        await owned_branch(conn, uid, branch_id)
        if ids is None:
            rows = (await conn.execute(_LOCK_ALL, {"branch_id": branch_id, "uid": uid})).mappings().all()
            return list(rows)
        wanted = list(dict.fromkeys(ids))
        found = {
            r["id"]: r["branch_id"]
            for r in (await conn.execute(_ASSETS_BY_IDS, {"ids": wanted, "uid": uid})).mappings()
        }
        for asset_id in wanted:
            if asset_id not in found:
                raise not_found("project asset", asset_id)
        for asset_id in wanted:
            if found[asset_id] != branch_id:
                raise BadUserInput(f"ids: project asset {asset_id} is not of branch {branch_id}")
        rows = (
            await conn.execute(_LOCK_SOME, {"ids": wanted, "branch_id": branch_id, "uid": uid})
        ).mappings().all()
    return list(rows)


async def lock_visual_style(db: Database, uid: str, branch_id: uuid.UUID, capsule_id: str) -> Any:
    validation.short_text("capsuleId", capsule_id)
    async with db.transaction(uid) as conn:
        branch = await owned_branch(conn, uid, branch_id)
        await conn.execute(
            _NEW_STYLE_STATE,
            {"project_id": branch["project_id"], "branch_id": branch_id, "capsule": capsule_id},
        )
    return branch


async def locked_visual_style(conn: AsyncConnection, branch_id: uuid.UUID) -> str | None:
    """The capsule of the branch's newest stage 5 state, if it has one."""
    return (await conn.execute(_LOCKED_STYLE, {"branch_id": branch_id})).scalar()


# Read in the statement's snapshot, before the cascade: the scenes whose frames read the
# asset's instances (they had assignments, or the scene is under the legacy fallback).
_DELETE = text(
    f"""
    with affected as (
        select distinct i.scene_id
          from scene_asset_instances i
          join scenes s on s.id = i.scene_id
         where i.project_asset_id = :id
           and (not s.assignments_initialized
                or exists (select 1 from shot_asset_assignments x where x.scene_asset_instance_id = i.id))),
    gone as (delete from project_assets a where a.id = :id and {owned("a")} returning a.id)
    select (select count(*) from gone) as deleted,
           coalesce((select array_agg(scene_id) from affected), '{{}}') as scenes
    """
)


async def delete_project_asset(db: Database, uid: str, asset_id: uuid.UUID) -> uuid.UUID:
    """Its instances go with it, and so their assignments and events (seed edge case 1)."""
    async def work(conn: AsyncConnection) -> uuid.UUID:
        branch = await lock_branch(conn, uid, "project asset", asset_id)
        result = (await conn.execute(_DELETE, {"id": asset_id, "uid": uid})).mappings().one()
        if not result["deleted"]:
            raise not_found("project asset", asset_id)
        await repair_chains(conn, branch["id"])
        await invalidate_frames(conn, list(result["scenes"]))
        return asset_id

    return await db.retrying(uid, work)
