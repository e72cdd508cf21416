"""Image generation jobs: a durable queue in PostgreSQL.

A job goes QUEUED -> PROCESSING -> COMPLETED or FAILED, or CANCELLED. A worker claims the
oldest queued job that is due with `FOR UPDATE SKIP LOCKED` (so workers never take the same
job) under a lease it keeps extending while it works; a failed attempt, or one whose lease ran
out (its worker died), sends the job back to the queue with a backoff (`next_attempt_at`), that
attempt counted; the third makes it FAILED. A cancel requested while the job is PROCESSING
takes effect when its attempt ends, whatever the outcome. Every transition is its own committed
transaction, and the database stores every status change as an event (services.images.events).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import AsyncGenerator, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text

from services.core import validation
from services.core.errors import Conflict, VisualStyleRequired, not_found
from services.db.database import Database
from services.db.predicates import owned, owns_project
from services.film.assets import locked_visual_style
from services.film.stages import invalidate_frames
from services.images.events import Gap, JobEvent, JobEvents, rewind

SCENE_ASSET_SIZES: dict[str, tuple[int, int]] = {
    "character": (512, 768),
    "location": (1024, 576),
    "prop": (512, 512),
}
TERMINAL = ("completed", "failed", "cancelled")
# A failed attempt waits at most this long before the next (docs/operations.md, Retries).
MAX_BACKOFF_SECONDS = 300
ERROR_MAX = 2000


def scene_asset_prompt(effective_description: str, status_tags: Sequence[str]) -> str:
    """The effective description, then the status tags on a line of their own."""
    if not status_tags:
        return effective_description
    return f"{effective_description}\nStatus: {', '.join(status_tags)}"


def scene_asset_storage_path(
    project_id: uuid.UUID, branch_id: uuid.UUID, scene_id: uuid.UUID, asset_id: uuid.UUID,
    timestamp_ms: int, random: str,
) -> str:
    scene = f"project_{project_id}/branch_{branch_id}/scene_{scene_id}"
    return f"{scene}/scene-assets/{asset_id}_{timestamp_ms}_{random}.png"


def default_storage_path(job: Any) -> str:
    """For jobs made without a path (made elsewhere, e.g. by hand): one file per job."""
    return f"project_{job['project_id']}/branch_{job['branch_id']}/jobs/{job['job_type']}_{job['id']}.png"


def error_text(error: BaseException) -> str:
    message = str(error).strip() or type(error).__name__
    return message[:ERROR_MAX]


# ---------------------------------------------------------------------------------------
# Making jobs (as the viewer)

_INSTANCE = text(
    f"""
    select i.id, i.project_id, i.branch_id, i.scene_id, i.project_asset_id, i.effective_description,
           i.status_tags, a.asset_type
      from scene_asset_instances i
      join project_assets a on a.id = i.project_asset_id
     where i.id = :id and {owned("i")}
    """
)

# A concurrent call with the same key waits for the first to commit, then inserts nothing.
_INSERT_JOB = text(
    """
    insert into image_generation_jobs (
        project_id, branch_id, job_type, prompt, width, height, visual_style_capsule_id, scene_id,
        project_asset_id, scene_asset_instance_id, storage_path, idempotency_key)
    values (:project_id, :branch_id, 'scene_asset', :prompt, :width, :height, :capsule, :scene_id,
            :asset_id, :instance_id, :storage_path, :key)
    on conflict (project_id, idempotency_key) do nothing
    returning *
    """
)

# A new statement, so a new snapshot: sees the job a concurrent winner committed.
_BY_KEY = text(
    "select * from image_generation_jobs where project_id = :project_id and idempotency_key = :key"
)


async def create_scene_asset_job(
    db: Database, uid: str, instance_id: uuid.UUID, idempotency_key: str | None = None
) -> Any:
    """Queues a SCENE_ASSET job for the instance, or returns the job its key already made."""
    key = str(uuid.uuid4()) if idempotency_key is None else validation.short_text("idempotencyKey", idempotency_key)
    async with db.transaction(uid) as conn:
        instance = (await conn.execute(_INSTANCE, {"id": instance_id, "uid": uid})).mappings().first()
        if instance is None:
            raise not_found("scene asset instance", instance_id)
        capsule = await locked_visual_style(conn, instance["branch_id"])
        if not capsule:
            raise VisualStyleRequired("lock a visual style (stage 5) before generating images")
        width, height = SCENE_ASSET_SIZES[instance["asset_type"]]
        params = {
            "project_id": instance["project_id"],
            "branch_id": instance["branch_id"],
            "prompt": scene_asset_prompt(instance["effective_description"], instance["status_tags"]),
            "width": width,
            "height": height,
            "capsule": capsule,
            "scene_id": instance["scene_id"],
            "asset_id": instance["project_asset_id"],
            "instance_id": instance_id,
            "storage_path": scene_asset_storage_path(
                instance["project_id"], instance["branch_id"], instance["scene_id"],
                instance["project_asset_id"], time.time_ns() // 1_000_000, secrets.token_hex(4),
            ),
            "key": key,
        }
        job = (await conn.execute(_INSERT_JOB, params)).mappings().first()
        if job is not None:
            return job
        existing = (
            await conn.execute(_BY_KEY, {"project_id": instance["project_id"], "key": key})
        ).mappings().one()
    if existing["job_type"] != "scene_asset" or existing["scene_asset_instance_id"] != instance_id:
        raise Conflict(f"idempotencyKey {key!r} was used for another job of this project")
    return existing


# ---------------------------------------------------------------------------------------
# Reading jobs (as the viewer)

_JOB = text(f"select t.* from image_generation_jobs t where t.id = :id and {owned('t')}")
_JOBS = text(f"select t.* from image_generation_jobs t where t.id = any(cast(:ids as uuid[])) and {owned('t')}")
_PROJECT = text(f"select exists (select 1 from projects where id = :id and {owns_project()})")
_CHANGED_SINCE = text(
    f"""
    select t.* from image_generation_jobs t
     where t.project_id = :project_id and t.updated_at >= :since and {owned('t')}
     order by t.updated_at, t.id
     limit 1000
    """
)


async def viewer_job(db: Database, uid: str, job_id: uuid.UUID) -> Any:
    async with db.transaction(uid) as conn:
        return (await conn.execute(_JOB, {"id": job_id, "uid": uid})).mappings().first()


async def viewer_jobs(db: Database, uid: str, job_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ids = list(dict.fromkeys(job_ids))
    if not ids:
        return {}
    async with db.transaction(uid) as conn:
        rows = (await conn.execute(_JOBS, {"ids": ids, "uid": uid})).mappings().all()
    return {row["id"]: row for row in rows}


async def viewer_owns_project(db: Database, uid: str, project_id: uuid.UUID) -> bool:
    async with db.transaction(uid) as conn:
        return bool((await conn.execute(_PROJECT, {"id": project_id, "uid": uid})).scalar())


async def viewer_jobs_changed_since(db: Database, uid: str, project_id: uuid.UUID, since: datetime) -> list[Any]:
    async with db.transaction(uid) as conn:
        params = {"project_id": project_id, "since": since, "uid": uid}
        return list((await conn.execute(_CHANGED_SINCE, params)).mappings().all())


# ---------------------------------------------------------------------------------------
# Watching jobs: every status change, in order, as the job's row at that change


def _is_news(candidate: Any, last: Any | None, announced: bool) -> bool:
    """An announcement is news when it is newer than what was last sent; a re-read row (after
    a gap) only when it also differs in status or attempt, so re-reads repeat nothing."""
    if last is None:
        return True
    if candidate["updated_at"] <= last["updated_at"]:
        return False
    return announced or (candidate["status"], candidate["attempts"]) != (last["status"], last["attempts"])


async def watch_job(db: Database, uid: str, events: JobEvents, job_id: uuid.UUID) -> AsyncGenerator[Any, None]:
    """The job's current state first, then each change; ends after a terminal state."""
    with events.subscribe(lambda e: e.job_id == job_id) as feed:
        # Subscribed first, then read: a change committed in between is in the feed.
        last = await viewer_job(db, uid, job_id)
        if last is None:
            raise not_found("image job", job_id)
        yield last
        while last["status"] not in TERMINAL:
            item = await feed.get()
            if isinstance(item, JobEvent):
                candidate, announced = item.state, True
            else:
                candidate, announced = await viewer_job(db, uid, job_id), False
                if candidate is None:  # gone with its project
                    return
            if _is_news(candidate, last, announced):
                last = candidate
                yield last


