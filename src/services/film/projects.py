"""Projects and their branches."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.core import validation
from services.core.errors import BadUserInput, not_found
from services.db.database import Database, retried
from services.db.predicates import owned

_INSERT_PROJECT = text(
    "insert into projects (id, user_id, title, active_branch_id) "
    "values (:id, :uid, :title, :branch_id) returning *"
)
_INSERT_BRANCH = text("insert into branches (id, project_id, name) values (:id, :project_id, 'main')")

_BRANCH = text(f"select b.* from branches b where b.id = :id and {owned('b')}")


async def create_project(db: Database, uid: str, title: str) -> Any:
    validation.short_text("title", title)
    project_id, branch_id = uuid.uuid4(), uuid.uuid4()
    async with db.transaction(uid) as conn:
        # Two statements: the branch's ownership policy must see the committed-in-transaction project.
        project = (
            await conn.execute(
                _INSERT_PROJECT, {"id": project_id, "uid": uid, "title": title, "branch_id": branch_id}
            )
        ).mappings().one()
        await conn.execute(_INSERT_BRANCH, {"id": branch_id, "project_id": project_id})
    return project


async def owned_branch(conn: AsyncConnection, uid: str, branch_id: uuid.UUID) -> Any:
    """The viewer's branch, or NOT_FOUND (another user's is answered like a missing one)."""
    row = (await conn.execute(_BRANCH, {"id": branch_id, "uid": uid})).mappings().first()
    if row is None:
        raise not_found("branch", branch_id)
    return row


_PROJECT_FOR_UPDATE = text(
    "select p.* from projects p where p.id = :id and p.user_id = cast(:uid as uuid) for update of p"
)
_SET_TITLE = text("update projects set title = :title where id = :id returning *")
# Revisions are history of instances that still belong to a project; a deleted project
# leaves none behind and records none on its way out.
_NO_REVISIONS = text("select set_config('continuity.revision_kind', 'none', true)")
_DELETE_PROJECT = text("delete from projects p where p.id = :id and p.user_id = cast(:uid as uuid) returning p.id")

_ACTIVE_CONTEXT = text(
    """
    select p.id, (select b.id from branches b where b.id = :branch_id and b.project_id = p.id) as branch_id
      from projects p
     where p.id = :id and p.user_id = cast(:uid as uuid)
       for update of p
    """
)
_SET_ACTIVE = text("update projects set active_branch_id = :branch_id where id = :id returning *")


@retried
async def update_project(db: Database, uid: str, project_id: uuid.UUID, changes: dict[str, Any]) -> Any:
    if "title" in changes:
        if changes["title"] is None:
            raise BadUserInput("title must not be null")
        validation.short_text("title", changes["title"])
    async with db.transaction(uid) as conn:
        current = (await conn.execute(_PROJECT_FOR_UPDATE, {"id": project_id, "uid": uid})).mappings().first()
        if current is None:
            raise not_found("project", project_id)
        if "title" not in changes or changes["title"] == current["title"]:
            return current
        return (await conn.execute(_SET_TITLE, {"id": project_id, "title": changes["title"]})).mappings().one()


async def delete_project(db: Database, uid: str, project_id: uuid.UUID) -> uuid.UUID:
    """Everything of the project goes (branches, scenes, ..., jobs); stored files stay."""

    async def work(conn: AsyncConnection) -> uuid.UUID:
        await conn.execute(_NO_REVISIONS)
        if (await conn.execute(_DELETE_PROJECT, {"id": project_id, "uid": uid})).first() is None:
            raise not_found("project", project_id)
        return project_id

    return await db.retrying(uid, work)


@retried
async def set_active_branch(db: Database, uid: str, project_id: uuid.UUID, branch_id: uuid.UUID) -> Any:
    async with db.transaction(uid) as conn:
        ctx = (
            await conn.execute(_ACTIVE_CONTEXT, {"id": project_id, "branch_id": branch_id, "uid": uid})
        ).mappings().first()
        if ctx is None:
            raise not_found("project", project_id)
        if ctx["branch_id"] is None:
            raise BadUserInput(f"branchId: {branch_id} is not a branch of project {project_id}")
        return (await conn.execute(_SET_ACTIVE, {"id": project_id, "branch_id": branch_id})).mappings().one()
