"""Stage 9 and 10 of a scene's shots: prompts written (with the reference lists they were written
against), then the START_FRAME and END_FRAME image jobs queued from what was stored.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.casting.assignments import read_scene_casts
from services.casting.prompts import PromptWriter, ShotBrief, write_prompts
from services.continuity.rules import prompt_inputs
from services.core.errors import BadUserInput, VisualStyleRequired, not_found
from services.db import tables
from services.db.database import Database
from services.db.predicates import owned, shot_order
from services.film.assets import locked_visual_style

FRAME_WIDTH = 1280
FRAME_HEIGHT = 720

# The lists and inputs a prompt run writes: not read back (the rows it returns take them from
# what was written), so their JSON is never decoded.
_WRITTEN_JSON = ("reference_image_order", "end_frame_reference_image_order", "prompt_inputs")
_RETURNED = ", ".join(f"sh.{c.name}" for c in tables.shots.columns if c.name not in _WRITTEN_JSON)

_SHOTS_OF_SCENE = text(
    f"""
    select sh.id, sh.shot_label, sh.shot_order, sh.duration_seconds, sh.setting, sh.action, sh.camera
      from shots sh
     where sh.scene_id = :scene_id and {owned("sh")}
     order by {shot_order("sh")}
    """
)

# Every shot of the scene in one statement, however many shots it has.
_WRITE_PROMPTS = text(
    f"""
    update shots sh
       set frame_prompt = x.frame_prompt,
           video_prompt = x.video_prompt,
           reference_image_order = cast(x.start_images as jsonb),
           end_frame_reference_image_order = cast(x.end_images as jsonb),
           prompt_inputs = cast(x.inputs as jsonb)
      from unnest(cast(:ids as uuid[]), cast(:frame_prompts as text[]), cast(:video_prompts as text[]),
                  cast(:start_images as text[]), cast(:end_images as text[]), cast(:inputs as text[]))
           as x(id, frame_prompt, video_prompt, start_images, end_images, inputs)
     where sh.id = x.id and {owned("sh")}
    returning {_RETURNED}
    """
)

_SHOT_FOR_FRAMES = text(
    f"""
    select sh.id, sh.project_id, sh.scene_id, sh.frame_prompt, sh.reference_image_order,
           sh.end_frame_reference_image_order, sh.continues_from_previous, s.branch_id
      from shots sh
      join scenes s on s.id = sh.scene_id
     where sh.id = :id and {owned("sh")}
    """
)

_INSERT_FRAME_JOBS = text(
    """
    insert into image_generation_jobs (
        project_id, branch_id, job_type, status, prompt, width, height, visual_style_capsule_id,
        scene_id, shot_id, reference_images, storage_path, idempotency_key)
    values (:project_id, :branch_id, 'start_frame', 'queued', :prompt, :width, :height, :capsule,
            :scene_id, :shot_id, cast(:start_images as jsonb), :start_path, :start_key),
           (:project_id, :branch_id, 'end_frame', 'queued', :prompt, :width, :height, :capsule,
            :scene_id, :shot_id, cast(:end_images as jsonb), :end_path, :end_key)
    returning *
    """
)

# A shot that continues the previous one takes its start frame from that shot's end frame.
_INSERT_END_FRAME_JOB = text(
    """
    insert into image_generation_jobs (
        project_id, branch_id, job_type, status, prompt, width, height, visual_style_capsule_id,
        scene_id, shot_id, reference_images, storage_path, idempotency_key)
    values (:project_id, :branch_id, 'end_frame', 'queued', :prompt, :width, :height, :capsule,
            :scene_id, :shot_id, cast(:end_images as jsonb), :end_path, :end_key)
    returning *
    """
)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def generate_shot_prompts(db: Database, uid: str, scene_id: uuid.UUID, writer: PromptWriter) -> list[Any]:
    """Writes every shot's frame prompt, video prompt and both reference lists as they are now.

    One unit of work, a constant number of statements. The writer runs inside it, so what it
    is told and what gets stored are the same snapshot of the scene.
    """
    async with db.transaction(uid) as conn:
        casts = await read_scene_casts(conn, uid, [scene_id], presences_only=True)
        cast = casts.get(scene_id)
        if cast is None:
            raise not_found("scene", scene_id)
        shots = list((await conn.execute(_SHOTS_OF_SCENE, {"scene_id": scene_id, "uid": uid})).mappings())
        if not shots:
            return []
        casts_of_shots = [cast.cast_of(s["id"]) for s in shots]
        briefs = [
            ShotBrief(
                shot_id=s["id"],
                shot_label=s["shot_label"],
                shot_order=s["shot_order"],
                duration_seconds=s["duration_seconds"],
                setting=s["setting"],
                action=s["action"],
                camera=s["camera"],
                frames=cast.frames_of(s["id"], shot_cast),
            )
            for s, shot_cast in zip(shots, casts_of_shots, strict=True)
        ]
        written = await write_prompts(writer, briefs)
        # What readiness compares with the same inputs later (docs/continuity.md).
        inputs = [
            prompt_inputs(b.setting, b.action, b.camera, shot_cast)
            for b, shot_cast in zip(briefs, casts_of_shots, strict=True)
        ]
        rows = (
            await conn.execute(
                _WRITE_PROMPTS,
                {
                    "ids": [b.shot_id for b in briefs],
                    "frame_prompts": [w.frame_prompt for w in written],
                    "video_prompts": [w.video_prompt for w in written],
                    "start_images": [_json(b.frames.start_images) for b in briefs],
                    "end_images": [_json(b.frames.end_images) for b in briefs],
                    "inputs": [_json(i) for i in inputs],
                    "uid": uid,
                },
            )
        ).mappings().all()
    by_id = {r["id"]: r for r in rows}
    return [
        {
            **by_id[b.shot_id],
            "reference_image_order": b.frames.start_images,
            "end_frame_reference_image_order": b.frames.end_images,
            "prompt_inputs": i,
        }
        for b, i in zip(briefs, inputs, strict=True)
    ]


def frame_storage_path(
    project_id: uuid.UUID, branch_id: uuid.UUID, scene_id: uuid.UUID, shot_id: uuid.UUID, frame: str
) -> str:
    """`project_{p}/branch_{b}/scene_{s}/shot_{shot}/{start|end}_frame_{timestamp}_{random}.png`,
    the timestamp in milliseconds since the epoch."""
    stamp = time.time_ns() // 1_000_000
    return (
        f"project_{project_id}/branch_{branch_id}/scene_{scene_id}/shot_{shot_id}/"
        f"{frame}_frame_{stamp}_{secrets.token_hex(4)}.png"
    )


async def queue_frame_jobs(
    conn: AsyncConnection,
    shot: Any,
    capsule: str,
    start_images: Sequence[Any],
    end_images: Sequence[Any],
    *,
    end_only: bool = False,
) -> list[Any]:
    """Inserts the shot's START_FRAME then END_FRAME job (queued, 1280x720, the stored frame
    prompt) and returns them in that order; with `end_only`, the END_FRAME job alone."""
    ids = (shot["project_id"], shot["branch_id"], shot["scene_id"], shot["id"])
    rows = (
        await conn.execute(
            _INSERT_END_FRAME_JOB if end_only else _INSERT_FRAME_JOBS,
            {
                "project_id": shot["project_id"],
                "branch_id": shot["branch_id"],
                "scene_id": shot["scene_id"],
                "shot_id": shot["id"],
                "prompt": shot["frame_prompt"],
                "width": FRAME_WIDTH,
                "height": FRAME_HEIGHT,
                "capsule": capsule,
                "start_images": _json(list(start_images)),
                "end_images": _json(list(end_images)),
                "start_path": frame_storage_path(*ids, "start"),
                "end_path": frame_storage_path(*ids, "end"),
                "start_key": str(uuid.uuid4()),
                "end_key": str(uuid.uuid4()),
            },
        )
    ).mappings().all()
    return sorted(rows, key=lambda r: r["job_type"] != "start_frame")


async def generate_shot_frames(db: Database, uid: str, shot_id: uuid.UUID) -> list[Any]:
    """Needs the branch's locked visual style, then generated prompts. The END_FRAME job gets the
    stored end list (never the start list). A continuing shot gets only its END_FRAME job: its
    start frame is the previous shot's end frame (docs/editing.md, handoff)."""
    async with db.transaction(uid) as conn:
        shot = (await conn.execute(_SHOT_FOR_FRAMES, {"id": shot_id, "uid": uid})).mappings().first()
        if shot is None:
            raise not_found("shot", shot_id)
        capsule = await locked_visual_style(conn, shot["branch_id"])
        if not capsule:
            raise VisualStyleRequired("generating frames needs the branch's locked visual style (Stage 5)")
        if shot["frame_prompt"] is None or not shot["frame_prompt"].strip():
            raise BadUserInput(f"shot {shot_id} has no frame prompt yet: run generateShotPrompts first")
        return await queue_frame_jobs(
            conn,
            shot,
            capsule,
            shot["reference_image_order"] or [],
            shot["end_frame_reference_image_order"] or [],
            end_only=shot["continues_from_previous"],
        )
