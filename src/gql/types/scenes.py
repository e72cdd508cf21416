"""Scene, Shot, LocalContext."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gql.context import Info
from gql.relations import handed_on, relations
from gql.rows import from_columns
from gql.types.casting import (
    FrameReferences,
    ReferenceImage,
    ShotAssetAssignment,
    TransformationEvent,
    frame_references_of_shot,
)
from gql.types.continuity import (
    ContinuityWarning,
    Severity,
    ShotReadiness,
    continuity_warnings,
    shot_readiness,
)
from gql.types.enums import AssetType, TimeOfDay
from gql.types.projects import Branch, StageLock
from services.film import stages

if TYPE_CHECKING:
    from gql.types.images import ImageJob
    from gql.types.instances import SceneAssetInstance

ImageJobT = Annotated["ImageJob", strawberry.lazy("gql.types.images")]
InstanceT = Annotated["SceneAssetInstance", strawberry.lazy("gql.types.instances")]
AssignmentT = Annotated["ShotAssetAssignment", strawberry.lazy("gql.types.casting")]
ReferenceImageT = Annotated["ReferenceImage", strawberry.lazy("gql.types.casting")]
FrameReferencesT = Annotated["FrameReferences", strawberry.lazy("gql.types.casting")]
EventT = Annotated["TransformationEvent", strawberry.lazy("gql.types.casting")]


@strawberry.type
class LocalContextAsset:
    name: str
    type: AssetType
    description: str
    status_tags: list[str]
    image_key_url: str | None


@strawberry.type
class LocalContext:
    scene_id: uuid.UUID
    scene_script: str
    previous_scene_end_state: str | None
    scene_assets: list[LocalContextAsset]


@relations("scenes_of_branch", "prior_scene", by_id="scene")
@strawberry.type
class Scene:
    id: uuid.UUID
    scene_number: int
    slug: str
    script_excerpt: str
    status: str
    end_state_summary: str | None
    story_day: int | None = strawberry.field(
        description="Story-day order of the script (the script supervisor's day); null when unknown."
    )
    time_of_day: TimeOfDay | None
    updated_at: datetime
    branch_id: strawberry.Private[uuid.UUID]
    stage_locks_raw: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_row(cls, row: Any) -> Scene:
        return from_columns(cls, row, stage_locks_raw=row["stage_locks"])

    @strawberry.field
    def branch(self, info: Info) -> Branch:
        return handed_on(info.context.loaders.one("branch").load(self.branch_id))

    @strawberry.field(
        description="The scene of the same branch with the largest smaller sceneNumber, if any."
    )
    def prior_scene(self, info: Info) -> Scene | None:
        return handed_on(info.context.loaders.one("prior_scene").load(self.id))

    @strawberry.field(
        description="In asset order: type (CHARACTER, LOCATION, PROP), then name ignoring case, then id."
    )
    def asset_instances(self, info: Info) -> list[InstanceT]:
        return handed_on(info.context.loaders.many("instances_of_scene").load(self.id))

    @strawberry.field(description="Ordered by shotOrder.")
    def shots(self, info: Info) -> list[Shot]:
        return handed_on(info.context.loaders.many("shots_of_scene").load(self.id))

    @strawberry.field(
        description="Every assignment of every shot of this scene, ordered by shot order, then asset order."
    )
    def shot_assignments(self, info: Info) -> list[AssignmentT]:
        return handed_on(info.context.loaders.many("assignments_of_scene").load(self.id))

    @strawberry.field
    def has_shot_assignments(self, info: Info) -> bool:
        return handed_on(info.context.loaders.value("scene_has_assignments", "has", False).load(self.id))

    @strawberry.field(description="The stages present in the scene's stage locks, ordered by stage number.")
    def stage_locks(self) -> list[StageLock]:
        return [StageLock(stage=n, status=s) for n, s in stages.stage_locks(self.stage_locks_raw)]  # type: ignore[arg-type]

    @strawberry.field(description="This scene's continuity warnings, in report order (docs/continuity.md).")
    async def continuity_warnings(
        self, info: Info, min_severity: Severity | None = Severity.INFO
    ) -> list[ContinuityWarning]:
        return await continuity_warnings(info, "scene", self.id, min_severity)

    @strawberry.field(description="What an LLM is told about this scene (Stage 8 local context).")
    async def local_context(self, info: Info) -> LocalContext:
        loaders = info.context.loaders
        prior = await loaders.one("prior_scene").load(self.id)
        instances = await loaders.many("instances_of_scene").load(self.id)
        assets = await loaders.one("asset").load_many([i.project_asset_id for i in instances])
        return LocalContext(
            scene_id=self.id,
            scene_script=self.script_excerpt,
            previous_scene_end_state=prior.end_state_summary if prior else None,
            scene_assets=[
                LocalContextAsset(
                    name=asset.name,
                    type=asset.asset_type,
                    description=instance.effective_description,
                    status_tags=instance.status_tags,
                    image_key_url=instance.image_key_url or asset.image_key_url,
                )
                for instance, asset in zip(instances, assets, strict=True)
            ],
        )


@relations("shots_of_scene", by_id="shot")
@strawberry.type
class Shot:
    id: uuid.UUID
    shot_label: str = strawberry.field(description="The shot's label within its scene, e.g. 1A.")
    shot_order: int
    duration_seconds: int
    setting: str | None
    action: str | None
    camera: str | None
    frame_prompt: str | None
    video_prompt: str | None
    updated_at: datetime
    continues_from_previous: bool = strawberry.field(
        description="The start frame comes from the previous shot's end frame (a cut that continues the action)."
    )
    scene_id: strawberry.Private[uuid.UUID]
    reference_image_order_raw: strawberry.Private[list[Any]]
    end_frame_reference_image_order_raw: strawberry.Private[list[Any]]

    @classmethod
    def from_row(cls, row: Any) -> Shot:
        return from_columns(
            cls,
            row,
            reference_image_order_raw=row["reference_image_order"] or [],
            end_frame_reference_image_order_raw=row["end_frame_reference_image_order"] or [],
        )

    @strawberry.field
    def scene(self, info: Info) -> Scene:
        return handed_on(info.context.loaders.one("scene").load(self.scene_id))

    @strawberry.field(description="Start-frame reference images as stored by the last generateShotPrompts.")
    def reference_image_order(self) -> list[ReferenceImageT]:
        return [ReferenceImage.from_json(entry) for entry in self.reference_image_order_raw]

    @strawberry.field(description="End-frame reference images as stored by the last generateShotPrompts.")
    def end_frame_reference_image_order(self) -> list[ReferenceImageT]:
        return [ReferenceImage.from_json(entry) for entry in self.end_frame_reference_image_order_raw]

    @strawberry.field(description="In asset order of their instances.")
    def asset_assignments(self, info: Info) -> list[AssignmentT]:
        return handed_on(info.context.loaders.many("assignments_of_shot").load(self.id))

    @strawberry.field(description="Computed now from the current assignments (or the legacy fallback).")
    async def frame_references(self, info: Info) -> FrameReferencesT:
        return await frame_references_of_shot(info, self)

    @strawberry.field(description="Whether the shot is ready for video, and what blocks it (docs/continuity.md).")
    async def readiness(self, info: Info) -> ShotReadiness:
        return await shot_readiness(info, self.id)

    @strawberry.field
    def transformation_events(self, info: Info) -> list[EventT]:
        return handed_on(info.context.loaders.many("events_of_shot").load(self.id))

    @strawberry.field(
        description="The newest START_FRAME job (for a continuing shot: the previous shot's endFrame)."
    )
    def start_frame(self, info: Info) -> ImageJobT | None:
        return handed_on(info.context.loaders.one("start_frame_of_shot").load(self.id))

    @strawberry.field(description="The newest END_FRAME job.")
    def end_frame(self, info: Info) -> ImageJobT | None:
        return handed_on(info.context.loaders.one("end_frame_of_shot").load(self.id))
