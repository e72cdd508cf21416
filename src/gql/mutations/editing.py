"""Mutations that edit the film: change, remove, move, reorder, fork (docs/editing.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry

from gql.context import Info
from gql.inputs import changes_of
from gql.types.enums import InheritFrom, PresenceType, TimeOfDay
from gql.types.instances import DeletePayload, SceneAssetInstance
from gql.types.projects import Branch, Project
from gql.types.scenes import Scene, Shot
from services.film import assets, forks, projects, scenes
from services.instances import edits
from services.instances.edits import OMITTED, ShotPresence


@strawberry.input
class UpdateProjectInput:
    title: str | None = strawberry.UNSET


@strawberry.input(description="An omitted field is left as it is; null clears endStateSummary, storyDay and timeOfDay.")
class UpdateSceneInput:
    slug: str | None = strawberry.UNSET
    script_excerpt: str | None = strawberry.UNSET
    end_state_summary: str | None = strawberry.UNSET
    story_day: int | None = strawberry.UNSET
    time_of_day: TimeOfDay | None = strawberry.UNSET


@strawberry.input(description="An omitted field is left as it is; null clears setting, action and camera.")
class UpdateShotInput:
    shot_label: str | None = strawberry.UNSET
    duration_seconds: int | None = strawberry.UNSET
    setting: str | None = strawberry.UNSET
    action: str | None = strawberry.UNSET
    camera: str | None = strawberry.UNSET
    continues_from_previous: bool | None = strawberry.UNSET


@strawberry.input
class ShotPresenceInput:
    shot_id: uuid.UUID
    presence_type: PresenceType = PresenceType.THROUGHOUT


@strawberry.input
class AddAssetToSceneInput:
    scene_id: uuid.UUID
    project_asset_id: uuid.UUID
    inherit_from: InheritFrom | None = InheritFrom.LATEST
    description_override: str | None = strawberry.UNSET
    status_tags: list[str] | None = strawberry.UNSET
    shots: list[ShotPresenceInput] = strawberry.field(default_factory=list)


def _raw(value: Any) -> Any:
    """An enum's database spelling (None and other values as they are)."""
    return getattr(value, "value", value)


def _unset_is_none(value: Any) -> Any:
    return None if value is strawberry.UNSET else value


@strawberry.type
class EditingMutation:
    @strawberry.mutation
    async def update_project(self, info: Info, id: uuid.UUID, input: UpdateProjectInput) -> Project:
        ctx = info.context
        return Project.from_row(await projects.update_project(ctx.db, ctx.uid, id, changes_of(input)))

    @strawberry.mutation(description="Deletes everything of the project, its jobs and revisions included (files stay).")
    async def delete_project(self, info: Info, id: uuid.UUID) -> DeletePayload:
        ctx = info.context
        return DeletePayload(id=await projects.delete_project(ctx.db, ctx.uid, id))

    @strawberry.mutation(
        description="With expectedUpdatedAt, a scene that has moved on is CONFLICT and nothing changes."
    )
    async def update_scene(
        self,
        info: Info,
        id: uuid.UUID,
        input: UpdateSceneInput,
        expected_updated_at: datetime | None = strawberry.UNSET,
    ) -> Scene:
        ctx = info.context
        expected = _unset_is_none(expected_updated_at)
        row = await scenes.update_scene(ctx.db, ctx.uid, id, changes_of(input), expected)
        return Scene.from_row(row)

    @strawberry.mutation(
        description="Deletes the scene with its shots, instances, assignments and events; repairs chains."
    )
    async def delete_scene(self, info: Info, id: uuid.UUID) -> DeletePayload:
        ctx = info.context
        return DeletePayload(id=await scenes.delete_scene(ctx.db, ctx.uid, id))

    @strawberry.mutation(
        description="Gives the scene that number, shifting the scenes between; returns the branch's scenes in order."
    )
    async def move_scene(self, info: Info, id: uuid.UUID, scene_number: int) -> list[Scene]:
        ctx = info.context
        rows = await scenes.move_scene(ctx.db, ctx.uid, id, scene_number)
        return [Scene.from_row(r) for r in rows]

    @strawberry.mutation(
        description="With expectedUpdatedAt, a shot that has moved on is CONFLICT and nothing changes."
    )
    async def update_shot(
        self,
        info: Info,
        id: uuid.UUID,
        input: UpdateShotInput,
        expected_updated_at: datetime | None = strawberry.UNSET,
    ) -> Shot:
        ctx = info.context
        expected = _unset_is_none(expected_updated_at)
        row = await scenes.update_shot(ctx.db, ctx.uid, id, changes_of(input), expected)
        return Shot.from_row(row)

    @strawberry.mutation
    async def delete_shot(self, info: Info, id: uuid.UUID) -> DeletePayload:
        ctx = info.context
        return DeletePayload(id=await scenes.delete_shot(ctx.db, ctx.uid, id))

    @strawberry.mutation(
        description="Shot orders become 1..n in the order given; every shot of the scene exactly once."
    )
    async def reorder_shots(self, info: Info, scene_id: uuid.UUID, shot_ids: list[uuid.UUID]) -> list[Shot]:
        ctx = info.context
        rows = await scenes.reorder_shots(ctx.db, ctx.uid, scene_id, shot_ids)
        return [Shot.from_row(r) for r in rows]

    @strawberry.mutation(description="Deletes the asset with its instances (and so their assignments).")
    async def delete_project_asset(self, info: Info, id: uuid.UUID) -> DeletePayload:
        ctx = info.context
        return DeletePayload(id=await assets.delete_project_asset(ctx.db, ctx.uid, id))

    @strawberry.mutation(
        description="A new branch of the project with a deep copy of this one; the active branch stays."
    )
    async def fork_branch(self, info: Info, branch_id: uuid.UUID, name: str) -> Branch:
        ctx = info.context
        return Branch.from_row(await forks.fork_branch(ctx.db, ctx.uid, branch_id, name))

    @strawberry.mutation
    async def set_active_branch(self, info: Info, project_id: uuid.UUID, branch_id: uuid.UUID) -> Project:
        ctx = info.context
        return Project.from_row(await projects.set_active_branch(ctx.db, ctx.uid, project_id, branch_id))

    @strawberry.mutation(description="Creates the instance and its shot assignments in one transaction.")
    async def add_asset_to_scene(self, info: Info, input: AddAssetToSceneInput) -> SceneAssetInstance:
        ctx = info.context
        # Create-input nulls are omissions; a declared default (inheritFrom) applies to null.
        override = OMITTED if input.description_override in (None, strawberry.UNSET) else input.description_override
        tags = OMITTED if input.status_tags in (None, strawberry.UNSET) else input.status_tags
        inherit = _raw(input.inherit_from) or InheritFrom.LATEST.value
        row = await edits.add_asset_to_scene(
            ctx.db,
            ctx.uid,
            scene_id=input.scene_id,
            project_asset_id=input.project_asset_id,
            inherit_latest=inherit == InheritFrom.LATEST.value,
            description_override=override,
            status_tags=tags,
            shots=[ShotPresence(s.shot_id, _raw(s.presence_type) or "throughout") for s in input.shots or []],
        )
        return SceneAssetInstance.from_row(row)
