"""Inheritance of one state, table-driven, through the service on a real database: what a
prior instance hands on to the next scene, by carry_forward."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from services.db.database import Database
from services.film import assets, projects, scenes
from services.instances import edits
from services.instances.edits import InstanceChanges

ASSET_NOW = {"description": "Keeper, redesigned", "image_key_url": "https://img.example/v2.png"}


@pytest.fixture(scope="module")
async def db(database_url: str):  # type: ignore[no-untyped-def]
    database = Database(database_url, pool_size=2, max_overflow=2)
    yield database
    await database.dispose()


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "carry forward: every edit travels",
        {"description_override": "Muddy keeper", "status_tags": ["muddy"], "image_key_url": "https://img.example/own.png", "carry_forward": True},
        {"description_override": "Muddy keeper", "effective_description": "Muddy keeper", "status_tags": ["muddy"],
         "image_key_url": "https://img.example/own.png", "image_is_own": True, "carry_forward": True,
         "base_description": "Keeper", "base_version": 1},
    ),
    (
        "carry forward without edits keeps the old base (nothing follows the asset by itself)",
        {},
        {"description_override": None, "effective_description": "Keeper", "status_tags": [],
         "image_key_url": "https://img.example/v1.png", "image_is_own": False, "carry_forward": True,
         "base_description": "Keeper", "base_version": 1},
    ),
    (
        "no carry forward: reset to the asset now, link kept, carry_forward stays false",
        {"description_override": "Muddy keeper", "status_tags": ["muddy"], "image_key_url": "https://img.example/own.png", "carry_forward": False},
        {"description_override": None, "effective_description": "Keeper, redesigned", "status_tags": [],
         "image_key_url": "https://img.example/v2.png", "image_is_own": False, "carry_forward": False,
         "base_description": "Keeper, redesigned", "base_version": 3},
    ),
]


@pytest.mark.parametrize(("name", "changes", "inherited"), CASES, ids=[c[0] for c in CASES])
async def test_inheritance_of_one_state(db: Database, name: str, changes: dict[str, Any], inherited: dict[str, Any]) -> None:
    uid = str(uuid.uuid4())
    project = await projects.create_project(db, uid, name[:50])
    branch = project["active_branch_id"]
    asset = await assets.create_project_asset(
        db, uid, branch_id=branch, name="Mara", asset_type="character", description="Keeper",
        image_key_url="https://img.example/v1.png")
    await assets.lock_project_assets(db, uid, branch, None)
    first = await scenes.create_scene(db, uid, branch_id=branch, scene_number=1, slug="one")
    second = await scenes.create_scene(db, uid, branch_id=branch, scene_number=2, slug="two")
    (prior,) = (await edits.inherit_scene_assets(db, uid, first["id"])).instances
    if changes:
        await edits.update_scene_asset_instance(db, uid, prior["id"], InstanceChanges(**changes))
    # The asset moves on after scene 1 was made (two versions: description, then image).
    await assets.update_project_asset(db, uid, asset["id"], {"description": ASSET_NOW["description"]})
    await assets.update_project_asset(db, uid, asset["id"], {"image_key_url": ASSET_NOW["image_key_url"]})
    result = await edits.inherit_scene_assets(db, uid, second["id"])
    assert result.source == "prior_scene" and result.prior_scene_id == first["id"]
    (row,) = result.instances
    got = {key: (list(row[key]) if key == "status_tags" else row[key]) for key in inherited}
    assert got == inherited
    assert row["inherited_from_instance_id"] == prior["id"]
    assert row["modification_count"] == 0 and row["last_modified_field"] is None
    async with db.transaction(uid) as conn:
        linked = (await conn.execute(text("select count(*) from scene_asset_instances where inherited_from_instance_id = :p"),
                                     {"p": prior["id"]})).scalar()
    assert linked == 1
