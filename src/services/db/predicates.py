"""SQL every read and write shares, defined once: who owns a row, the order of assets and shots,
the walk up an instance's chain, and the types of the parameters the queries bind.

The loaders (`services.<domain>.reads`), the services and the query planner (`gql.planner.catalog`)
all build their SQL from these, so they cannot drift apart: the planner orders exactly as the
loaders because both say `asset_order(...)`. docs/casting.md and docs/instances.md describe
the orders; the row-level security policies
(`services.db.ddl`) use the same ownership predicate with the session's user.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeEngine

# The viewer, as the services bind it; row-level security reads it from the session instead.
VIEWER = ":uid"
SESSION_USER = "(select auth.uid())"

# A chain is a path up `inherited_from_instance_id` links, each to an earlier scene (docs/editing.md,
# chains follow the story); the walk stops at a link that is not, and at this depth, so a corrupt
# chain cannot run away.
MAX_CHAIN_DEPTH = 10_000


def owns_project(alias: str | None = None, user: str = VIEWER) -> str:
    """The project row `alias` belongs to `user`."""
    return f"{alias + '.' if alias else ''}user_id = {user}"


def owned(alias: str | None = None, user: str = VIEWER) -> str:
    """The ownership predicate: the row `alias` (a table with `project_id`) is in one of
    `user`'s projects. Services carry it on top of row-level security, whose policies are it."""
    column = f"{alias}.project_id" if alias else "project_id"
    return f"{column} in (select id from projects where {owns_project(None, user)})"


def asset_name_order(alias: str) -> str:
    """A branch's assets: by name ignoring case (PostgreSQL's collation), then id."""
    return f"lower({alias}.name), {alias}.id"


def asset_order(alias: str) -> str:
    """Asset order, for `alias` a project_assets row: CHARACTER, LOCATION, PROP (the stored
    lower-case types sort alphabetically in that order), then by name, then id."""
    return f"{alias}.asset_type, {asset_name_order(alias)}"


def shot_order(alias: str) -> str:
    """Shot order, for `alias` a shots row: shot_order, then shot_label."""
    return f"{alias}.shot_order, {alias}.shot_label"


def previous_shot(shot: str) -> str:
    """The id of the shot before `shot` in its scene's shot order (null for the first)."""
    return (
        f"(select prev_shot.id from shots prev_shot where prev_shot.scene_id = {shot}.scene_id"
        f" and (prev_shot.shot_order, prev_shot.shot_label) < ({shot}.shot_order, {shot}.shot_label)"
        " order by prev_shot.shot_order desc, prev_shot.shot_label desc limit 1)"
    )


def frame_jobs(shot: str, job: str, frame: str) -> str:
    """The image jobs `job` that give shot `shot` its `frame` ('start' or 'end'): cancelled ones
    left out; a continuing shot's start frame is the previous shot's end frame (docs/editing.md,
    handoff). The newest by `frame_job_order` is the one shown."""
    if frame == "end":
        return f"{job}.shot_id = {shot}.id and {job}.job_type = 'end_frame' and {job}.status <> 'cancelled'"
    return (
        f"{job}.shot_id = case when {shot}.continues_from_previous then {previous_shot(shot)} else {shot}.id end"
        f" and {job}.job_type = case when {shot}.continues_from_previous then 'end_frame' else 'start_frame' end"
        f" and {job}.status <> 'cancelled'"
    )


def frame_job_order(job: str) -> str:
    return f"{job}.created_at desc, {job}.id desc"


def chain_walk(seed: str, *, rows: bool = False, name: str = "walk") -> str:
    """The recursive CTE `name (start_id, id, parent_id, depth, scene_number[, r])` from the
    scene_asset_instances `r0` matching `seed` up their inheritance links: depth 0 is the start,
    the root has the greatest depth (root first is `order by depth desc` per `start_id`).

    The one walk every chain read uses, set-based: `seed` picks any number of starting rows in
    one statement (the loaders' batch of keys, or every instance of a list the planner reads:
    `r0.id in (select ...)`); a seed naming a row of the enclosing query (`r0.id = p.id`) makes
    it one correlated walk. With `rows`, each link carries its whole row as `r`, so a reader
    needs no second lookup per link.

    Every link of a chain goes to an earlier scene, so the walk follows a link only to a smaller
    scene number: that is what ends it on a cycle (which a corrupt chain could hold; chain repair
    never makes one), and it needs no path of visited ids. Carrying that path as an array, as the
    walk once did, made it twice as slow and spilled it to disk (docs/planner.md, chains).
    MAX_CHAIN_DEPTH bounds it too."""
    row, link = (", r0", ", x.r") if rows else ("", "")
    columns = "start_id, id, parent_id, depth, scene_number" + (", r" if rows else "")
    return f"""{name} ({columns}) as (
        select r0.id, r0.id, r0.inherited_from_instance_id, 0,
               (select s0.scene_number from scenes s0 where s0.id = r0.scene_id){row}
          from scene_asset_instances r0 where {seed}
        union all
        select w.start_id, x.id, x.inherited_from_instance_id, w.depth + 1, x.scene_number{link}
          from {name} w
          join (select xi.id, xi.inherited_from_instance_id, xs.scene_number{", xi as r" if rows else ""}
                  from scene_asset_instances xi join scenes xs on xs.id = xi.scene_id) x on x.id = w.parent_id
         where x.scene_number < w.scene_number and w.depth < {MAX_CHAIN_DEPTH})"""


# Parameter types by name: a statement binding one of these names gets it typed (asyncpg then
# sends `$1::UUID[]`), instead of a cast written into each statement.
PARAMETER_TYPES: dict[str, TypeEngine[Any]] = {
    "uid": UUID(as_uuid=False),
    "id": UUID(as_uuid=True),
    "keys": ARRAY(UUID(as_uuid=True)),
    "ids": ARRAY(UUID(as_uuid=True)),
}


def typed(sql: str) -> TextClause:
    """`text(sql)` with the parameters it binds typed by PARAMETER_TYPES."""
    clause = text(sql)
    names = [name for name in clause._bindparams if name in PARAMETER_TYPES]
    if not names:
        return clause
    return clause.bindparams(*(bindparam(name, type_=PARAMETER_TYPES[name]) for name in names))
