"""Chains follow the story, and structural edits of a branch run one after another.

*Chain repair*: every instance's inherited_from is its asset's instance in the latest earlier
scene of the branch that has one, or null (docs/editing.md). Every write that inserts or
deletes an instance, or moves or deletes a scene, runs the repair in its own transaction: one
statement for any number of scenes and assets. A relink sets the link time and nothing else:
no state, no modification count, no stage invalidation.

*The branch lock*: those writes, and createScene and forkBranch, first write the branch row
(its updated_at), so they run one after another and each sees what the one before committed.
A write rather than `select ... for update`: a fork reads under repeatable read, and PostgreSQL
refuses (as a serialization failure, retried by the server) to lock a row that a transaction
committed after the fork's snapshot was taken, so a fork never copies a branch from before the
structural edit it waited for. The lock is `no key update`: inserts that reference the branch
take a key-share lock and are not held up.

Lock order, so that no two writers wait on each other in a circle: branch, then instance rows,
then scene rows. Instance writers elsewhere lock their instance and then the scene row they
invalidate; so deleteScene locks the branch's instances before touching scenes, and moveScene
relinks its chains (which locks the instances it relinks) before it shifts the scenes.
"""

from __future__ import annotations

import uuid
from typing import TypedDict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from services.core.errors import not_found
from services.db.predicates import owned
from services.db.rows import first_row

# lag() over the asset's instances in scene order is exactly "the latest earlier scene that
# has one": scene numbers are unique in a branch and an asset has one instance per scene.
_REPAIR = text(
    """
    with ordered as (
        select i.id,
               lag(i.id) over (partition by i.project_asset_id order by s.scene_number) as parent
          from scene_asset_instances i
          join scenes s on s.id = i.scene_id
         where i.branch_id = :branch_id)
    update scene_asset_instances i
       set inherited_from_instance_id = o.parent, linked_at = clock_timestamp()
      from ordered o
     where i.id = o.id and i.inherited_from_instance_id is distinct from o.parent
    """
)


def _lock(branch_of: str) -> TextClause:
    return text(
        f"""
        update branches b set updated_at = clock_timestamp()
         where b.id = ({branch_of}) and {owned("b")}
        returning b.id, b.project_id
        """
    )


_LOCK_BRANCH = _lock("select cast(:id as uuid)")
_LOCK_BRANCH_OF_SCENE = _lock(f"select s.branch_id from scenes s where s.id = :id and {owned('s')}")
_LOCK_BRANCH_OF_INSTANCE = _lock(
    f"select i.branch_id from scene_asset_instances i where i.id = :id and {owned('i')}"
)
_LOCK_BRANCH_OF_ASSET = _lock(f"select a.branch_id from project_assets a where a.id = :id and {owned('a')}")

_LOCK_INSTANCES = text(
    """
    select count(*) from (
        select 1 from scene_asset_instances where branch_id = :branch_id order by id for update) locked
    """
)

_LOCKS = {
    "branch": _LOCK_BRANCH,
    "scene": _LOCK_BRANCH_OF_SCENE,
    "scene asset instance": _LOCK_BRANCH_OF_INSTANCE,
    "project asset": _LOCK_BRANCH_OF_ASSET,
}



class LockedBranch(TypedDict):
    id: uuid.UUID
    project_id: uuid.UUID


async def lock_branch(conn: AsyncConnection, uid: str, kind: str, ident: uuid.UUID) -> LockedBranch:
    """Locks the branch of the viewer's object `ident` (a branch, scene, instance or asset) and
    returns it (id, project_id); another user's or a missing object is NOT_FOUND."""
    row = first_row(await conn.execute(_LOCKS[kind], {"id": ident, "uid": uid}), LockedBranch)
    if row is None:
        raise not_found(kind, ident)
    return row


async def lock_instances(conn: AsyncConnection, branch_id: uuid.UUID) -> None:
    """Locks every instance of the branch (in id order) before scene rows are written."""
    await conn.execute(_LOCK_INSTANCES, {"branch_id": branch_id})


async def repair_chains(conn: AsyncConnection, branch_id: uuid.UUID) -> int:
    """Relinks every instance of the branch whose link breaks the rule; returns how many."""
    result = await conn.execute(_REPAIR, {"branch_id": branch_id})
    return int(result.rowcount or 0)
