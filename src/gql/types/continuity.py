"""The continuity report, shot readiness and status-tag suggestions (docs/continuity.md)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gql.context import Info
from gql.relations import RelationName, registered
from services.continuity import report, rules
from services.db import reads

if TYPE_CHECKING:
    from gql.loaders import Loaders
    from gql.types.instances import SceneAssetInstance
    from gql.types.scenes import Scene, Shot

SceneT = Annotated["Scene", strawberry.lazy("gql.types.scenes")]
ShotT = Annotated["Shot", strawberry.lazy("gql.types.scenes")]
InstanceT = Annotated["SceneAssetInstance", strawberry.lazy("gql.types.instances")]


@strawberry.enum
class Severity(Enum):
    INFO = rules.INFO
    WARNING = rules.WARNING
    ERROR = rules.ERROR


@strawberry.enum
class ContinuityWarningCode(Enum):
    OUTDATED_INSTANCE = rules.OUTDATED_INSTANCE
    STALE_IMAGE = rules.STALE_IMAGE
    UNEXPLAINED_CHANGE = rules.UNEXPLAINED_CHANGE
    UPSTREAM_CHANGED = rules.UPSTREAM_CHANGED
    MISSING_IMAGE = rules.MISSING_IMAGE
    UNCAST_INSTANCE = rules.UNCAST_INSTANCE
    HANDOFF_MISMATCH = rules.HANDOFF_MISMATCH
    STORY_DAY_REGRESSION = rules.STORY_DAY_REGRESSION


@strawberry.enum
class ReadinessBlocker(Enum):
    NO_ASSETS = rules.NO_ASSETS
    MISSING_IMAGE = rules.BLOCKER_MISSING_IMAGE
    PROMPTS_MISSING = rules.PROMPTS_MISSING
    PROMPTS_STALE = rules.PROMPTS_STALE
    START_FRAME_MISSING = rules.START_FRAME_MISSING
    END_FRAME_MISSING = rules.END_FRAME_MISSING
    FRAMES_STALE = rules.FRAMES_STALE


@strawberry.type(description="One finding of the continuity report, computed from the current data.")
class ContinuityWarning:
    # Plain attributes, objects included: the batch that computes the warnings also reads their
    # scenes, shots and instances, so a report of thousands of warnings completes without a
    # resolver call (or a loader round) per warning.
    code: ContinuityWarningCode
    severity: Severity
    message: str
    scene: SceneT
    shot: ShotT | None
    scene_asset_instance: InstanceT | None


@strawberry.type
class ShotReadiness:
    ready_for_video: bool
    blockers: list[ReadinessBlocker]


@strawberry.type
class TagSuggestion:
    tag: str
    uses: int


# The rows the warnings point at, read in the warnings' own transaction: (relation, GraphQL type).
_TARGETS: dict[str, RelationName] = {"scene": "scene", "shot": "shot", "instance": "instance"}


def _warnings_by(loaders: Loaders, scope: str) -> Any:
    async def batch(keys: list[uuid.UUID]) -> list[list[ContinuityWarning]]:
        async with loaders.db.transaction(loaders.uid) as conn:
            if scope == "scene":
                found = await report.read_warnings(conn, loaders.uid, scene_ids=keys)
            else:
                found = await report.read_warnings(conn, loaders.uid, branch_ids=keys)
            wanted = {
                "scene": {s.warning.scene_id for s in found},
                "shot": {s.warning.shot_id for s in found if s.warning.shot_id},
                "instance": {s.warning.scene_asset_instance_id for s in found if s.warning.scene_asset_instance_id},
            }
            rows = {
                kind: await reads.read_many(conn, loaders.uid, _TARGETS[kind], list(ids)) if ids else {}
                for kind, ids in wanted.items()
            }
        objects: dict[str, dict[uuid.UUID, Any]] = {}
        for kind, grouped in rows.items():
            relation = _TARGETS[kind]
            build, by_id = registered(relation).build, loaders.one(relation)
            objects[kind] = {}
            for ident, found_rows in grouped.items():
                obj = objects[kind][ident] = build(found_rows[0])
                by_id.prime(ident, obj)
        grouped_warnings: dict[uuid.UUID, list[ContinuityWarning]] = defaultdict(list)
        for scoped in found:
            w = scoped.warning
            key = w.scene_id if scope == "scene" else scoped.branch_id
            grouped_warnings[key].append(
                ContinuityWarning(
                    code=w.code,  # type: ignore[arg-type]
                    severity=w.severity,  # type: ignore[arg-type]
                    message=w.message,
                    scene=objects["scene"][w.scene_id],
                    shot=objects["shot"][w.shot_id] if w.shot_id else None,
                    scene_asset_instance=(
                        objects["instance"][w.scene_asset_instance_id] if w.scene_asset_instance_id else None
                    ),
                )
            )
        return [grouped_warnings.get(k, []) for k in keys]

    return batch


async def continuity_warnings(
    info: Info, scope: str, key: uuid.UUID, min_severity: Severity | str | None
) -> list[ContinuityWarning]:
    """`scope` is "scene" or "branch"; every scene (or branch) of one request shares one read."""
    minimum = rules.INFO if min_severity is None else getattr(min_severity, "value", min_severity)
    minimum = report.severity(str(minimum))
    loaders = info.context.loaders
    found = await loaders.custom(f"warnings_of_{scope}", _warnings_by(loaders, scope)).load(key)
    return [w for w in found if rules.at_least(str(w.severity), minimum)]


def _readiness(loaders: Loaders) -> Any:
    async def batch(keys: list[uuid.UUID]) -> list[list[str]]:
        async with loaders.db.transaction(loaders.uid) as conn:
            found = await report.read_readiness(conn, loaders.uid, keys)
        # A shot deleted by another request between this request's reads has nothing left.
        gone = [rules.NO_ASSETS, rules.PROMPTS_MISSING, rules.START_FRAME_MISSING, rules.END_FRAME_MISSING]
        return [found.get(k, gone) for k in keys]

    return batch


async def shot_readiness(info: Info, shot_id: uuid.UUID) -> ShotReadiness:
    loaders = info.context.loaders
    found = await loaders.custom("readiness", _readiness(loaders)).load(shot_id)
    return ShotReadiness(ready_for_video=not found, blockers=list(found))


def _suggestions(loaders: Loaders) -> Any:
    async def batch(keys: list[tuple[uuid.UUID, str, int]]) -> list[list[report.TagSuggestion]]:
        async with loaders.db.transaction(loaders.uid) as conn:
            return await report.read_tag_suggestions(conn, loaders.uid, keys)

    return batch


async def status_tag_suggestions(
    info: Info, branch_id: uuid.UUID, prefix: str | None, first: int | None
) -> list[TagSuggestion]:
    prefix, first = report.suggestion_arguments(prefix, first)
    loaders = info.context.loaders
    found = await loaders.custom("tag_suggestions", _suggestions(loaders)).load((branch_id, prefix, first))
    return [TagSuggestion(tag=s.tag, uses=s.uses) for s in found]
