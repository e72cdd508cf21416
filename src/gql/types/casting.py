"""ShotAssetAssignment, frame references and transformation events."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gql.context import Info
from gql.relations import handed_on, relations
from gql.rows import from_columns
from gql.types.enums import AssetType, PresenceType
from services.casting import assignments, frames

if TYPE_CHECKING:
    from gql.loaders import Loaders
    from gql.types.instances import SceneAssetInstance
    from gql.types.scenes import Shot

ShotT = Annotated["Shot", strawberry.lazy("gql.types.scenes")]
InstanceT = Annotated["SceneAssetInstance", strawberry.lazy("gql.types.instances")]


@relations("assignments_of_shot", "assignments_of_scene", "assignments_of_instance", by_id="assignment")
@strawberry.type
class ShotAssetAssignment:
    id: uuid.UUID
    presence_type: PresenceType
    created_at: datetime
    updated_at: datetime
    shot_id: strawberry.Private[uuid.UUID]
    scene_asset_instance_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Any) -> ShotAssetAssignment:
        return from_columns(cls, row)

    @strawberry.field
    def shot(self, info: Info) -> ShotT:
        return handed_on(info.context.loaders.one("shot").load(self.shot_id))

    @strawberry.field
    def scene_asset_instance(self, info: Info) -> InstanceT:
        return handed_on(info.context.loaders.one("instance").load(self.scene_asset_instance_id))


@strawberry.type(description="One entry of a numbered reference-image manifest.")
class ReferenceImage:
    position: int = strawberry.field(description="1-based position in its manifest.")
    scene_asset_instance_id: uuid.UUID
    project_asset_id: uuid.UUID
    asset_name: str
    asset_type: AssetType
    image_url: str

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> ReferenceImage:
        """Stored reference lists (shots, jobs) use snake_case keys and lower-case types."""
        return cls(
            position=entry["position"],
            scene_asset_instance_id=uuid.UUID(str(entry["scene_asset_instance_id"])),
            project_asset_id=uuid.UUID(str(entry["project_asset_id"])),
            asset_name=entry["asset_name"],
            asset_type=entry["asset_type"],
            image_url=entry["image_url"],
        )


@strawberry.type
class FrameReferences:
    start_frame_manifest: str
    start_frame_images: list[ReferenceImage]
    end_frame_manifest: str
    end_frame_images: list[ReferenceImage]
    video_only_assets: list[ShotAssetAssignment] = strawberry.field(
        description="The PASSES_THROUGH assets: in no frame, described in the video prompt."
    )
    presence_directions: list[str] = strawberry.field(
        description="The sentences about entries, exits and pass-throughs that go into the video prompt."
    )
    uses_legacy_fallback: bool = strawberry.field(
        description=(
            "True while the scene's assignments were never initialised: "
            "every scene asset then counts as THROUGHOUT."
        )
    )


@relations("events_of_shot")
@strawberry.type(description="A change of an asset inside one shot: the end frame shows it after the change.")
class TransformationEvent:
    id: uuid.UUID
    post_description: str
    post_image_key_url: str | None
    created_at: datetime
    shot_id: strawberry.Private[uuid.UUID]
    scene_asset_instance_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Any) -> TransformationEvent:
        return from_columns(cls, row)

    @strawberry.field
    def shot(self, info: Info) -> ShotT:
        return handed_on(info.context.loaders.one("shot").load(self.shot_id))

    @strawberry.field
    def scene_asset_instance(self, info: Info) -> InstanceT:
        return handed_on(info.context.loaders.one("instance").load(self.scene_asset_instance_id))


@strawberry.type
class AutoPopulatePayload:
    created: int
    existing: int


def _scene_casts(loaders: Loaders) -> Callable[[list[uuid.UUID]], Awaitable[list[frames.SceneCast | None]]]:
    async def batch(scene_ids: list[uuid.UUID]) -> list[frames.SceneCast | None]:
        async with loaders.db.transaction(loaders.uid) as conn:
            casts = await assignments.read_scene_casts(conn, loaders.uid, scene_ids)
        return [casts.get(k) for k in scene_ids]

    return batch


def frame_references_from(refs: frames.FrameReferences) -> FrameReferences:
    return FrameReferences(
        start_frame_manifest=refs.start_manifest,
        start_frame_images=[ReferenceImage.from_json(e) for e in refs.start_images],
        end_frame_manifest=refs.end_manifest,
        end_frame_images=[ReferenceImage.from_json(e) for e in refs.end_images],
        video_only_assets=[ShotAssetAssignment.from_row(c.assignment) for c in refs.video_only if c.assignment],
        presence_directions=refs.directions,
        uses_legacy_fallback=refs.uses_legacy_fallback,
    )


async def frame_references_of_shot(info: Info, shot: Shot) -> FrameReferences:
    """Computed now. Every shot of a scene shares one read of the scene's cast, so the frame
    references of a whole scene (or of many scenes) cost a constant number of statements."""
    loaders = info.context.loaders
    cast = await loaders.custom("scene_cast", _scene_casts(loaders)).load(shot.scene_id)
    if cast is None:  # the scene went away after the shot was read
        cast = frames.SceneCast(shot.scene_id, initialized=True)
    return frame_references_from(cast.frames_of(shot.id))
