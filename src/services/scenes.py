"""Scenes and shots."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from services import validation
from services.db.database import Database
from services.errors import not_found
from services.ownership import owned

_INSERT_SCENE = text(
    f"""
    insert into scenes (project_id, branch_id, scene_number, slug, script_excerpt, end_state_summary)
    select b.project_id, b.id, :scene_number, :slug, :script_excerpt, :end_state_summary
      from branches b
     where b.id = :branch_id and {owned("b")}
    returning *
    """
)

_INSERT_SHOT = text(
    f"""
    insert into shots (project_id, scene_id, shot_label, shot_order, duration_seconds,
                       setting, action, camera)
    select s.project_id, s.id, :shot_label, :shot_order, :duration_seconds, :setting, :action, :camera
      from scenes s
     where s.id = :scene_id and {owned("s")}
    returning *
    """
)


async def create_scene(
    db: Database,
    uid: str,
    *,
    branch_id: uuid.UUID,
    scene_number: int,
    slug: str,
    script_excerpt: str | None = None,
    end_state_summary: str | None = None,
) -> Any:
    validation.positive("sceneNumber", scene_number)
    validation.short_text("slug", slug)
    validation.optional_long_text("scriptExcerpt", script_excerpt)
    validation.optional_long_text("endStateSummary", end_state_summary)
    params = {
        "uid": uid,
        "branch_id": branch_id,
        "scene_number": scene_number,
        "slug": slug,
        "script_excerpt": script_excerpt or "",
        "end_state_summary": end_state_summary,
    }
    async with db.transaction(uid) as conn:
        row = (await conn.execute(_INSERT_SCENE, params)).mappings().first()
    if row is None:
        raise not_found("branch", branch_id)
    return row


async def create_shot(
    db: Database,
    uid: str,
    *,
    scene_id: uuid.UUID,
    shot_label: str,
    shot_order: int,
    duration_seconds: int,
    setting: str | None = None,
    action: str | None = None,
    camera: str | None = None,
) -> Any:
    validation.short_text("shotLabel", shot_label)
    validation.positive("shotOrder", shot_order)
    validation.positive("durationSeconds", duration_seconds)
    for field, value in (("setting", setting), ("action", action), ("camera", camera)):
        validation.optional_long_text(field, value)
    params = {
        "uid": uid,
        "scene_id": scene_id,
        "shot_label": shot_label,
        "shot_order": shot_order,
        "duration_seconds": duration_seconds,
        "setting": setting,
        "action": action,
        "camera": camera,
    }
    async with db.transaction(uid) as conn:
        row = (await conn.execute(_INSERT_SHOT, params)).mappings().first()
    if row is None:
        raise not_found("scene", scene_id)
    return row
