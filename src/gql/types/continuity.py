"""The continuity report, shot readiness and status-tag suggestions (docs/continuity.md)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gql.context import Info
from gql.loaders import handed_on
from services import continuity, warnings

if TYPE_CHECKING:
    from gql.loaders import Loaders
    from gql.types.instance import SceneAssetInstance
    from gql.types.scene import Scene, Shot

SceneT = Annotated["Scene", strawberry.lazy("gql.types.scene")]
ShotT = Annotated["Shot", strawberry.lazy("gql.types.scene")]
InstanceT = Annotated["SceneAssetInstance", strawberry.lazy("gql.types.instance")]


@strawberry.enum
class Severity(Enum):
    INFO = warnings.INFO
    WARNING = warnings.WARNING
    ERROR = warnings.ERROR


@strawberry.enum
class ContinuityWarningCode(Enum):
    OUTDATED_INSTANCE = warnings.OUTDATED_INSTANCE
    STALE_IMAGE = warnings.STALE_IMAGE
    UNEXPLAINED_CHANGE = warnings.UNEXPLAINED_CHANGE
    UPSTREAM_CHANGED = warnings.UPSTREAM_CHANGED
    MISSING_IMAGE = warnings.MISSING_IMAGE
    UNCAST_INSTANCE = warnings.UNCAST_INSTANCE
    HANDOFF_MISMATCH = warnings.HANDOFF_MISMATCH
    STORY_DAY_REGRESSION = warnings.STORY_DAY_REGRESSION


@strawberry.enum
class ReadinessBlocker(Enum):
    NO_ASSETS = warnings.NO_ASSETS
    MISSING_IMAGE = warnings.BLOCKER_MISSING_IMAGE
    PROMPTS_MISSING = warnings.PROMPTS_MISSING
    PROMPTS_STALE = warnings.PROMPTS_STALE
    START_FRAME_MISSING = warnings.START_FRAME_MISSING
    END_FRAME_MISSING = warnings.END_FRAME_MISSING
    FRAMES_STALE = warnings.FRAMES_STALE


@strawberry.type(description="One finding of the continuity report, computed from the current data.")
class ContinuityWarning:
    code: ContinuityWarningCode
    severity: Severity
    message: str
    scene_id: strawberry.Private[uuid.UUID]
    shot_id: strawberry.Private[uuid.UUID | None]
    scene_asset_instance_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_warning(cls, warning: warnings.ContinuityWarning) -> ContinuityWarning:
        return cls(
            code=warning.code,  # type: ignore[arg-type]
            severity=warning.severity,  # type: ignore[arg-type]
            message=warning.message,
            scene_id=warning.scene_id,
            shot_id=warning.shot_id,
            scene_asset_instance_id=warning.scene_asset_instance_id,
        )

    @strawberry.field
    def scene(self, info: Info) -> SceneT:
        return handed_on(info.context.loaders.one("scene").load(self.scene_id))

    @strawberry.field
    def shot(self, info: Info) -> ShotT | None:
        if self.shot_id is None:
            return None
        return handed_on(info.context.loaders.one("shot").load(self.shot_id))

    @strawberry.field
    def scene_asset_instance(self, info: Info) -> InstanceT | None:
        if self.scene_asset_instance_id is None:
            return None
        return handed_on(info.context.loaders.one("instance").load(self.scene_asset_instance_id))


@strawberry.type
class ShotReadiness:
    ready_for_video: bool
    blockers: list[ReadinessBlocker]


@strawberry.type
class TagSuggestion:
    tag: str
    uses: int


def _warnings_by(loaders: Loaders, scope: str) -> Any:
    async def batch(keys: list[uuid.UUID]) -> list[list[warnings.ContinuityWarning]]:
        async with loaders.db.transaction(loaders.uid) as conn:
            if scope == "scene":
                found = await continuity.read_warnings(conn, loaders.uid, scene_ids=keys)
            else:
                found = await continuity.read_warnings(conn, loaders.uid, branch_ids=keys)
        grouped: dict[uuid.UUID, list[warnings.ContinuityWarning]] = defaultdict(list)
        for scoped in found:
            key = scoped.warning.scene_id if scope == "scene" else scoped.branch_id
            grouped[key].append(scoped.warning)
        return [grouped.get(k, []) for k in keys]

    return batch


async def continuity_warnings(
    info: Info, scope: str, key: uuid.UUID, min_severity: Severity | str | None
) -> list[ContinuityWarning]:
    """`scope` is "scene" or "branch"; every scene (or branch) of one request shares one read."""
    minimum = warnings.INFO if min_severity is None else getattr(min_severity, "value", min_severity)
    minimum = continuity.severity(str(minimum))
    loaders = info.context.loaders
    found = await loaders.custom(f"warnings_of_{scope}", _warnings_by(loaders, scope)).load(key)
    return [ContinuityWarning.from_warning(w) for w in found if warnings.at_least(w.severity, minimum)]


def _readiness(loaders: Loaders) -> Any:
    async def batch(keys: list[uuid.UUID]) -> list[list[str]]:
        async with loaders.db.transaction(loaders.uid) as conn:
            found = await continuity.read_readiness(conn, loaders.uid, keys)
        return [found.get(k, [warnings.NO_ASSETS, warnings.PROMPTS_MISSING,
                              warnings.START_FRAME_MISSING, warnings.END_FRAME_MISSING]) for k in keys]

    return batch


async def shot_readiness(info: Info, shot_id: uuid.UUID) -> ShotReadiness:
    loaders = info.context.loaders
    found = await loaders.custom("readiness", _readiness(loaders)).load(shot_id)
    return ShotReadiness(ready_for_video=not found, blockers=list(found))


def _suggestions(loaders: Loaders) -> Any:
    async def batch(keys: list[tuple[uuid.UUID, str, int]]) -> list[list[continuity.TagSuggestion]]:
        async with loaders.db.transaction(loaders.uid) as conn:
            return await continuity.read_tag_suggestions(conn, loaders.uid, keys)

    return batch


async def status_tag_suggestions(
    info: Info, branch_id: uuid.UUID, prefix: str | None, first: int | None
) -> list[TagSuggestion]:
    prefix, first = continuity.suggestion_arguments(prefix, first)
    loaders = info.context.loaders
    found = await loaders.custom("tag_suggestions", _suggestions(loaders)).load((branch_id, prefix, first))
    return [TagSuggestion(tag=s.tag, uses=s.uses) for s in found]
