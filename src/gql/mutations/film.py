"""Mutations of the film's skeleton: projects, scenes, shots, master assets, stage locks."""

from __future__ import annotations

import uuid

import strawberry

from gql.context import Info
from gql.inputs import changes_of, optional, values_of
from gql.types.enums import AssetType, StageStatus, TimeOfDay
from gql.types.projects import Branch, Project, ProjectAsset
from gql.types.scenes import Scene, Shot
from services.film import assets, projects, scenes, stages


@strawberry.input
class CreateProjectInput:
    title: str


@strawberry.input
class CreateSceneInput:
    branch_id: uuid.UUID
    scene_number: int
    slug: str
    script_excerpt: str | None = strawberry.UNSET
    end_state_summary: str | None = strawberry.UNSET
    story_day: int | None = strawberry.UNSET
    time_of_day: TimeOfDay | None = strawberry.UNSET


@strawberry.input
class CreateShotInput:
    scene_id: uuid.UUID
    shot_label: str
    shot_order: int
    duration_seconds: int
    setting: str | None = strawberry.UNSET
    action: str | None = strawberry.UNSET
    camera: str | None = strawberry.UNSET
    continues_from_previous: bool | None = strawberry.UNSET


@strawberry.input
class CreateProjectAssetInput:
    branch_id: uuid.UUID
    name: str
    asset_type: AssetType
    description: str
    image_key_url: str | None = strawberry.UNSET
    visual_style_capsule_id: str | None = strawberry.UNSET


@strawberry.input(description="An omitted field is left as it is.")
class UpdateProjectAssetInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    image_key_url: str | None = strawberry.UNSET


def _value(enum_or_raw: object) -> str:
    return str(getattr(enum_or_raw, "value", enum_or_raw))


@strawberry.type
class FilmMutation:
    @strawberry.mutation(description="Creates the project with a branch named main and makes it the active branch.")
    async def create_project(self, info: Info, input: CreateProjectInput) -> Project:
        ctx = info.context
        return Project.from_row(await projects.create_project(ctx.db, ctx.uid, input.title))

    @strawberry.mutation
    async def create_scene(self, info: Info, input: CreateSceneInput) -> Scene:
        ctx = info.context
        return Scene.from_row(await scenes.create_scene(ctx.db, ctx.uid, **values_of(input)))

    @strawberry.mutation
    async def create_shot(self, info: Info, input: CreateShotInput) -> Shot:
        ctx = info.context
        return Shot.from_row(await scenes.create_shot(ctx.db, ctx.uid, **values_of(input)))

    @strawberry.mutation
    async def create_project_asset(self, info: Info, input: CreateProjectAssetInput) -> ProjectAsset:
        ctx = info.context
        return ProjectAsset.from_row(await assets.create_project_asset(ctx.db, ctx.uid, **values_of(input)))

    @strawberry.mutation
    async def update_project_asset(
        self, info: Info, id: uuid.UUID, input: UpdateProjectAssetInput
    ) -> ProjectAsset:
        ctx = info.context
        uid = ctx.uid
        return ProjectAsset.from_row(await assets.update_project_asset(ctx.db, uid, id, changes_of(input)))

    @strawberry.mutation(
        description="Stage 5 completion: locks the given assets of the branch, or all of them when ids is omitted."
    )
    async def lock_project_assets(
        self, info: Info, branch_id: uuid.UUID, ids: list[uuid.UUID] | None = strawberry.UNSET
    ) -> list[ProjectAsset]:
        ctx = info.context
        wanted = optional(ids)
        rows = await assets.lock_project_assets(ctx.db, ctx.uid, branch_id, wanted)
        return [ProjectAsset.from_row(r) for r in rows]

    @strawberry.mutation(
        description="Records a new stage 5 state whose content holds locked_visual_style_capsule_id."
    )
    async def lock_visual_style(self, info: Info, branch_id: uuid.UUID, capsule_id: str) -> Branch:
        ctx = info.context
        return Branch.from_row(await assets.lock_visual_style(ctx.db, ctx.uid, branch_id, capsule_id))

    @strawberry.mutation
    async def set_scene_stage_status(
        self, info: Info, scene_id: uuid.UUID, stage: int, status: StageStatus
    ) -> Scene:
        ctx = info.context
        row = await stages.set_scene_stage_status(ctx.db, ctx.uid, scene_id, stage, _value(status))
        return Scene.from_row(row)
