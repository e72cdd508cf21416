"""Mutations of scene asset instances (Feature 5.1)."""

from __future__ import annotations

import uuid

import strawberry

from gql.context import Info
from gql.inputs import optional
from gql.types.instances import DeletePayload, InheritSceneAssetsPayload, SceneAssetInstance
from services.instances import edits
from services.instances.edits import InstanceChanges


@strawberry.input
class CreateSceneAssetInstanceInput:
    scene_id: uuid.UUID
    project_asset_id: uuid.UUID
    description_override: str | None = strawberry.UNSET
    status_tags: list[str] | None = strawberry.UNSET
    carry_forward: bool | None = strawberry.UNSET
    inherited_from_instance_id: uuid.UUID | None = strawberry.UNSET


@strawberry.input(
    description="An omitted field is left as it is; descriptionOverride: null clears the override."
)
class UpdateSceneAssetInstanceInput:
    description_override: str | None = strawberry.UNSET
    image_key_url: str | None = strawberry.UNSET
    status_tags: list[str] | None = strawberry.UNSET
    carry_forward: bool | None = strawberry.UNSET
    modification_reason: str | None = strawberry.UNSET


def _sent(value: object) -> object:
    return edits.OMITTED if value is strawberry.UNSET else value


@strawberry.type
class InstanceMutation:
    @strawberry.mutation
    async def inherit_scene_assets(self, info: Info, scene_id: uuid.UUID) -> InheritSceneAssetsPayload:
        ctx = info.context
        result = await edits.inherit_scene_assets(ctx.db, ctx.uid, scene_id)
        prior = None
        if result.prior_scene_id is not None:
            prior = await ctx.loaders.one("scene").load(result.prior_scene_id)
        return InheritSceneAssetsPayload(
            source=result.source,  # type: ignore[arg-type]
            count=len(result.instances),
            prior_scene=prior,
            instances=[SceneAssetInstance.from_row(r) for r in result.instances],
        )

    @strawberry.mutation
    async def create_scene_asset_instance(
        self, info: Info, input: CreateSceneAssetInstanceInput
    ) -> SceneAssetInstance:
        ctx = info.context
        uid = ctx.uid
        override = optional(input.description_override)
        carry = optional(input.carry_forward)
        row = await edits.create_scene_asset_instance(
            ctx.db,
            uid,
            scene_id=input.scene_id,
            project_asset_id=input.project_asset_id,
            description_override=override,
            status_tags=optional(input.status_tags),
            carry_forward=True if carry is None else carry,
            inherited_from_instance_id=optional(input.inherited_from_instance_id),
        )
        return SceneAssetInstance.from_row(row)

    @strawberry.mutation(
        description="With expectedModificationCount, a row that has moved on is CONFLICT and nothing changes."
    )
    async def update_scene_asset_instance(
        self,
        info: Info,
        id: uuid.UUID,
        input: UpdateSceneAssetInstanceInput,
        expected_modification_count: int | None = strawberry.UNSET,
    ) -> SceneAssetInstance:
        ctx = info.context
        uid = ctx.uid
        changes = InstanceChanges(
            description_override=_sent(input.description_override),
            image_key_url=_sent(input.image_key_url),
            status_tags=_sent(input.status_tags),
            carry_forward=_sent(input.carry_forward),
            modification_reason=_sent(input.modification_reason),
        )
        expected = optional(expected_modification_count)
        row = await edits.update_scene_asset_instance(ctx.db, uid, id, changes, expected)
        return SceneAssetInstance.from_row(row)

    @strawberry.mutation
    async def delete_scene_asset_instance(self, info: Info, id: uuid.UUID) -> DeletePayload:
        ctx = info.context
        return DeletePayload(id=await edits.delete_scene_asset_instance(ctx.db, ctx.uid, id))

    @strawberry.mutation(
        description=(
            "Re-derives an outdated instance from the project asset's current version, "
            "keeping scene-specific edits."
        )
    )
    async def resync_scene_asset_instance(self, info: Info, id: uuid.UUID) -> SceneAssetInstance:
        ctx = info.context
        row = await edits.resync_scene_asset_instance(ctx.db, ctx.uid, id)
        return SceneAssetInstance.from_row(row)
