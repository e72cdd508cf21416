"""A small demo film to try in GraphiQL."""

from __future__ import annotations

from continuity import demo_report
from services import assets, assignments, instances, projects, scenes, shot_frames
from services.assignments import AssignmentEntry
from services.config import load_settings
from services.db.database import Database
from services.instances import InstanceChanges
from services.prompts import TemplatePromptWriter


async def load_demo(database_url: str, user_id: str) -> list[str]:
    db = Database(database_url, pool_size=2, max_overflow=0)
    try:
        project = await projects.create_project(db, user_id, "The Lighthouse Keeper")
        branch_id = project["active_branch_id"]
        settings = load_settings()
        pictures = await demo_report.master_images(settings, project["id"])
        asset_names = {}
        for name, kind, description in (
            ("Mara", "character", "A lighthouse keeper in her sixties, grey braid, oilskin coat."),
            ("Tom", "character", "A drenched young fisherman, red knit cap."),
            ("The Lighthouse", "location", "A white tower on black rocks, lamp room glowing."),
            ("Brass Lantern", "prop", "A dented brass storm lantern."),
        ):
            asset = await assets.create_project_asset(
                db, user_id, branch_id=branch_id, name=name, asset_type=kind, description=description,
                image_key_url=pictures.get(name),
            )
            asset_names[asset["id"]] = name
        await assets.lock_project_assets(db, user_id, branch_id, None)
        await assets.lock_visual_style(db, user_id, branch_id, "storm-noir")
        scene_rows = []
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
            inherited = await instances.inherit_scene_assets(db, user_id, scene["id"])
            if number == 2:
                mara = next(i for i in inherited.instances if i["effective_description"].startswith("A lighthouse"))
                await instances.update_scene_asset_instance(
                    db, user_id, mara["id"],
                    InstanceChanges(description_override="Mara, soaked, her oilskin coat torn at the sleeve",
                                    status_tags=["soaked", "torn_coat"], modification_reason="the rescue"),
                )
                # Scene 2 is cast shot by shot: Tom is pulled into 2A and walks out of 2B, the lantern
                # swings past in 2C (and is in no other shot).
                presence = {("2A", "Tom"): "enters", ("2B", "Tom"): "exits", ("2C", "Brass Lantern"): "passes_through"}
                entries = [
                    AssignmentEntry(
                        shot["id"], i["id"],
                        presence.get((shot["shot_label"], asset_names[i["project_asset_id"]]), "throughout"),
                    )
                    for shot in shots for i in inherited.instances
                    if asset_names[i["project_asset_id"]] != "Brass Lantern" or shot["shot_label"] == "2C"
                ]
                await assignments.create_shot_asset_assignments(db, user_id, scene["id"], entries)
                await shot_frames.generate_shot_prompts(db, user_id, scene["id"], TemplatePromptWriter())
        await demo_report.stage_report(db, settings, user_id, project["id"], branch_id)
    finally:
        await db.dispose()
    lines = [
        f"project   {project['id']}",
        f"branch    {branch_id}",
        *(f"scene {s['scene_number']}   {s['id']}" for s in scene_rows),
        "",
        "Try in GraphiQL:",
        f'  {{ branch(id: "{branch_id}") {{ scenes {{ sceneNumber slug shots {{ shotLabel }}',
        "      assetInstances { projectAsset { name } effectiveDescription statusTags",
        "        chain { scene { sceneNumber } } } } } }",
        "  Stage 9 of scene 2 (shot assignments, frame references, prompts): the Stage9 query of",
        f"  the README (Shot asset assignments) with {{\"sceneId\": \"{scene_rows[1]['id']}\"}}",
        f'  The continuity report: {{ branch(id: "{branch_id}") {{ continuityReport {{ code severity message',
        "      scene { sceneNumber } shot { shotLabel readiness { readyForVideo blockers } } } } }",
    ]
    return lines
