"""Mutations that queue image generation jobs."""

from __future__ import annotations

import uuid

import strawberry

from gql.context import Info
from gql.inputs import optional
from gql.types.images import ImageJob
from services.images import jobs


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
        row = await jobs.create_scene_asset_job(ctx.db, ctx.uid, instance_id, key)
        return ImageJob.from_row(row)

    @strawberry.mutation(
        description=(
            "A QUEUED job is cancelled now; a PROCESSING one when its attempt ends (its image is discarded)."
        )
    )
    async def cancel_image_job(self, info: Info, id: uuid.UUID) -> ImageJob:
        ctx = info.context
        return ImageJob.from_row(await jobs.cancel_job(ctx.db, ctx.uid, id))
