"""Mutations about an instance's history: revert to a revision, propagate forward (docs/revisions.md)."""

from __future__ import annotations

import uuid

import strawberry

from gql.context import Info
from gql.types.instances import SceneAssetInstance
from gql.types.revisions import PropagationResult
from services.revisions import history


@strawberry.type
class RevisionMutation:
    @strawberry.mutation(
        description=(
            "Restores a revision's override, tags, carryForward and own image; the base stays. "
            "With expectedModificationCount, a row that has moved on is CONFLICT and nothing changes."
        )
    )
    async def revert_scene_asset_instance(
        self,
        info: Info,
        id: uuid.UUID,
        revision: int,
        expected_modification_count: int | None = strawberry.UNSET,
        reason: str | None = strawberry.UNSET,
    ) -> SceneAssetInstance:
        ctx = info.context
        row = await history.revert_scene_asset_instance(
            ctx.db,
            ctx.uid,
            id,
            revision,
            None if expected_modification_count is strawberry.UNSET else expected_modification_count,
            None if reason is strawberry.UNSET else reason,
        )
        return SceneAssetInstance.from_row(row)

    @strawberry.mutation(
        description=(
            "Pushes the instance's state forward to every descendant down to the first edited "
            "one on each line; dryRun only reports what would change."
        )
    )
    async def propagate_scene_asset_instance(
        self, info: Info, id: uuid.UUID, dry_run: bool | None = False
    ) -> PropagationResult:
        ctx = info.context
        result = await history.propagate_scene_asset_instance(ctx.db, ctx.uid, id, bool(dry_run))
        return PropagationResult(
            dry_run=result.dry_run,
            updated=[SceneAssetInstance.from_row(r) for r in result.updated],
            unchanged_count=result.unchanged_count,
            stopped_at=[SceneAssetInstance.from_row(r) for r in result.stopped_at],
        )
