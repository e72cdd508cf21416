"""Projects and their branches."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services import validation
from services.db.database import Database
from services.errors import not_found
from services.ownership import owned

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
