"""A small demo film to try in GraphiQL: three scenes of four assets, each instance with a
generated image, every shot with its prompts, and scene 2's stage 9 locked (README, Try it in GraphiQL)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from continuity import demo_report
from services.casting import assignments, generation
from services.casting.assignments import AssignmentEntry
from services.casting.prompts import TemplatePromptWriter
from services.core.config import Settings
from services.db.database import Database
from services.film import assets, projects, scenes, stages
from services.images import jobs
from services.images.providers import provider_from_settings
from services.images.storage import storage_from_settings
from services.images.worker import ImageWorker
from services.instances import edits
from services.instances.edits import InstanceChanges

TERMINAL = {"completed", "failed"}


async def _generate_images(
    db: Database, settings: Settings, public_url: str, user_id: str, instance_ids: list[uuid.UUID]
) -> None:
    """Queues an image per instance and runs a worker here until every job is done, so the
    film has its images whether or not a server runs."""
    job_ids = [(await jobs.create_scene_asset_job(db, user_id, i))["id"] for i in instance_ids]
    worker = ImageWorker(
        db,
        provider=provider_from_settings(settings.image_provider),
        storage=storage_from_settings(settings.media_dir, public_url, settings.image_storage),
        lease_seconds=settings.worker_lease_seconds,
        poll_seconds=0.05,
        concurrency=2,
        timeout_seconds=settings.image_timeout_seconds,
    )
    await worker.start()
    try:
        async with asyncio.timeout(300):
            while True:
                rows = await jobs.viewer_jobs(db, user_id, job_ids)
                if all(str(r["status"]).lower() in TERMINAL for r in rows.values()):
                    break
                await asyncio.sleep(0.1)
    finally:
        await worker.stop()


async def load_demo(database_url: str, user_id: str, *, settings: Settings, public_url: str) -> list[str]:
    """Loads the film and returns the lines `continuity demo` prints: names and ids only."""
    db = Database(database_url, pool_size=3, max_overflow=0)
    try:
        project = await projects.create_project(db, user_id, "The Lighthouse Keeper")
        branch_id = project["active_branch_id"]
        asset_names = {}
        for name, kind, description in (
            ("Mara", "character", "A lighthouse keeper in her sixties, grey braid, oilskin coat."),
            ("Tom", "character", "A drenched young fisherman, red knit cap."),
            ("The Lighthouse", "location", "A white tower on black rocks, lamp room glowing."),
            ("Brass Lantern", "prop", "A dented brass storm lantern."),
        ):
            asset = await assets.create_project_asset(
                db, user_id, branch_id=branch_id, name=name, asset_type=kind, description=description
            )
            asset_names[asset["id"]] = name
        await assets.lock_project_assets(db, user_id, branch_id, None)
        await assets.lock_visual_style(db, user_id, branch_id, "storm-noir")
        scene_rows = []
        all_instances: list[uuid.UUID] = []
        scene2_mara: dict[str, Any] = {}
        for number, slug, script, end in (
            (1, "storm-rising", "Mara climbs the tower as the storm rises.", "Mara is soaked."),
            (2, "the-rescue", "Mara pulls Tom from the surf.", "Tom is safe, Mara's coat is torn."),
            (3, "dawn", "Dawn over a calm sea.", None),
        ):
            scene = await scenes.create_scene(
                db, user_id, branch_id=branch_id, scene_number=number, slug=slug,
                script_excerpt=script, end_state_summary=end,
            )
            scene_rows.append(scene)
            shots = []
            for order, label in enumerate(("A", "B", "C"), start=1):
                shot = await scenes.create_shot(
                    db, user_id, scene_id=scene["id"], shot_label=f"{number}{label}",
                    shot_order=order, duration_seconds=4,
                    setting="The lighthouse, night", action="The storm batters the tower.",
                    camera="Wide, slow push in",
                )
                shots.append(shot)
            inherited = await edits.inherit_scene_assets(db, user_id, scene["id"])
            all_instances += [i["id"] for i in inherited.instances]
            if number == 2:
                scene2_mara = next(
                    i for i in inherited.instances if i["effective_description"].startswith("A lighthouse")
                )
                await edits.update_scene_asset_instance(
                    db, user_id, scene2_mara["id"],
                    InstanceChanges(description_override="Mara, soaked, her oilskin coat torn at the sleeve",
                                    status_tags=["soaked", "torn_coat"], modification_reason="the rescue"),
                )
                # Scene 2 is cast shot by shot: Tom is pulled into 2A and walks out of 2B, the lantern
                # swings past in 2C.
                presence = {("2A", "Tom"): "enters", ("2B", "Tom"): "exits", ("2C", "Brass Lantern"): "passes_through"}
                entries = [
                    AssignmentEntry(
                        shot["id"], i["id"],
                        presence.get((shot["shot_label"], asset_names[i["project_asset_id"]]), "throughout"),
                    )
                    for shot in shots for i in inherited.instances
                ]
                await assignments.create_shot_asset_assignments(db, user_id, scene["id"], entries)
        await _generate_images(db, settings, public_url, user_id, all_instances)
        # Prompts after the images: the manifests name the images the frames will use.
        for scene in scene_rows:
            await generation.generate_shot_prompts(db, user_id, scene["id"], TemplatePromptWriter())
        # What the continuity report then shows (docs/continuity.md), before the sign-off below.
        await demo_report.stage_report(db, settings, public_url, user_id, branch_id)
        # Scene 2's frames are signed off: an edit that changes them outdates this lock.
        await stages.set_scene_stage_status(db, user_id, scene_rows[1]["id"], 9, "locked")
    finally:
        await db.dispose()
    return [
        f"project   {project['id']}",
        f"branch    {branch_id}",
        *(f"scene {s['scene_number']}   {s['id']}" for s in scene_rows),
        f"mara 2    {scene2_mara['id']}",
    ]
