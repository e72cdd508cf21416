"""The shape of the rows services return: one type per table of the catalogue (`tables.py`),
and a `Literal` per closed set of values the migrations' check constraints allow.

Services read rows with SQLAlchemy's `.mappings()` and hand them on as they are (no copy:
the loaders and the planner read thousands per request); these types say statically what
those mappings hold. `one_row`, `first_row` and `all_rows` are the one place that says so, so
a column added to a table is added here too, beside the catalogue entry.

A `TypedDict` rather than a dataclass: a `RowMapping` already is the row, and building an
object per row would cost the read paths time for nothing the type checker needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, TypedDict, TypeVar, cast

from sqlalchemy.engine import Result

# Closed sets (the migrations' check constraints) ---------------------------------------------

AssetType = Literal["character", "location", "prop"]
TimeOfDay = Literal["day", "night", "dawn", "dusk"]
StageStatus = Literal["draft", "locked", "outdated"]
PresenceType = Literal["throughout", "enters", "exits", "passes_through"]
JobType = Literal["master_asset", "scene_asset", "start_frame", "end_frame", "inpaint"]
JobStatus = Literal["queued", "processing", "completed", "failed", "cancelled"]
RevisionKind = Literal[
    "bootstrapped", "inherited", "created", "forked", "updated", "resynced", "image_generated",
    "propagated", "reverted", "deleted",
]
# Where an inheritance took its instances from (docs/instances.md).
InheritanceSource = Literal["bootstrap", "prior_scene"]

# A jsonb column's value as asyncpg decodes it.
Json = Any


# Rows ----------------------------------------------------------------------------------------


class ProjectRow(TypedDict):
    id: uuid.UUID
    user_id: uuid.UUID
    title: str
    # Nullable only so a project can be inserted before its branch (a deferred key): every
    # committed project has one.
    active_branch_id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class BranchRow(TypedDict):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    created_at: datetime
    updated_at: datetime
    forked_from_branch_id: uuid.UUID | None


class SceneRow(TypedDict):
    id: uuid.UUID
    project_id: uuid.UUID
    branch_id: uuid.UUID
    scene_number: int
    slug: str
    script_excerpt: str
    status: str
    end_state_summary: str | None
    stage_locks: dict[str, str]
    assignments_initialized: bool
    created_at: datetime
    updated_at: datetime
    story_day: int | None
    time_of_day: TimeOfDay | None


class ShotRow(TypedDict):
    id: uuid.UUID
    project_id: uuid.UUID
    scene_id: uuid.UUID
    shot_label: str
    shot_order: int
    duration_seconds: int
    setting: str | None
    action: str | None
    camera: str | None
    frame_prompt: str | None
    video_prompt: str | None
    reference_image_order: Json
    end_frame_reference_image_order: Json
    created_at: datetime
    updated_at: datetime
    continues_from_previous: bool
    prompt_inputs: Json | None


class AssetRow(TypedDict):
    id: uuid.UUID
    project_id: uuid.UUID
    branch_id: uuid.UUID
    name: str
    asset_type: AssetType
    description: str
    image_key_url: str | None
    visual_style_capsule_id: str | None
    locked: bool
    version: int
    created_at: datetime
    updated_at: datetime


class StageStateRow(TypedDict):
    id: uuid.UUID
    project_id: uuid.UUID
    branch_id: uuid.UUID
    stage_number: int
    version: int
    content: Json
    created_at: datetime
    updated_at: datetime


class InstanceRow(TypedDict):
    id: uuid.UUID
    project_id: uuid.UUID
    branch_id: uuid.UUID
    scene_id: uuid.UUID
    project_asset_id: uuid.UUID
    description_override: str | None
    image_key_url: str | None
    status_tags: list[str]
    carry_forward: bool
    inherited_from_instance_id: uuid.UUID | None
    effective_description: str
    base_version: int
    base_description: str
    base_image_key_url: str | None
    image_is_own: bool
    modification_count: int
    last_modified_field: str | None
    modification_reason: str | None
    created_at: datetime
    updated_at: datetime
    linked_at: datetime
    edited: bool


class AssignmentRow(TypedDict):
    id: uuid.UUID
    project_id: uuid.UUID
    scene_id: uuid.UUID
    shot_id: uuid.UUID
    scene_asset_instance_id: uuid.UUID
    presence_type: PresenceType
    created_at: datetime
    updated_at: datetime


class TransformationEventRow(TypedDict):
    id: uuid.UUID
    project_id: uuid.UUID
    scene_id: uuid.UUID
    shot_id: uuid.UUID
    scene_asset_instance_id: uuid.UUID
    post_description: str
    post_image_key_url: str | None
    created_at: datetime
    updated_at: datetime


class JobRow(TypedDict):
    id: uuid.UUID
    project_id: uuid.UUID
    branch_id: uuid.UUID
    job_type: JobType
    status: JobStatus
    prompt: str
    width: int
    height: int
    visual_style_capsule_id: str | None
    scene_id: uuid.UUID | None
    shot_id: uuid.UUID | None
    project_asset_id: uuid.UUID | None
    scene_asset_instance_id: uuid.UUID | None
    reference_images: Json
    storage_path: str | None
    image_url: str | None
    error: str | None
    idempotency_key: str
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    next_attempt_at: datetime | None
    cancel_requested_at: datetime | None


class RevisionRow(TypedDict):
    id: uuid.UUID
    project_id: uuid.UUID
    branch_id: uuid.UUID
    scene_asset_instance_id: uuid.UUID
    scene_id: uuid.UUID
    project_asset_id: uuid.UUID
    number: int
    kind: RevisionKind
    changed_fields: list[str]
    before: Json | None
    after: Json | None
    reason: str | None
    actor_user_id: uuid.UUID | None
    created_at: datetime


# Reading them --------------------------------------------------------------------------------

R = TypeVar("R")


def one_row(result: Result[Any], row_type: type[R]) -> R:
    """The statement's only row, as `row_type` (an error when there is none or more)."""
    return cast(R, result.mappings().one())


def first_row(result: Result[Any], row_type: type[R]) -> R | None:
    return cast("R | None", result.mappings().first())


def all_rows(result: Result[Any], row_type: type[R]) -> list[R]:
    return cast(list[R], list(result.mappings()))


def as_rows(rows: Sequence[Any], row_type: type[R]) -> list[R]:
    """Rows already read (a group of a batch read), as `row_type`."""
    return cast(list[R], list(rows))
