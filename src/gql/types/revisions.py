"""Revision history of an instance (docs/revisions.md): revisions, states, diffs, propagation."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from aiodataloader import DataLoader

from gql.context import Info
from services.revisions import history

if TYPE_CHECKING:
    from gql.types.instances import SceneAssetInstance

InstanceT = Annotated["SceneAssetInstance", strawberry.lazy("gql.types.instances")]


@strawberry.enum(description="What made a revision.")
class RevisionKind(Enum):
    BOOTSTRAPPED = "bootstrapped"
    INHERITED = "inherited"
    CREATED = "created"
    FORKED = "forked"
    UPDATED = "updated"
    RESYNCED = "resynced"
    IMAGE_GENERATED = "image_generated"
    PROPAGATED = "propagated"
    REVERTED = "reverted"
    DELETED = "deleted"


@strawberry.type(description="An instance's state as a revision saw it.")
class InstanceState:
    description_override: str | None
    effective_description: str
    status_tags: list[str]
    image_key_url: str | None
    image_is_own: bool
    carry_forward: bool
    base_version: int

    @classmethod
    def from_json(cls, state: dict[str, Any] | None) -> InstanceState | None:
        if state is None:
            return None
        return cls(
            description_override=state["description_override"],
            effective_description=state["effective_description"],
            status_tags=list(state["status_tags"] or ()),
            image_key_url=state["image_key_url"],
            image_is_own=state["image_is_own"],
            carry_forward=state["carry_forward"],
            base_version=state["base_version"],
        )


@strawberry.type
class InstanceRevision:
    id: uuid.UUID
    number: int = strawberry.field(description="1, 2, 3... per instance, in commit order.")
    kind: RevisionKind
    scene_asset_instance_id: uuid.UUID
    scene_id: uuid.UUID
    project_asset_id: uuid.UUID
    changed_fields: list[str] = strawberry.field(
        description=(
            "Column names, in the order of the state (docs/revisions.md); empty for creation, deletion and FORKED."
        )
    )
    before: InstanceState | None
    after: InstanceState | None
    reason: str | None
    actor_user_id: uuid.UUID | None = strawberry.field(
        description="Null for the system (the image worker)."
    )
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> InstanceRevision:
        return cls(
            id=row["id"],
            number=row["number"],
            kind=row["kind"],
            scene_asset_instance_id=row["scene_asset_instance_id"],
            scene_id=row["scene_id"],
            project_asset_id=row["project_asset_id"],
            changed_fields=list(row["changed_fields"] or ()),
            before=InstanceState.from_json(row["before"]),
            after=InstanceState.from_json(row["after"]),
            reason=row["reason"],
            actor_user_id=row["actor_user_id"],
            created_at=row["created_at"],
        )


@strawberry.type
class StateDiff:
    source_instance_id: uuid.UUID | None = strawberry.field(
        description="Null when the source is the project asset."
    )
    unchanged: bool
    tags_added: list[str]
    tags_removed: list[str]
    description_changed: bool
    previous_effective_description: str
    image_changed: bool
    carry_forward_changed: bool

    @classmethod
    def from_row(cls, row: Any) -> StateDiff:
        return cls(
            source_instance_id=row["source_id"],
            unchanged=row["unchanged"],
            tags_added=list(row["tags_added"]),
            tags_removed=list(row["tags_removed"]),
            description_changed=row["description_changed"],
            previous_effective_description=row["previous_effective_description"],
            image_changed=row["image_changed"],
            carry_forward_changed=row["carry_forward_changed"],
        )


@strawberry.type
class PropagationResult:
    dry_run: bool
    updated: list[InstanceT]
    unchanged_count: int
    stopped_at: list[InstanceT]


# Per-request loaders: one statement per batch of parents, whatever arguments each asks with.


def instance_revisions(info: Info) -> DataLoader:
    ctx = info.context

    async def batch(keys: list[history.InstanceKey]) -> list[list[InstanceRevision]]:
        async with ctx.db.transaction(ctx.uid) as conn:
            grouped = await history.revisions_of_instances(conn, ctx.uid, keys)
        return [[InstanceRevision.from_row(r) for r in grouped.get(k, ())] for k in keys]

    return ctx.loaders.custom("revisions_of_instance", batch)


def asset_revisions(info: Info) -> DataLoader:
    ctx = info.context

    async def batch(keys: list[history.AssetKey]) -> list[list[InstanceRevision]]:
        async with ctx.db.transaction(ctx.uid) as conn:
            grouped = await history.revisions_of_assets(conn, ctx.uid, keys)
        return [[InstanceRevision.from_row(r) for r in grouped.get(k, ())] for k in keys]

    return ctx.loaders.custom("revisions_of_asset", batch)


def diffs_from_source(info: Info) -> DataLoader:
    ctx = info.context

    async def batch(keys: list[uuid.UUID]) -> list[StateDiff | None]:
        async with ctx.db.transaction(ctx.uid) as conn:
            found = await history.diffs_from_source(conn, ctx.uid, keys)
        return [StateDiff.from_row(found[k]) if k in found else None for k in keys]

    return ctx.loaders.custom("diff_from_source", batch)
