"""SceneAssetInstance and the payloads of its mutations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gql.context import Info
from gql.relations import handed_on, relations
from gql.rows import from_columns
from gql.types.enums import InheritanceSource
from gql.types.projects import ProjectAsset
from gql.types.revisions import InstanceRevision, StateDiff, diffs_from_source, instance_revisions
from services.core.errors import Conflict
from services.revisions import history

if TYPE_CHECKING:
    from gql.types.casting import ShotAssetAssignment
    from gql.types.scenes import Scene

SceneT = Annotated["Scene", strawberry.lazy("gql.types.scenes")]
AssignmentT = Annotated["ShotAssetAssignment", strawberry.lazy("gql.types.casting")]


@relations("instances_of_scene", "instances_of_asset", "chain_of_instance", by_id="instance")
@strawberry.type(description="The state of one project asset within one scene.")
class SceneAssetInstance:
    id: uuid.UUID
    description_override: str | None
    image_key_url: str | None
    status_tags: list[str]
    carry_forward: bool
    effective_description: str
    modification_count: int
    last_modified_field: str | None
    modification_reason: str | None
    edited: bool = strawberry.field(
        description=(
            "True once an UPDATED, RESYNCED, REVERTED or IMAGE_GENERATED revision was recorded, "
            "or its create's override/tags changed its state."
        )
    )
    created_at: datetime
    updated_at: datetime
    scene_id: strawberry.Private[uuid.UUID]
    project_asset_id: strawberry.Private[uuid.UUID]
    inherited_from_instance_id: strawberry.Private[uuid.UUID | None]
    base_version: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> SceneAssetInstance:
        return from_columns(cls, row, status_tags=list(row["status_tags"] or ()))

    @strawberry.field
    def scene(self, info: Info) -> SceneT:
        return handed_on(info.context.loaders.one("scene").load(self.scene_id))

    @strawberry.field
    def project_asset(self, info: Info) -> ProjectAsset:
        return handed_on(info.context.loaders.one("asset").load(self.project_asset_id))

    @strawberry.field(
        description="The instance this one took its state from (null for a bootstrapped first-scene instance)."
    )
    async def inherited_from(self, info: Info) -> SceneAssetInstance | None:
        if self.inherited_from_instance_id is None:
            return None
        return await info.context.loaders.one("instance").load(self.inherited_from_instance_id)

    @strawberry.field(
        description="True when the project asset changed (its version grew) after this instance was derived from it."
    )
    async def is_outdated(self, info: Info) -> bool:
        asset = await info.context.loaders.one("asset").load(self.project_asset_id)
        return asset is not None and asset.version > self.base_version

    @strawberry.field(description="The inheritance chain, root first, ending with this instance itself.")
    def chain(self, info: Info) -> list[SceneAssetInstance]:
        return handed_on(info.context.loaders.many("chain_of_instance").load(self.id))

    @strawberry.field
    def shot_assignments(self, info: Info) -> list[AssignmentT]:
        return handed_on(info.context.loaders.many("assignments_of_instance").load(self.id))

    @strawberry.field(description="Newest first.")
    def revisions(
        self, info: Info, first: int | None = 50, before_number: int | None = strawberry.UNSET
    ) -> list[InstanceRevision]:
        before = None if before_number is strawberry.UNSET else before_number
        key = (self.id, history.page_size(first), before)
        return handed_on(instance_revisions(info).load(key))

    @strawberry.field(
        description="This instance against its source now (the inherited-from instance, else the project asset)."
    )
    async def diff_from_source(self, info: Info) -> StateDiff:
        diff = await diffs_from_source(info).load(self.id)
        if diff is None:
            # Deleted by another request between this request's units of work.
            raise Conflict(
                "SceneAssetInstance.diffFromSource: the instance was deleted by a concurrent request; refetch"
            )
        return diff


@strawberry.type
class InheritSceneAssetsPayload:
    source: InheritanceSource
    count: int
    prior_scene: SceneT | None
    instances: list[SceneAssetInstance]


@strawberry.type
class DeletePayload:
    id: uuid.UUID
