"""Mutations that queue image generation jobs."""

from __future__ import annotations

import uuid

import strawberry

from gql.context import Info
from gql.inputs import optional
from gql.types.image_job import ImageJob
from services import images


@strawberry.type
class ImageMutation:
    @strawberry.mutation(
        description=(
            "Queues a SCENE_ASSET job for the instance. A key the project already used returns that "
            "job (when made for this instance), so a retried request never queues twice."
        )
    )
    async def generate_scene_asset_image(
        self, info: Info, instance_id: uuid.UUID, idempotency_key: str | None = strawberry.UNSET
    ) -> ImageJob:
        ctx = info.context
        key = optional(idempotency_key)
        row = await images.create_scene_asset_job(ctx.db, ctx.uid, instance_id, key)
        return ImageJob.from_row(row)
