"""The demo film's continuity report: a few edits a script supervisor would flag, and one shot
taken all the way to ready-for-video (docs/continuity.md lists the codes).

After it, `branch { continuityReport { code message } }` shows every WARNING code
(OUTDATED_INSTANCE, STALE_IMAGE, UNEXPLAINED_CHANGE, MISSING_IMAGE, HANDOFF_MISMATCH); shot 2A is
ready for video and 2B is not (its frames were never made).
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text

from continuity.background import make_worker
from services.casting import generation
from services.casting.prompts import TemplatePromptWriter
from services.core.config import Settings
from services.db.database import Database
from services.film import assets, scenes
from services.instances import edits
from services.instances.edits import InstanceChanges

JOBS_TIMEOUT = 60.0

_IDS = text(
    """
    select s.scene_number, sh.shot_label, sh.id as shot_id, null::text as asset, null::uuid as instance_id
      from scenes s join shots sh on sh.scene_id = s.id where s.branch_id = :b
    union all
    select s.scene_number, null, null, a.name, i.id
      from scenes s join scene_asset_instances i on i.scene_id = s.id
      join project_assets a on a.id = i.project_asset_id where s.branch_id = :b
    """
)
_ASSETS = text("select name, id from project_assets where branch_id = :b")
_SCENES = text("select scene_number, id from scenes where branch_id = :b")
_PROJECT = text("select project_id from branches where id = :b")
_UNFINISHED = text(
    "select count(*) from image_generation_jobs where project_id = :p and status in ('queued', 'processing')"
)


async def _run_jobs(db: Database, settings: Settings, public_url: str, project_id: uuid.UUID) -> None:
    """Runs an image worker until the project's queued jobs are done (the demo has no server)."""
    worker_db = Database(db.url, pool_size=2, max_overflow=1)
    worker = make_worker(settings, worker_db, public_url, None)
    await worker.start()
    try:
        async with asyncio.timeout(JOBS_TIMEOUT):
            while True:
                async with db.transaction(None) as conn:
                    if not (await conn.execute(_UNFINISHED, {"p": project_id})).scalar():
                        return
                await asyncio.sleep(0.1)
    finally:
        await worker.stop()
        await worker_db.dispose()


async def stage_report(db: Database, settings: Settings, public_url: str, user_id: str, branch_id: uuid.UUID) -> None:
    async with db.transaction(user_id) as conn:
        rows = list((await conn.execute(_IDS, {"b": branch_id})).mappings())
        asset_ids: dict[str, uuid.UUID] = dict((await conn.execute(_ASSETS, {"b": branch_id})).all())
        scene_ids: dict[int, uuid.UUID] = dict((await conn.execute(_SCENES, {"b": branch_id})).all())
        project_id = (await conn.execute(_PROJECT, {"b": branch_id})).scalar_one()
    shot = {r["shot_label"]: r["shot_id"] for r in rows if r["shot_id"]}
    instance = {(r["scene_number"], r["asset"]): r["instance_id"] for r in rows if r["instance_id"]}

    # Tom's design changes; scenes 1 and 2 take it, scene 3 is left behind (outdated, and no
    # longer what its source would give it).
    await assets.update_project_asset(
        db, user_id, asset_ids["Tom"], {"description": "A drenched young fisherman, red knit cap, a split lip."}
    )
    for number in (1, 2):
        await edits.resync_scene_asset_instance(db, user_id, instance[(number, "Tom")])
    # Mara is bandaged in scene 3, and nobody said why.
    await edits.update_scene_asset_instance(
        db, user_id, instance[(3, "Mara")], InstanceChanges(status_tags=["soaked", "torn_coat", "bandaged"])
    )
    # The lantern is lost in scene 3: no image for its frames.
    await edits.update_scene_asset_instance(
        db, user_id, instance[(3, "Brass Lantern")],
        InstanceChanges(image_key_url=None, modification_reason="lost in the storm"),
    )
    # The storm breaks the lamp after its scene image was made: the image no longer fits its tags.
    await edits.update_scene_asset_instance(
        db, user_id, instance[(3, "The Lighthouse")],
        InstanceChanges(status_tags=["storm_damage"], modification_reason="the storm breaks the lamp"),
    )
    # 2C picks up where 2B left off, but Tom walked out of 2B and the lantern only passes by.
    await scenes.update_shot(db, user_id, shot["2C"], {"continues_from_previous": True})
    # Scene 2's prompts again (Tom changed), then 2A's frames: 2A is ready for video, 2B is not.
    await generation.generate_shot_prompts(db, user_id, scene_ids[2], TemplatePromptWriter())
    await generation.generate_shot_frames(db, user_id, shot["2A"])
    await _run_jobs(db, settings, public_url, project_id)
