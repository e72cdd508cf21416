"""Revisions are append-only for `authenticated`, at the database level: the owner reads them,
nobody inserts, changes or removes one, and another user sees none."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.core.errors import NotFound
from services.db.database import Database
from services.film import assets, projects, scenes
from services.instances import edits


@pytest.fixture(scope="module")
async def db(database_url: str):  # type: ignore[no-untyped-def]
    database = Database(database_url, pool_size=2, max_overflow=2)
    yield database
    await database.dispose()


async def _instance(db: Database, uid: str) -> dict[str, Any]:
    project = dict(await projects.create_project(db, uid, "Revisions RLS"))
    branch = project["active_branch_id"]
    scene = dict(await scenes.create_scene(db, uid, branch_id=branch, scene_number=1, slug="s"))
    asset = dict(await assets.create_project_asset(
        db, uid, branch_id=branch, name="Mara", asset_type="character", description="d"))
    row = await edits.create_scene_asset_instance(
        db, uid, scene_id=scene["id"], project_asset_id=asset["id"], status_tags=["muddy"])
    return dict(row)


async def _count(db: Database, uid: str | None, instance_id: uuid.UUID) -> int:
    async with db.transaction(uid) as conn:
        sql = text("select count(*) from instance_revisions where scene_asset_instance_id = :i")
        return int((await conn.execute(sql, {"i": instance_id})).scalar() or 0)


async def test_the_owner_reads_revisions_and_another_user_sees_none(db: Database) -> None:
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    instance = await _instance(db, alice)
    assert await _count(db, alice, instance["id"]) == 1
    # No ownership predicate in the query: only the policy stands between Bob and the row.
    assert await _count(db, bob, instance["id"]) == 0
    async with db.transaction(bob) as conn:
        assert (await conn.execute(text("select count(*) from instance_revisions"))).scalar() == 0


@pytest.mark.parametrize("statement", [
    "update instance_revisions set reason = 'rewritten' where scene_asset_instance_id = :i",
    "delete from instance_revisions where scene_asset_instance_id = :i",
    """insert into instance_revisions (project_id, branch_id, scene_asset_instance_id, scene_id,
                                       project_asset_id, number, kind, after)
       select project_id, branch_id, id, scene_id, project_asset_id, 99, 'created', '{}'
         from scene_asset_instances where id = :i""",
])
async def test_authenticated_cannot_write_change_or_remove_a_revision_not_even_its_own(db: Database, statement: str) -> None:
    alice = str(uuid.uuid4())
    instance = await _instance(db, alice)
    with pytest.raises((DBAPIError, NotFound)):  # permission denied (42501) maps to NOT_FOUND
        async with db.transaction(alice) as conn:
            await conn.execute(text(statement), {"i": instance["id"]})
    async with db.transaction(None) as conn:
        rows = (await conn.execute(
            text("select number, kind, reason from instance_revisions where scene_asset_instance_id = :i"),
            {"i": instance["id"]})).all()
    assert [tuple(r) for r in rows] == [(1, "created", None)]


async def test_the_trigger_writes_for_authenticated_and_records_its_claims(db: Database) -> None:
    alice = str(uuid.uuid4())
    instance = await _instance(db, alice)
    async with db.transaction(alice) as conn:
        await conn.execute(text("update scene_asset_instances set status_tags = '{}' where id = :i"),
                           {"i": instance["id"]})
    async with db.transaction(alice) as conn:
        row = (await conn.execute(text(
            "select number, kind, actor_user_id, changed_fields from instance_revisions"
            " where scene_asset_instance_id = :i order by number desc limit 1"), {"i": instance["id"]})).one()
    assert tuple(row) == (2, "updated", uuid.UUID(alice), ["status_tags"])