async def watch_project(db: Database, uid: str, events: JobEvents, project_id: uuid.UUID) -> AsyncGenerator[Any, None]:
    """Every change of every job of the project from now on (no initial states)."""
    with events.subscribe(lambda e: e.project_id == project_id) as feed:
        if not await viewer_owns_project(db, uid, project_id):
            raise not_found("project", project_id)
        last: dict[uuid.UUID, Any] = {}
        while True:
            items = [await feed.get(), *feed.drain()]
            for item in items:
                if isinstance(item, Gap):
                    rows = await viewer_jobs_changed_since(db, uid, project_id, rewind(item.since, feed.opened_at))
                    batch = [(r, False) for r in rows]
                else:
                    batch = [(item.state, True)]
                for row, announced in batch:
                    if _is_news(row, last.get(row["id"]), announced):
                        last[row["id"]] = row
                        yield row
            if len(last) > 10_000:  # a long-lived subscription on a busy project
                last.clear()


# ---------------------------------------------------------------------------------------
# Cancelling (as the viewer)

# QUEUED ends now; PROCESSING is marked, and ends CANCELLED when its attempt ends. A job
# already being cancelled is left as it is (no write, so it comes back unchanged).
_CANCEL = text(
    f"""
    update image_generation_jobs j
       set status = case when j.status = 'queued' then 'cancelled' else j.status end,
           completed_at = case when j.status = 'queued' then clock_timestamp() end,
           storage_path = case when j.status = 'queued' then null else j.storage_path end,
           next_attempt_at = null,
           cancel_requested_at = clock_timestamp()
     where j.id = :id and {owned("j")}
       and (j.status = 'queued' or (j.status = 'processing' and j.cancel_requested_at is null))
    returning j.*
    """
)


