"""Row-level security at the database level: as role `authenticated`, another user's rows
are invisible and cannot be written, and no row can point into another project."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.core.errors import NotFound
from services.db.database import Database
from services.film import assets, projects, scenes


@pytest.fixture(scope="module")
async def db(database_url: str):  # type: ignore[no-untyped-def]
    database = Database(database_url, pool_size=2, max_overflow=2)
    yield database
    await database.dispose()


async def _film(db: Database, uid: str) -> tuple[dict, dict]:  # type: ignore[type-arg]
    project = dict(await projects.create_project(db, uid, "RLS"))
    scene = dict(await scenes.create_scene(db, uid, branch_id=project["active_branch_id"], scene_number=1, slug="s"))
    await assets.create_project_asset(
        db, uid, branch_id=project["active_branch_id"], name="A", asset_type="prop", description="d")
    return project, scene


async def test_another_users_rows_are_invisible(db: Database) -> None:
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    project, _ = await _film(db, alice)
    for table in ("projects", "branches", "scenes", "project_assets"):
        async with db.transaction(bob) as conn:
            # No ownership predicate here: only the policies stand between Bob and the rows.
            count = (await conn.execute(text(f"select count(*) from {table} where id is not null and "
                                             + ("id" if table == "projects" else "project_id") + " = :p"),
                                        {"p": project["id"]})).scalar()
        assert count == 0, table
        async with db.transaction(alice) as conn:
            count = (await conn.execute(text(f"select count(*) from {table} where "
                                             + ("id" if table == "projects" else "project_id") + " = :p"),
                                        {"p": project["id"]})).scalar()
        assert count >= 1, table


async def test_another_user_cannot_insert_update_or_delete(db: Database) -> None:
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    project, scene = await _film(db, alice)
    with pytest.raises((DBAPIError, NotFound)):
        async with db.transaction(bob) as conn:
            await conn.execute(
                text("insert into scenes (project_id, branch_id, scene_number, slug) values (:p, :b, 9, 'x')"),
                {"p": project["id"], "b": project["active_branch_id"]})
    with pytest.raises((DBAPIError, NotFound)):
        async with db.transaction(bob) as conn:
            await conn.execute(
                text("insert into projects (user_id, title) values (:u, 'stolen')"), {"u": alice})
    async with db.transaction(bob) as conn:
        updated = await conn.execute(text("update scenes set slug = 'hacked' where id = :s"), {"s": scene["id"]})
        deleted = await conn.execute(text("delete from project_assets where project_id = :p"), {"p": project["id"]})
    assert updated.rowcount == 0 and deleted.rowcount == 0
    async with db.transaction(alice) as conn:
        slug = (await conn.execute(text("select slug from scenes where id = :s"), {"s": scene["id"]})).scalar()
    assert slug == "s"


async def test_no_row_can_point_into_another_project(db: Database) -> None:
    alice = str(uuid.uuid4())
    first, _ = await _film(db, alice)
    second, second_scene = await _film(db, alice)
    # A shot of project 1 in a scene of project 2, by the system (no RLS): the composite key refuses it.
    with pytest.raises(NotFound):
        async with db.transaction(None) as conn:
            await conn.execute(
                text("insert into shots (project_id, scene_id, shot_label, shot_order, duration_seconds) "
                     "values (:p, :s, '1A', 1, 3)"),
                {"p": first["id"], "s": second_scene["id"]})
    # An instance whose asset is of another branch than its scene.
    async with db.transaction(None) as conn:
        asset_id = (await conn.execute(text("select id from project_assets where project_id = :p"),
                                       {"p": first["id"]})).scalar()
    with pytest.raises(NotFound):
        async with db.transaction(None) as conn:
            await conn.execute(
                text("insert into scene_asset_instances (project_id, branch_id, scene_id, project_asset_id, "
                     "effective_description, base_version, base_description) "
                     "values (:p, :b, :s, :a, 'd', 1, 'd')"),
                {"p": second["id"], "b": second["active_branch_id"], "s": second_scene["id"], "a": asset_id})
