"""Revision history of scene asset instances, diffs against their source, revert, and forward
propagation along the chain (docs/revisions.md).

The revisions themselves are written by the database (migration 0007's triggers) whatever
path changes an instance; this module reads them, and makes the two writes that are about
history: a revert and a propagation. Each read is one statement per batch of parents; each
write a constant number of statements, however long the chain.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.core import validation
from services.core.errors import BadUserInput, Conflict, not_found
from services.db.database import Database
from services.db.predicates import asset_order, owned
from services.db.rows import InstanceRow, Json, RevisionKind, RevisionRow, all_rows, first_row, one_row
from services.film.stages import invalidate_frames, outdating

KINDS: tuple[RevisionKind, ...] = (
    "bootstrapped", "inherited", "created", "forked", "updated", "resynced", "image_generated",
    "propagated", "reverted", "deleted",
)

# An instance's state, in the order changedFields names its parts.
STATE = (
    "description_override",
    "effective_description",
    "status_tags",
    "image_key_url",
    "image_is_own",
    "carry_forward",
    "base_version",
)

FIRST_MAX = 100


def page_size(first: int | None, default: int = 50) -> int:
    """`first` of a revisions list: 1-100 (null takes the default)."""
    if first is None:
        return default
    if not 1 <= first <= FIRST_MAX:
        raise BadUserInput(f"first must be between 1 and {FIRST_MAX}")
    return first


# -- reads --------------------------------------------------------------------------------

# Newest first; below `before` when given. One lateral scan per key over the unique
# (instance, number) index.
_OF_INSTANCES = text(
    f"""
    select k.key as _key, k.first as _first, k.before as _before, r.*
      from unnest(cast(:keys as uuid[]), cast(:firsts as int[]), cast(:befores as int[]))
               as k (key, first, before)
      cross join lateral (
          select r.* from instance_revisions r
           where r.scene_asset_instance_id = k.key
             and (k.before is null or r.number < k.before)
             and {owned("r")}
           order by r.number desc
           limit k.first) r
    """
)

# Every revision of the asset's instances (they are all of the asset's branch), deleted
# instances included: by time, newest first, then id descending.
_OF_ASSETS = text(
    f"""
    select k.key as _key, k.first as _first, r.*
      from unnest(cast(:keys as uuid[]), cast(:firsts as int[])) as k (key, first)
      cross join lateral (
          select r.* from instance_revisions r
           where r.project_asset_id = k.key and {owned("r")}
           order by r.created_at desc, r.id desc
           limit k.first) r
    """
)

InstanceKey = tuple[uuid.UUID, int, int | None]
AssetKey = tuple[uuid.UUID, int]


async def revisions_of_instances(
    conn: AsyncConnection, uid: str, keys: Sequence[InstanceKey]
) -> dict[InstanceKey, list[RevisionRow]]:
    """Keyed by (instance id, first, beforeNumber): the page of revisions, newest first."""
    grouped: dict[InstanceKey, list[RevisionRow]] = defaultdict(list)
    params = {
        "keys": [k[0] for k in keys],
        "firsts": [k[1] for k in keys],
        "befores": [k[2] for k in keys],
        "uid": uid,
    }
    for row in (await conn.execute(_OF_INSTANCES, params)).mappings():
        grouped[(row["_key"], row["_first"], row["_before"])].append(cast(RevisionRow, row))
    return grouped


async def revisions_of_assets(
    conn: AsyncConnection, uid: str, keys: Sequence[AssetKey]
) -> dict[AssetKey, list[RevisionRow]]:
    """Keyed by (project asset id, first): the page of revisions, newest first."""
    grouped: dict[AssetKey, list[RevisionRow]] = defaultdict(list)
    params = {"keys": [k[0] for k in keys], "firsts": [k[1] for k in keys], "uid": uid}
    for row in (await conn.execute(_OF_ASSETS, params)).mappings():
        grouped[(row["_key"], row["_first"])].append(cast(RevisionRow, row))
    return grouped


# The source is the inherited-from instance, else the project asset (its description and
# image, no tags, carry_forward true). Tags compare by lower(); images as lists show them
# (the instance's, else the asset's).
_DIFFS = text(
    f"""
    select d.*,
           cardinality(d.tags_added) = 0 and cardinality(d.tags_removed) = 0
               and not d.description_changed and not d.image_changed
               and not d.carry_forward_changed as unchanged
      from (
        select i.id as _key, src.id as source_id,
               array(select t from unnest(i.status_tags) with ordinality u (t, n)
                      where lower(t) <> all (select lower(x) from unnest(s.tags) x)
                      order by n) as tags_added,
               array(select t from unnest(s.tags) with ordinality u (t, n)
                      where lower(t) <> all (select lower(x) from unnest(i.status_tags) x)
                      order by n) as tags_removed,
               i.effective_description is distinct from s.effective_description
                   as description_changed,
               s.effective_description as previous_effective_description,
               coalesce(i.image_key_url, a.image_key_url) is distinct from s.shown_image
                   as image_changed,
               i.carry_forward is distinct from s.carry_forward as carry_forward_changed
          from scene_asset_instances i
          join project_assets a on a.id = i.project_asset_id
          left join scene_asset_instances src on src.id = i.inherited_from_instance_id
          left join project_assets sa on sa.id = src.project_asset_id
          cross join lateral (
              select case when src.id is null then '{{}}'::text[] else src.status_tags end as tags,
                     case when src.id is null then a.description
                          else src.effective_description end as effective_description,
                     case when src.id is null then a.image_key_url
                          else coalesce(src.image_key_url, sa.image_key_url) end as shown_image,
                     case when src.id is null then true else src.carry_forward end as carry_forward
          ) s
         where i.id = any(cast(:keys as uuid[])) and {owned("i")}) d
    """
)


async def diffs_from_source(conn: AsyncConnection, uid: str, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RowMapping]:
    rows = (await conn.execute(_DIFFS, {"keys": list(ids), "uid": uid})).mappings()
    return {row["_key"]: row for row in rows}


# -- revert -------------------------------------------------------------------------------

_REVERT_TARGET = text(
    f"""
    select i.*, s.assignments_initialized, r.after as target_state
      from scene_asset_instances i
      join scenes s on s.id = i.scene_id
      left join instance_revisions r
             on r.scene_asset_instance_id = i.id and r.number = :number and r.after is not null
     where i.id = :id and {owned("i")}
       for update of i
    """
)

_REVERT = text(
    """
    update scene_asset_instances
       set description_override = :description_override,
           effective_description = :effective_description,
           status_tags = cast(:status_tags as text[]),
           image_key_url = :image_key_url,
           image_is_own = :image_is_own,
           carry_forward = :carry_forward,
           modification_reason = :reason
     where id = :id
    returning *
    """
)



class _RevertTarget(InstanceRow):
    assignments_initialized: bool
    target_state: Json | None


def reverted_state(current: InstanceRow, target: Mapping[str, Any]) -> dict[str, Any]:
    """What a revert to `target` (a revision's after-state) makes of the instance now: its
    override, tags and carry_forward; its image when that image was the instance's own, else
    the current base image; the base stays, so the effective description is the override,
    else the current base description."""
    override = target["description_override"]
    own = bool(target["image_is_own"])
    return {
        "description_override": override,
        "effective_description": validation.effective_description(override, current["base_description"]),
        "status_tags": list(target["status_tags"]),
        "image_key_url": target["image_key_url"] if own else current["base_image_key_url"],
        "image_is_own": own,
        "carry_forward": bool(target["carry_forward"]),
        "base_version": current["base_version"],
    }


def same_state(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(
        (list(a[c]) == list(b[c])) if c == "status_tags" else a[c] == b[c] for c in STATE
    )


def visible_change(before: InstanceRow, after: InstanceRow) -> bool:
    """What a shot's frames and prompts read of an instance: effective description, image, tags."""
    return (
        before["effective_description"] != after["effective_description"]
        or before["image_key_url"] != after["image_key_url"]
        or list(before["status_tags"]) != list(after["status_tags"])
    )


async def revert_scene_asset_instance(
    db: Database,
    uid: str,
    instance_id: uuid.UUID,
    number: int,
    expected_modification_count: int | None = None,
    reason: str | None = None,
) -> InstanceRow:
    reason = validation.optional_long_text("reason", reason)
    async with db.transaction(uid, revision_kind="reverted") as conn:
        current = first_row(
            await conn.execute(_REVERT_TARGET, {"id": instance_id, "number": number, "uid": uid}), _RevertTarget
        )
        if current is None:
            raise not_found("scene asset instance", instance_id)
        if current["target_state"] is None:
            raise not_found(f"revision {number} of scene asset instance", instance_id)
        if (
            expected_modification_count is not None
            and current["modification_count"] != expected_modification_count
        ):
            raise Conflict(
                f"the instance has moved on: modificationCount is {current['modification_count']}, "
                f"not {expected_modification_count}"
            )
        new = reverted_state(current, current["target_state"])
        if same_state(new, current):
            return current
        row = one_row(await conn.execute(_REVERT, {**new, "id": instance_id, "reason": reason}), InstanceRow)
        if visible_change(current, row):
            await invalidate_frames(conn, [row["scene_id"]])
    return row


# -- propagation --------------------------------------------------------------------------

# The descendants a propagation may write, down to (not into) the first edited one of each
# line, and the instance itself: locked in id order, so concurrent propagations and edits of
# one chain wait for each other instead of deadlocking.
_DESCENDANTS = f"""
    with recursive line (id, path) as (
        select i.id, array[i.id] from scene_asset_instances i
         where i.id = :id and {owned("i")}
        union all
        select c.id, l.path || c.id
          from line l join scene_asset_instances c on c.inherited_from_instance_id = l.id
         where not c.edited and c.id <> all(l.path))
"""

_LOCK_LINE = text(
    _DESCENDANTS
    + """
    select i.id from scene_asset_instances i
     where i.id in (select id from line)
     order by i.id
       for update of i
    """
)

def inherited_state(parent: str, asset: str) -> str:
    """The inheritance rule as SQL: the state a child gets from the row `parent` (an instance's
    state columns) and its project asset `asset` now, as the columns description_override,
    effective_description, status_tags, image_key_url, image_is_own, carry_forward, base_version,
    base_description, base_image_key_url. carry_forward true copies the parent's base, override,
    image and own-flag, tags and effective description; false resets to the asset now; either
    way carry_forward becomes the parent's. Propagation writes it; the continuity report
    (services.continuity.report) compares instances with it."""
    p, a = parent, asset
    return f"""case when {p}.carry_forward then {p}.description_override end,
               case when {p}.carry_forward then {p}.effective_description else {a}.description end,
               case when {p}.carry_forward then {p}.status_tags else '{{}}'::text[] end,
               case when {p}.carry_forward then {p}.image_key_url else {a}.image_key_url end,
               {p}.carry_forward and {p}.image_is_own,
               {p}.carry_forward,
               case when {p}.carry_forward then {p}.base_version else {a}.version end,
               case when {p}.carry_forward then {p}.base_description else {a}.description end,
               case when {p}.carry_forward then {p}.base_image_key_url else {a}.image_key_url end"""


# The scenes of the rows _PROPAGATE writes where the change shows (description, image or tags).
_SHOWN_IN = "array(select p.scene_id from planned p where p.visible and p.differs and not p.stopped and not :dry_run)"

# Top down: each descendant's new state is what the inheritance rule gives from its parent's
# *new* state (carry_forward true copies the parent's base, override, image and own-flag,
# tags and effective description; false resets to the asset now; carry_forward becomes the
# parent's). An edited descendant is reached (listed as stopped) but not descended into.
# Then one update of those whose state differs, the locked stages 9-12 of the scenes where an
# update shows (description, image or tags) outdated in the same statement (the line's instances
# are locked already, so the lock order instances-then-scenes holds), and every visited row with
# its role.
_PROPAGATE = text(
    f"""
    with recursive root as (
        select i.* from scene_asset_instances i where i.id = :id and {owned("i")}
    ),
    walk (id, depth, stopped, description_override, effective_description, status_tags,
          image_key_url, image_is_own, carry_forward, base_version, base_description,
          base_image_key_url, path) as (
        select r.id, 0, false, r.description_override, r.effective_description, r.status_tags,
               r.image_key_url, r.image_is_own, r.carry_forward, r.base_version,
               r.base_description, r.base_image_key_url, array[r.id]
          from root r
        union all
        select c.id, w.depth + 1, c.edited,
               {inherited_state("w", "a")},
               w.path || c.id
          from walk w
          join scene_asset_instances c on c.inherited_from_instance_id = w.id
          join project_assets a on a.id = c.project_asset_id
         where not w.stopped and c.id <> all(w.path)
    ),
    planned as (
        select w.*, c.scene_id,
               (c.description_override is distinct from w.description_override
                or c.effective_description is distinct from w.effective_description
                or c.status_tags is distinct from w.status_tags
                or c.image_key_url is distinct from w.image_key_url
                or c.image_is_own is distinct from w.image_is_own
                or c.carry_forward is distinct from w.carry_forward
                or c.base_version is distinct from w.base_version) as differs,
               (c.effective_description is distinct from w.effective_description
                or c.image_key_url is distinct from w.image_key_url
                or c.status_tags is distinct from w.status_tags) as visible
          from walk w join scene_asset_instances c on c.id = w.id
         where w.depth > 0
    ),
    written as (
        update scene_asset_instances i
           set description_override = p.description_override,
               effective_description = p.effective_description,
               status_tags = p.status_tags,
               image_key_url = p.image_key_url,
               image_is_own = p.image_is_own,
               carry_forward = p.carry_forward,
               base_version = p.base_version,
               base_description = p.base_description,
               base_image_key_url = p.base_image_key_url,
               modification_reason = null
          from planned p
         where i.id = p.id and not p.stopped and p.differs and not :dry_run
        returning i.*
    ),
    outdated as ({outdating(_SHOWN_IN)}),
    answer as (
        select 'updated' as role, x.* from written x
        union all
        select case when p.stopped then 'stopped'
                    when p.differs then 'updated'
                    else 'unchanged' end,
               c.*
          from planned p join scene_asset_instances c on c.id = p.id
         where p.stopped or not p.differs or :dry_run
        union all
        select 'root', r.* from root r
    )
    select x.*
      from answer x
      join scenes s on s.id = x.scene_id
      join project_assets a on a.id = x.project_asset_id
     order by s.scene_number, {asset_order("a")}
    """
)



class Propagated(InstanceRow):
    """An instance of the propagated line: its row (as written, or as it stays) and its part."""

    role: Literal["root", "updated", "unchanged", "stopped"]


@dataclass(frozen=True)
class Propagation:
    dry_run: bool
    updated: list[Propagated]
    unchanged_count: int
    stopped_at: list[Propagated]


async def propagate_scene_asset_instance(
    db: Database, uid: str, instance_id: uuid.UUID, dry_run: bool = False
) -> Propagation:
    async def work() -> Propagation:
        async with db.transaction(uid, revision_kind="propagated") as conn:
            if not dry_run:
                await conn.execute(_LOCK_LINE, {"id": instance_id, "uid": uid})
            rows = all_rows(
                await conn.execute(_PROPAGATE, {"id": instance_id, "uid": uid, "dry_run": dry_run}), Propagated
            )
            if not any(r["role"] == "root" for r in rows):
                raise not_found("scene asset instance", instance_id)
            updated = [r for r in rows if r["role"] == "updated"]
            return Propagation(
                dry_run=dry_run,
                updated=updated,
                unchanged_count=sum(r["role"] == "unchanged" for r in rows),
                stopped_at=[r for r in rows if r["role"] == "stopped"],
            )

    return await db.retrying_work(work)
