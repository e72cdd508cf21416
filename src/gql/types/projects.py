"""Viewer, Project, Branch, ProjectAsset, StageLock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gql.context import Info
from gql.relations import handed_on, relations
from gql.rows import from_columns
from gql.types.continuity import (
    ContinuityWarning,
    Severity,
    TagSuggestion,
    continuity_warnings,
    status_tag_suggestions,
)
from gql.types.enums import AssetType, StageStatus
from gql.types.revisions import InstanceRevision, asset_revisions
from services.db import reads
from services.images import event_stream
from services.revisions import history

if TYPE_CHECKING:
    from gql.types.instances import SceneAssetInstance
    from gql.types.scenes import Scene

SceneT = Annotated["Scene", strawberry.lazy("gql.types.scenes")]
InstanceT = Annotated["SceneAssetInstance", strawberry.lazy("gql.types.instances")]


@strawberry.type
class Viewer:
    user_id: uuid.UUID

    @strawberry.field(description="The viewer's projects, newest first.")
    async def projects(self, info: Info) -> list[Project]:
        ctx = info.context
        async with ctx.db.transaction(ctx.uid) as conn:
            rows = await reads.viewer_projects(conn, ctx.uid)
        loader = ctx.loaders.one("project")
        projects = [Project.from_row(r) for r in rows]
        for project in projects:
            loader.prime(project.id, project)
        return projects


@relations(by_id="project")
@strawberry.type
class Project:
    id: uuid.UUID
    title: str
    created_at: datetime
    active_branch_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Any) -> Project:
        return from_columns(cls, row)

    @strawberry.field
    def active_branch(self, info: Info) -> Branch:
        return handed_on(info.context.loaders.one("branch").load(self.active_branch_id))

    @strawberry.field
    def branches(self, info: Info) -> list[Branch]:
        return handed_on(info.context.loaders.many("branches_of_project").load(self.id))

    @strawberry.field(
        description="The position of the latest job event: resume imageJobEvents from it to miss nothing after now."
    )
    async def job_events_cursor(self, info: Info) -> str:
        ctx = info.context
        if ctx.job_events_cursor is None:
            # A future shared by every project of the answer: one statement per operation.
            ctx.job_events_cursor = asyncio.ensure_future(event_stream.current_cursor(ctx.db, ctx.uid))
        return str((await ctx.job_events_cursor).encode())


@relations("branches_of_project", by_id="branch")
@strawberry.type
class Branch:
    id: uuid.UUID
    name: str
    project_id: strawberry.Private[uuid.UUID]
    forked_from_branch_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_row(cls, row: Any) -> Branch:
        return from_columns(cls, row)

    @strawberry.field(description="The branch this one was forked from, if any.")
    async def forked_from(self, info: Info) -> Branch | None:
        if self.forked_from_branch_id is None:
            return None
        return await info.context.loaders.one("branch").load(self.forked_from_branch_id)

    @strawberry.field
    def project(self, info: Info) -> Project:
        return handed_on(info.context.loaders.one("project").load(self.project_id))

    @strawberry.field(description="Ordered by sceneNumber.")
    def scenes(self, info: Info) -> list[SceneT]:
        return handed_on(info.context.loaders.many("scenes_of_branch").load(self.id))

    @strawberry.field(description="Ordered by name ignoring case, then id.")
    def assets(self, info: Info) -> list[ProjectAsset]:
        return handed_on(info.context.loaders.many("assets_of_branch").load(self.id))

    @strawberry.field(
        description="locked_visual_style_capsule_id of the branch's newest stage 5 state, if any."
    )
    def locked_visual_style_capsule_id(self, info: Info) -> str | None:
        return handed_on(info.context.loaders.value("visual_style_of_branch", "capsule").load(self.id))

    @strawberry.field(description="Every scene's continuity warnings, in report order (docs/continuity.md).")
    async def continuity_report(
        self, info: Info, min_severity: Severity | None = Severity.INFO
    ) -> list[ContinuityWarning]:
        return await continuity_warnings(info, "branch", self.id, min_severity)

    @strawberry.field(
        description="Tags used on the branch's instances that start with the prefix, most used first."
    )
    async def status_tag_suggestions(
        self, info: Info, prefix: str | None = "", first: int | None = 10
    ) -> list[TagSuggestion]:
        return await status_tag_suggestions(info, self.id, prefix, first)


@relations("assets_of_branch", by_id="asset")
@strawberry.type(description="A master asset of the project (Stage 5).")
class ProjectAsset:
    id: uuid.UUID
    name: str
    asset_type: AssetType
    description: str
    image_key_url: str | None
    visual_style_capsule_id: str | None
    locked: bool
    version: int = strawberry.field(
        description="Starts at 1; +1 each time description or imageKeyUrl changes."
    )
    branch_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Any) -> ProjectAsset:
        return from_columns(cls, row)

    @strawberry.field(description="This asset's instances, ordered by scene number.")
    def scene_instances(self, info: Info) -> list[InstanceT]:
        return handed_on(info.context.loaders.many("instances_of_asset").load(self.id))

    @strawberry.field(
        description="Every revision of this asset's instances, deleted instances included, newest first."
    )
    def revisions(self, info: Info, first: int | None = 50) -> list[InstanceRevision]:
        return handed_on(asset_revisions(info).load((self.id, history.page_size(first))))


@strawberry.type
class StageLock:
    stage: int
    status: StageStatus
