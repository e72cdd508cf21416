"""Mutations of shot asset assignments, transformation events, shot prompts and shot frames."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from gql.context import Context, Info
from gql.inputs import optional
from gql.types.casting import AutoPopulatePayload, ShotAssetAssignment, TransformationEvent
from gql.types.enums import PresenceType
from gql.types.images import ImageJob
from gql.types.instances import DeletePayload
from gql.types.scenes import Shot
from services.casting import generation, prompts
from services.casting.assignments import (
    AssignmentEntry,
    auto_populate_shot_assignments,
    create_shot_asset_assignments,
    delete_shot_asset_assignment,
    record_transformation_event,
    update_shot_asset_assignment,
)


@strawberry.input
class ShotAssignmentInput:
    shot_id: uuid.UUID
    scene_asset_instance_id: uuid.UUID
    presence_type: PresenceType = PresenceType.THROUGHOUT


@strawberry.input
class TransformationEventInput:
    shot_id: uuid.UUID
    scene_asset_instance_id: uuid.UUID
    post_description: str
    post_image_key_url: str | None = strawberry.UNSET


def _raw(value: object) -> str:
    return str(getattr(value, "value", value))


def _writer(ctx: Context) -> prompts.PromptWriter:
    if ctx.app.prompt_writer is None:
        ctx.app.prompt_writer = prompts.load_writer(ctx.app.settings.prompt_writer)
    return ctx.app.prompt_writer


@strawberry.type
class CastingMutation:
    @strawberry.mutation
    async def create_shot_asset_assignments(
        self, info: Info, scene_id: uuid.UUID, assignments: list[ShotAssignmentInput]
    ) -> list[ShotAssetAssignment]:
        ctx = info.context
        entries = [
            AssignmentEntry(a.shot_id, a.scene_asset_instance_id, _raw(a.presence_type)) for a in assignments
        ]
        rows = await create_shot_asset_assignments(ctx.db, ctx.uid, scene_id, entries)
        return [ShotAssetAssignment.from_row(r) for r in rows]

    @strawberry.mutation(description="With expectedUpdatedAt, a row that has moved on is CONFLICT and nothing changes.")
    async def update_shot_asset_assignment(
        self,
        info: Info,
        id: uuid.UUID,
        presence_type: PresenceType,
        expected_updated_at: datetime | None = strawberry.UNSET,
    ) -> ShotAssetAssignment:
        ctx = info.context
        uid = ctx.uid
        expected = optional(expected_updated_at)
        row = await update_shot_asset_assignment(ctx.db, uid, id, _raw(presence_type), expected)
        return ShotAssetAssignment.from_row(row)

    @strawberry.mutation
    async def delete_shot_asset_assignment(self, info: Info, id: uuid.UUID) -> DeletePayload:
        ctx = info.context
        return DeletePayload(id=await delete_shot_asset_assignment(ctx.db, ctx.uid, id))

    @strawberry.mutation
    async def auto_populate_shot_assignments(self, info: Info, scene_id: uuid.UUID) -> AutoPopulatePayload:
        ctx = info.context
        result = await auto_populate_shot_assignments(ctx.db, ctx.uid, scene_id)
        return AutoPopulatePayload(created=result.created, existing=result.existing)

    @strawberry.mutation
    async def record_transformation_event(self, info: Info, input: TransformationEventInput) -> TransformationEvent:
        ctx = info.context
        uid = ctx.uid
        row = await record_transformation_event(
            ctx.db,
            uid,
            shot_id=input.shot_id,
            scene_asset_instance_id=input.scene_asset_instance_id,
            post_description=input.post_description,
            post_image_key_url=optional(input.post_image_key_url),
        )
        return TransformationEvent.from_row(row)

    @strawberry.mutation(
        description="Presence-aware prompt generation for every shot of the scene; returns the shots, updated."
    )
    async def generate_shot_prompts(self, info: Info, scene_id: uuid.UUID) -> list[Shot]:
        ctx = info.context
        uid = ctx.uid
        rows = await generation.generate_shot_prompts(ctx.db, uid, scene_id, _writer(ctx))
        return [Shot.from_row(r) for r in rows]

    @strawberry.mutation(description="Queues the shot's START_FRAME and END_FRAME jobs, in that order.")
    async def generate_shot_frames(self, info: Info, shot_id: uuid.UUID) -> list[ImageJob]:
        ctx = info.context
        rows = await generation.generate_shot_frames(ctx.db, ctx.uid, shot_id)
        return [ImageJob.from_row(r) for r in rows]