async def cancel_job(db: Database, uid: str, job_id: uuid.UUID) -> Any:
    async with db.transaction(uid) as conn:
        row = (await conn.execute(_CANCEL, {"id": job_id, "uid": uid})).mappings().first()
        if row is not None:
            return row
        current = (await conn.execute(_JOB, {"id": job_id, "uid": uid})).mappings().first()
    if current is None:
        raise not_found("image job", job_id)
    if current["status"] == "processing" and current["cancel_requested_at"] is not None:
        return current
    status = str(current["status"]).upper()
    raise Conflict(f"image job {job_id} is {status}: only QUEUED or PROCESSING jobs can be cancelled")


# ---------------------------------------------------------------------------------------
# The worker's side (as the system: no role switch)


def backoff_sql(attempts: str) -> str:
    """When the next attempt is due after attempt number `attempts` failed: base x 2^(n-1)
    x (1 + U), U uniform in [0, 0.2], at most MAX_BACKOFF_SECONDS (docs/operations.md, Retries)."""
    return (
        "clock_timestamp() + make_interval(secs => least("
        f"{MAX_BACKOFF_SECONDS}, :base * power(2, greatest({attempts}, 1) - 1) * (1 + random() * 0.2)))"
    )


# What an attempt's end makes of a job: CANCELLED when a cancel was asked for, FAILED after the
# last attempt, else QUEUED again with a backoff. `{error}` is the attempt's error text.
def _attempt_ended(error: str) -> str:
    return f"""
       status = case when j.cancel_requested_at is not null then 'cancelled'
                     when j.attempts >= j.max_attempts then 'failed' else 'queued' end,
       error = case when j.cancel_requested_at is not null then j.error else {error} end,
       completed_at = case when j.cancel_requested_at is not null or j.attempts >= j.max_attempts
                           then clock_timestamp() end,
       next_attempt_at = case when j.cancel_requested_at is null and j.attempts < j.max_attempts
                              then {backoff_sql("j.attempts")} end,
       storage_path = case when j.cancel_requested_at is not null then null else j.storage_path end,
       lease_owner = null,
       lease_expires_at = null
    """


_REAP = text(
    f"""
    with expired as (
        select j.id from image_generation_jobs j
         where j.status = 'processing' and j.lease_expires_at < clock_timestamp()
         order by j.created_at
         for update skip locked
         limit 100)
    update image_generation_jobs j
       set {_attempt_ended(
           "'attempt ' || j.attempts || ' of ' || j.max_attempts"
           " || ': the worker stopped before finishing (its lease expired)'")}
      from expired
     where j.id = expired.id
    returning j.id, j.status
    """
)

_CLAIM = text(
    """
    with next as (
        select j.id from image_generation_jobs j
         where j.status = 'queued' and (j.next_attempt_at is null or j.next_attempt_at <= clock_timestamp())
         order by j.created_at, j.id
         for update skip locked
         limit 1)
    update image_generation_jobs j
       set status = 'processing',
           attempts = j.attempts + 1,
           next_attempt_at = null,
           lease_owner = :owner,
           lease_expires_at = clock_timestamp() + make_interval(secs => :lease),
           started_at = clock_timestamp()
      from next
     where j.id = next.id
    returning j.*, (select a.name from project_assets a where a.id = j.project_asset_id) as asset_name
    """
)

# Seconds until the earliest queued job is due (None: none queued; 0 or less: due now).
_NEXT_DUE = text(
    """
    select extract(epoch from min(coalesce(j.next_attempt_at, j.created_at)) - clock_timestamp())::float8
      from image_generation_jobs j
     where j.status = 'queued'
    """
)

_HOLDS = "j.id = :id and j.lease_owner = :owner and j.status = 'processing'"

_EXTEND = text(
    f"""
    update image_generation_jobs j
       set lease_expires_at = clock_timestamp() + make_interval(secs => :lease)
     where {_HOLDS}
    returning j.id, j.cancel_requested_at is not null as cancelling
    """
)

