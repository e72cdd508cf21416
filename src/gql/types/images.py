"""ImageJob."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry

from gql.relations import relations
from gql.types.casting import ReferenceImage
from gql.types.enums import ImageJobStatus, ImageJobType
from services.images.events import JobEvent


@relations("start_frame_of_shot", "end_frame_of_shot", by_id="image_job")
@strawberry.type
class ImageJob:
    id: uuid.UUID
    job_type: ImageJobType
    status: ImageJobStatus
    prompt: str
    width: int
    height: int
    scene_id: uuid.UUID | None
    shot_id: uuid.UUID | None
    project_asset_id: uuid.UUID | None
    scene_asset_instance_id: uuid.UUID | None
    reference_images: list[ReferenceImage]
    storage_path: str | None
    image_url: str | None
    error: str | None
    idempotency_key: str
    created_at: datetime
    completed_at: datetime | None
    attempts: int
    next_attempt_at: datetime | None = strawberry.field(
        description="When a failed attempt will be retried (null unless QUEUED after a failure)."
    )
    project_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Any) -> ImageJob:
        return cls(
            id=row["id"],
            job_type=row["job_type"],
            status=row["status"],
            prompt=row["prompt"],
            width=row["width"],
            height=row["height"],
            scene_id=row["scene_id"],
            shot_id=row["shot_id"],
            project_asset_id=row["project_asset_id"],
            scene_asset_instance_id=row["scene_asset_instance_id"],
            reference_images=[ReferenceImage.from_json(e) for e in row["reference_images"] or ()],
            storage_path=row["storage_path"],
            image_url=row["image_url"],
            error=row["error"],
            idempotency_key=row["idempotency_key"],
            created_at=row["created_at"],
            completed_at=row["completed_at"],
            attempts=row["attempts"],
            next_attempt_at=row.get("next_attempt_at"),
            project_id=row["project_id"],
        )


@strawberry.type(description="A stored change of an image job, in commit order; cursors resume a stream without a gap.")
class ImageJobEvent:
    cursor: str = strawberry.field(description="Opaque; pass it as `after` to resume after this event.")
    status: ImageJobStatus
    job: ImageJob
    at: datetime

    @classmethod
    def of(cls, event: JobEvent) -> ImageJobEvent:
        return cls(
            cursor=event.position.encode(),
            status=event.status,  # type: ignore[arg-type]
            job=ImageJob.from_row(event.state),
            at=event.at,
        )
