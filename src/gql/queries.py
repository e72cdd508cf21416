"""Query roots: the viewer, and objects by id (null when missing or another user's)."""

from __future__ import annotations

import uuid

import strawberry

from gql.context import Info
from gql.types.images import ImageJob
from gql.types.instances import SceneAssetInstance
from gql.types.projects import Branch, Project, Viewer
from gql.types.scenes import Scene, Shot


@strawberry.type
class Query:
    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        return Viewer(user_id=uuid.UUID(info.context.uid))

    @strawberry.field
    async def project(self, info: Info, id: uuid.UUID) -> Project | None:
        return await info.context.loaders.one("project").load(id)

    @strawberry.field
    async def branch(self, info: Info, id: uuid.UUID) -> Branch | None:
        return await info.context.loaders.one("branch").load(id)

    @strawberry.field
    async def scene(self, info: Info, id: uuid.UUID) -> Scene | None:
        return await info.context.loaders.one("scene").load(id)

    @strawberry.field
    async def scene_asset_instance(self, info: Info, id: uuid.UUID) -> SceneAssetInstance | None:
        return await info.context.loaders.one("instance").load(id)

    @strawberry.field
    async def shot(self, info: Info, id: uuid.UUID) -> Shot | None:
        return await info.context.loaders.one("shot").load(id)

    @strawberry.field
    async def image_job(self, info: Info, id: uuid.UUID) -> ImageJob | None:
        return await info.context.loaders.one("image_job").load(id)