_CANCELLING = text(f"select j.cancel_requested_at is not null from image_generation_jobs j where {_HOLDS}")

# The instance follows in the same transaction: its image becomes exactly the job's URL,
# its own (a later resync keeps it); the modification trigger records image_key_url. A job
# being cancelled ends CANCELLED instead, with no image and nothing else changed.
_COMPLETE = text(
    f"""
    with done as (
        update image_generation_jobs j
           set status = case when j.cancel_requested_at is null then 'completed' else 'cancelled' end,
               storage_path = case when j.cancel_requested_at is null then :path end,
               image_url = case when j.cancel_requested_at is null then :url end,
               error = case when j.cancel_requested_at is null then null else j.error end,
               completed_at = clock_timestamp(), lease_owner = null, lease_expires_at = null
         where {_HOLDS}
        returning j.*),
    instance as (
        update scene_asset_instances i
           set image_key_url = done.image_url, image_is_own = true, modification_reason = null
          from done
         where done.status = 'completed' and done.job_type = 'scene_asset' and i.id = done.scene_asset_instance_id
        returning i.scene_id, i.image_key_url)
    select done.*, (select array_agg(scene_id) from instance) as changed_scenes from done
    """
)

_FAIL = text(
    f"""
    update image_generation_jobs j
       set {_attempt_ended(":error")}
     where {_HOLDS}
    returning j.*
    """
)

# A worker stopping on request gives its job back; the attempt did not happen (a job being
# cancelled ends CANCELLED: its attempt ended).
_RELEASE = text(
    f"""
    update image_generation_jobs j
       set status = case when j.cancel_requested_at is null then 'queued' else 'cancelled' end,
           attempts = greatest(j.attempts - 1, 0),
           completed_at = case when j.cancel_requested_at is null then null else clock_timestamp() end,
           storage_path = case when j.cancel_requested_at is null then j.storage_path end,
           next_attempt_at = null,
           lease_owner = null, lease_expires_at = null
     where {_HOLDS}
    returning j.id
    """
)


async def reap_expired_leases(db: Database, retry_base_seconds: float) -> list[Any]:
    """Jobs whose worker died: back to the queue, or FAILED after their last attempt."""
    async with db.transaction(None) as conn:
        return list((await conn.execute(_REAP, {"base": retry_base_seconds})).mappings().all())


async def claim_job(db: Database, owner: str, lease_seconds: float) -> Any:
    async with db.transaction(None) as conn:
        return (await conn.execute(_CLAIM, {"owner": owner, "lease": lease_seconds})).mappings().first()


async def seconds_until_due(db: Database) -> float | None:
    async with db.transaction(None) as conn:
        value = (await conn.execute(_NEXT_DUE)).scalar()
    return None if value is None else float(value)


async def extend_lease(db: Database, job_id: uuid.UUID, owner: str, lease_seconds: float) -> bool | None:
    """None when the worker holds the job no longer; else whether a cancel was asked for."""
    async with db.transaction(None) as conn:
        params = {"id": job_id, "owner": owner, "lease": lease_seconds}
        row = (await conn.execute(_EXTEND, params)).mappings().first()
    return None if row is None else bool(row["cancelling"])


async def cancelling(db: Database, job_id: uuid.UUID, owner: str) -> bool:
    """Whether a cancel was asked for the job this worker holds (or it holds it no longer)."""
    async with db.transaction(None) as conn:
        value = (await conn.execute(_CANCELLING, {"id": job_id, "owner": owner})).scalar()
    return value is not False


async def complete_job(db: Database, job_id: uuid.UUID, owner: str, storage_path: str, image_url: str) -> Any:
    """None when the worker no longer holds the job (its lease ran out and another took it)."""
    async with db.transaction(None, revision_kind="image_generated") as conn:
        params = {"id": job_id, "owner": owner, "path": storage_path, "url": image_url}
        done = (await conn.execute(_COMPLETE, params)).mappings().first()
        if done is not None and done["changed_scenes"]:
            await invalidate_frames(conn, done["changed_scenes"])
    return done


async def fail_attempt(db: Database, job_id: uuid.UUID, owner: str, error: str, retry_base_seconds: float) -> Any:
    async with db.transaction(None) as conn:
        params = {"id": job_id, "owner": owner, "error": error[:ERROR_MAX], "base": retry_base_seconds}
        return (await conn.execute(_FAIL, params)).mappings().first()


async def release_job(db: Database, job_id: uuid.UUID, owner: str) -> bool:
    async with db.transaction(None) as conn:
        return (await conn.execute(_RELEASE, {"id": job_id, "owner": owner})).first() is not None
