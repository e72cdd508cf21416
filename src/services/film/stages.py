"""Stage locks of a scene, and their invalidation when what frames and prompts read changes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.core import validation
from services.core.errors import BadUserInput, not_found
from services.db.database import Database
from services.db.predicates import owned
from services.db.rows import SceneRow, StageStatus, first_row

STATUSES: tuple[StageStatus, ...] = ("draft", "locked", "outdated")
FRAME_STAGES = ("9", "10", "11", "12")

_SET_STATUS = text(
    f"""
    update scenes s
       set stage_locks = jsonb_set(s.stage_locks, array[cast(:stage as text)],
                                   jsonb_build_object('status', cast(:status as text)), true)
     where s.id = :id and {owned("s")}
    returning s.*
    """
)

# Locked stages 9-12 become outdated; other statuses stay. Touches only scenes that have one,
# locked in id order: two units of work outdating overlapping sets of scenes (propagations
# down chains through the same scenes) wait for each other instead of deadlocking.
def outdating(scene_ids: str) -> str:
    """The update that outdates the locked stages 9-12 of the scenes `scene_ids` (an SQL array
    expression), for use as a statement or as a data-modifying CTE of one."""
    return f"""
    update scenes s
       set stage_locks = (
           select jsonb_object_agg(
               e.key,
               case when e.key in ('9', '10', '11', '12') and e.value ->> 'status' = 'locked'
                    then jsonb_set(e.value, '{{status}}', '"outdated"') else e.value end)
             from jsonb_each(s.stage_locks) e)
      from (select o.id from scenes o
             where o.id = any({scene_ids})
               and exists (select 1 from jsonb_each(o.stage_locks) e
                            where e.key in ('9', '10', '11', '12') and e.value ->> 'status' = 'locked')
             order by o.id
               for update) ordered
     where s.id = ordered.id
    """


_INVALIDATE = text(outdating("cast(:ids as uuid[])"))


async def set_scene_stage_status(db: Database, uid: str, scene_id: uuid.UUID, stage: int, status: str) -> SceneRow:
    validation.stage(stage)
    if status not in STATUSES:
        raise BadUserInput("status must be DRAFT, LOCKED or OUTDATED")
    async with db.transaction(uid) as conn:
        row = first_row(
            await conn.execute(_SET_STATUS, {"id": scene_id, "uid": uid, "stage": str(stage), "status": status}),
            SceneRow,
        )
    if row is None:
        raise not_found("scene", scene_id)
    return row


async def invalidate_frames(conn: AsyncConnection, scene_ids: Iterable[uuid.UUID]) -> None:
    """Marks the locked stages 9-12 of these scenes outdated (one statement)."""
    ids = list(dict.fromkeys(scene_ids))
    if ids:
        await conn.execute(_INVALIDATE, {"ids": ids})


def stage_locks(raw: dict[str, Any] | None) -> list[tuple[int, str]]:
    """The (stage, status) pairs present in a scene's stage_locks, by stage number."""
    pairs: list[tuple[int, str]] = []
    for key, value in (raw or {}).items():
        if not key.isdigit() or not isinstance(value, dict):
            continue
        status = value.get("status")
        if status in STATUSES:
            pairs.append((int(key), status))
    return sorted(pairs)
