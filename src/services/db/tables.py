"""The table catalogue: every table, column, key and index the migrations create, declared once.

The migrations stay hand-written SQL (`alembic/versions/`); this is what code refers to
instead of repeating table and column names, and `tests/services/test_catalogue.py` fails as
soon as `alembic upgrade head` and this file disagree (Alembic's `compare_metadata`: tables,
columns, types, nullability, primary, unique and foreign keys, indexes).

What the comparison does not cover stays in the migrations only: check constraints, server
defaults (`gen_random_uuid()`, `clock_timestamp()` cannot be compared by value), triggers and
row-level security policies.

Adding a column: add it to its migration and to its table here, in the same position.
Constraint names follow PostgreSQL's own defaults (the migrations leave most unnamed), so the
naming convention reproduces them; indexes carry the names the migrations give them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP, UUID

metadata = MetaData(
    naming_convention={
        "pk": "%(table_name)s_pkey",
        "uq": "%(table_name)s_%(column_0_N_name)s_key",
        "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
        "ix": "%(table_name)s_%(column_0_N_name)s_idx",
    }
)


def _id() -> Column[object]:
    return Column("id", UUID(as_uuid=True), primary_key=True)


def _uuid(name: str, *, nullable: bool = False) -> Column[object]:
    return Column(name, UUID(as_uuid=True), nullable=nullable)


def _text(name: str, *, nullable: bool = False) -> Column[object]:
    return Column(name, Text, nullable=nullable)


def _int(name: str, *, nullable: bool = False) -> Column[object]:
    return Column(name, Integer, nullable=nullable)


def _bool(name: str) -> Column[object]:
    return Column(name, Boolean, nullable=False)


def _jsonb(name: str) -> Column[object]:
    return Column(name, JSONB, nullable=False)


def _timestamp(name: str, *, nullable: bool = False) -> Column[object]:
    return Column(name, TIMESTAMP(timezone=True), nullable=nullable)


def _timestamps() -> tuple[Column[object], Column[object]]:
    return _timestamp("created_at"), _timestamp("updated_at")


def _fk(columns: list[str], table: str, ondelete: str) -> ForeignKeyConstraint:
    """A foreign key onto `table`'s id, plus the scope columns named alike on both sides (the
    composite keys tie a child to its parent's project, branch or scene).

    `ondelete` is compared as PostgreSQL reflects it, so a column-list `SET NULL (column)`
    (clear the link, keep the scope column) is spelled out here as in the migration."""
    target = ["id", *columns[1:]]
    return ForeignKeyConstraint(columns, [f"{table}.{c}" for c in target], ondelete=ondelete)


# 0001 foundation ---------------------------------------------------------------------------

projects = Table(
    "projects",
    metadata,
    _id(),
    _uuid("user_id"),
    _text("title"),
    _uuid("active_branch_id", nullable=True),
    *_timestamps(),
    ForeignKeyConstraint(
        ["active_branch_id", "id"], ["branches.id", "branches.project_id"],
        name="projects_active_branch_fk", deferrable=True, initially="DEFERRED",
        # projects and branches refer to each other: this key is added after both tables.
        use_alter=True,
    ),
    Index("projects_user_created_idx", "user_id", text("created_at DESC"), text("id DESC")),
)

branches = Table(
    "branches",
    metadata,
    _id(),
    _uuid("project_id"),
    _text("name"),
    *_timestamps(),
    _uuid("forked_from_branch_id", nullable=True),  # 0006
    _fk(["project_id"], "projects", "CASCADE"),
    ForeignKeyConstraint(
        ["forked_from_branch_id", "project_id"], ["branches.id", "branches.project_id"],
        name="branches_forked_from_fk", ondelete="SET NULL (forked_from_branch_id)",
    ),
    UniqueConstraint("id", "project_id"),
    UniqueConstraint("project_id", "name"),
)
# 0006: a fork's name is unique in its project ignoring case.
Index("branches_project_lower_name_key", branches.c.project_id, func.lower(branches.c.name), unique=True)

scenes = Table(
    "scenes",
    metadata,
    _id(),
    _uuid("project_id"),
    _uuid("branch_id"),
    _int("scene_number"),
    _text("slug"),
    _text("script_excerpt"),
    _text("status"),
    _text("end_state_summary", nullable=True),
    _jsonb("stage_locks"),
    _bool("assignments_initialized"),
    *_timestamps(),
    _int("story_day", nullable=True),  # 0006
    _text("time_of_day", nullable=True),  # 0006
    _fk(["branch_id", "project_id"], "branches", "CASCADE"),
    # Deferrable since 0006: moveScene shifts a run of numbers in one statement.
    UniqueConstraint("branch_id", "scene_number", deferrable=True, initially="IMMEDIATE"),
    UniqueConstraint("id", "project_id"),
    UniqueConstraint("id", "branch_id"),
    Index("scenes_project_idx", "project_id"),
)

shots = Table(
    "shots",
    metadata,
    _id(),
    _uuid("project_id"),
    _uuid("scene_id"),
    _text("shot_label"),
    _int("shot_order"),
    _int("duration_seconds"),
    _text("setting", nullable=True),
    _text("action", nullable=True),
    _text("camera", nullable=True),
    _text("frame_prompt", nullable=True),
    _text("video_prompt", nullable=True),
    _jsonb("reference_image_order"),
    _jsonb("end_frame_reference_image_order"),
    *_timestamps(),
    _bool("continues_from_previous"),  # 0006
    # 0009: what generateShotPrompts wrote the prompts from (docs/continuity.md).
    Column("prompt_inputs", JSONB, nullable=True),
    _fk(["scene_id", "project_id"], "scenes", "CASCADE"),
    UniqueConstraint("scene_id", "shot_label"),
    UniqueConstraint("id", "project_id"),
    UniqueConstraint("id", "scene_id"),
    Index("shots_scene_order_idx", "scene_id", "shot_order", "shot_label"),
    Index("shots_project_idx", "project_id"),
)

project_assets = Table(
    "project_assets",
    metadata,
    _id(),
    _uuid("project_id"),
    _uuid("branch_id"),
    _text("name"),
    _text("asset_type"),
    _text("description"),
    _text("image_key_url", nullable=True),
    _text("visual_style_capsule_id", nullable=True),
    _bool("locked"),
    _int("version"),
    *_timestamps(),
    _fk(["branch_id", "project_id"], "branches", "CASCADE"),
    UniqueConstraint("id", "project_id"),
    UniqueConstraint("id", "branch_id"),
    Index("project_assets_project_idx", "project_id"),
)
# Names are unique per branch ignoring case: an expression index, declared after the table.
Index("project_assets_branch_name_key", project_assets.c.branch_id, func.lower(project_assets.c.name), unique=True)

stage_states = Table(
    "stage_states",
    metadata,
    _id(),
    _uuid("project_id"),
    _uuid("branch_id"),
    _int("stage_number"),
    _int("version"),
    _jsonb("content"),
    *_timestamps(),
    _fk(["branch_id", "project_id"], "branches", "CASCADE"),
    UniqueConstraint("branch_id", "stage_number", "version"),
    Index("stage_states_project_idx", "project_id"),
)

# 0002 scene asset instances ----------------------------------------------------------------

scene_asset_instances = Table(
    "scene_asset_instances",
    metadata,
    _id(),
    _uuid("project_id"),
    _uuid("branch_id"),
    _uuid("scene_id"),
    _uuid("project_asset_id"),
    _text("description_override", nullable=True),
    _text("image_key_url", nullable=True),
    Column("status_tags", ARRAY(Text), nullable=False),
    _bool("carry_forward"),
    _uuid("inherited_from_instance_id", nullable=True),
    _text("effective_description"),
    _int("base_version"),
    _text("base_description"),
    _text("base_image_key_url", nullable=True),
    _bool("image_is_own"),
    _int("modification_count"),
    _text("last_modified_field", nullable=True),
    _text("modification_reason", nullable=True),
    *_timestamps(),
    _timestamp("linked_at"),  # 0006: when inherited_from_instance_id was last set
    _bool("edited"),  # 0007
    _fk(["scene_id", "branch_id"], "scenes", "CASCADE"),
    _fk(["scene_id", "project_id"], "scenes", "CASCADE"),
    _fk(["project_asset_id", "branch_id"], "project_assets", "CASCADE"),
    _fk(["inherited_from_instance_id", "project_id"], "scene_asset_instances", "SET NULL (inherited_from_instance_id)"),
    UniqueConstraint("scene_id", "project_asset_id"),
    UniqueConstraint("id", "project_id"),
    UniqueConstraint("id", "scene_id"),
    Index("scene_instances_asset_idx", "project_asset_id"),
    Index("scene_instances_inherited_idx", "inherited_from_instance_id"),
    Index("scene_instances_project_idx", "project_id"),
)

# 0003 shot asset assignments ---------------------------------------------------------------

shot_asset_assignments = Table(
    "shot_asset_assignments",
    metadata,
    _id(),
    _uuid("project_id"),
    _uuid("scene_id"),
    _uuid("shot_id"),
    _uuid("scene_asset_instance_id"),
    _text("presence_type"),
    *_timestamps(),
    _fk(["scene_id", "project_id"], "scenes", "CASCADE"),
    _fk(["shot_id", "scene_id"], "shots", "CASCADE"),
    _fk(["scene_asset_instance_id", "scene_id"], "scene_asset_instances", "CASCADE"),
    UniqueConstraint("shot_id", "scene_asset_instance_id"),
    Index("shot_assignments_instance_idx", "scene_asset_instance_id"),
    Index("shot_assignments_scene_idx", "scene_id"),
    Index("shot_assignments_project_idx", "project_id"),
)

transformation_events = Table(
    "transformation_events",
    metadata,
    _id(),
    _uuid("project_id"),
    _uuid("scene_id"),
    _uuid("shot_id"),
    _uuid("scene_asset_instance_id"),
    _text("post_description"),
    _text("post_image_key_url", nullable=True),
    *_timestamps(),
    _fk(["scene_id", "project_id"], "scenes", "CASCADE"),
    _fk(["shot_id", "scene_id"], "shots", "CASCADE"),
    _fk(["scene_asset_instance_id", "scene_id"], "scene_asset_instances", "CASCADE"),
    UniqueConstraint("shot_id", "scene_asset_instance_id"),
    Index("transformation_events_instance_idx", "scene_asset_instance_id"),
    Index("transformation_events_scene_idx", "scene_id"),
    Index("transformation_events_project_idx", "project_id"),
)

# 0004 image generation jobs (0005 changed only a trigger function) -------------------------

image_generation_jobs = Table(
    "image_generation_jobs",
    metadata,
    _id(),
    _uuid("project_id"),
    _uuid("branch_id"),
    _text("job_type"),
    _text("status"),
    _text("prompt"),
    _int("width"),
    _int("height"),
    _text("visual_style_capsule_id", nullable=True),
    _uuid("scene_id", nullable=True),
    _uuid("shot_id", nullable=True),
    _uuid("project_asset_id", nullable=True),
    _uuid("scene_asset_instance_id", nullable=True),
    _jsonb("reference_images"),
    _text("storage_path", nullable=True),
    _text("image_url", nullable=True),
    _text("error", nullable=True),
    _text("idempotency_key"),
    _int("attempts"),
    _int("max_attempts"),
    _text("lease_owner", nullable=True),
    _timestamp("lease_expires_at", nullable=True),
    *_timestamps(),
    _timestamp("started_at", nullable=True),
    _timestamp("completed_at", nullable=True),
    # 0008 operations: when a failed attempt is retried; when a cancel was asked for.
    _timestamp("next_attempt_at", nullable=True),
    _timestamp("cancel_requested_at", nullable=True),
    _fk(["project_id"], "projects", "CASCADE"),
    _fk(["branch_id", "project_id"], "branches", "CASCADE"),
    # A job outlives what it was made for: its links are cleared, the job stays.
    _fk(["scene_id", "project_id"], "scenes", "SET NULL (scene_id)"),
    _fk(["shot_id", "project_id"], "shots", "SET NULL (shot_id)"),
    _fk(["project_asset_id", "project_id"], "project_assets", "SET NULL (project_asset_id)"),
    _fk(["scene_asset_instance_id", "project_id"], "scene_asset_instances", "SET NULL (scene_asset_instance_id)"),
    UniqueConstraint("project_id", "idempotency_key"),
    Index(
        "image_jobs_claim_idx", "created_at",
        postgresql_where=text("status = ANY (ARRAY['queued'::text, 'processing'::text])"),
    ),
    Index("image_jobs_instance_idx", "scene_asset_instance_id"),
    # 0009: the report's and readiness's reads (docs/continuity.md).
    Index(
        "image_jobs_scene_asset_image_idx", "project_id", "image_url",
        postgresql_where=text("job_type = 'scene_asset'::text AND status = 'completed'::text"),
    ),
    Index(
        "image_jobs_shot_frames_idx", "shot_id", "job_type", "completed_at",
        postgresql_where=text("shot_id IS NOT NULL AND status = 'completed'::text"),
    ),
)


# 0007 revisions ----------------------------------------------------------------------------

# Written by the database's triggers only (docs/revisions.md); no foreign key to the instance,
# its scene or its asset: revisions outlive them.
instance_revisions = Table(
    "instance_revisions",
    metadata,
    _id(),
    _uuid("project_id"),
    _uuid("branch_id"),
    _uuid("scene_asset_instance_id"),
    _uuid("scene_id"),
    _uuid("project_asset_id"),
    _int("number"),
    _text("kind"),
    Column("changed_fields", ARRAY(Text), nullable=False),
    Column("before", JSONB, nullable=True),
    Column("after", JSONB, nullable=True),
    _text("reason", nullable=True),
    _uuid("actor_user_id", nullable=True),
    _timestamp("created_at"),
    _fk(["project_id"], "projects", "CASCADE"),
    _fk(["branch_id", "project_id"], "branches", "CASCADE"),
    UniqueConstraint("scene_asset_instance_id", "number"),
    Index("instance_revisions_project_idx", "project_id"),
)
Index(
    "instance_revisions_asset_idx",
    instance_revisions.c.project_asset_id,
    instance_revisions.c.created_at.desc(),
    instance_revisions.c.id.desc(),
)


# 0008 operations ---------------------------------------------------------------------------

# One row per insert and status change of a job, at position (xid, seq) (docs/operations.md).
image_job_events = Table(
    "image_job_events",
    metadata,
    Column("xid", BigInteger, primary_key=True),
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    _uuid("project_id"),
    _uuid("job_id"),
    _text("status"),
    _timestamp("at"),
    _jsonb("state"),
    ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
    Index("image_job_events_job_idx", "job_id", "xid", "seq"),
    Index("image_job_events_project_idx", "project_id", "xid", "seq"),
    Index("image_job_events_at_idx", "at"),
)

# The position of the newest event retention removed (one row).
image_job_event_horizon = Table(
    "image_job_event_horizon",
    metadata,
    Column("singleton", Boolean, primary_key=True, server_default=text("true")),
    Column("xid", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
)
