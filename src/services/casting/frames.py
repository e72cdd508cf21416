"""Frame references of a shot: which scene assets are in its start and end frames, the numbered
image manifests, and the presence directions of its video prompt (docs/casting.md).

Pure functions over plain values: no database, no GraphQL. The reads that feed them live in
`services.casting.assignments` (one batch per scene), and prompts are written from their results.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

THROUGHOUT = "throughout"
ENTERS = "enters"
EXITS = "exits"
PASSES_THROUGH = "passes_through"
PRESENCES = (THROUGHOUT, ENTERS, EXITS, PASSES_THROUGH)

START_FRAME = frozenset({THROUGHOUT, EXITS})
END_FRAME = frozenset({THROUGHOUT, ENTERS})

# The video-prompt sentence of each presence that has one, and one manifest line. The query
# planner builds the same strings in SQL from these templates (gql.planner.catalog), so the
# wording is written once.
DIRECTIONS: dict[str, str] = {
    ENTERS: "{name} enters the frame.",
    EXITS: "{name} exits the frame.",
    PASSES_THROUGH: "Midway through the shot, {name} ({description}) passes through the frame.",
}
MANIFEST_LINE = "Image {position}: {name} ({type})"

@dataclass(frozen=True)
class SceneAsset:
    """One scene asset instance, with what frames and prompts read of it and of its project asset.

    `rank` is its position in the scene's asset order. The database decides that order (its
    collation compares names), so every list built here follows the rank rather than re-sorting.
    """

    instance_id: uuid.UUID
    project_asset_id: uuid.UUID
    name: str
    asset_type: str
    effective_description: str
    status_tags: tuple[str, ...] = ()
    instance_image: str | None = None
    asset_image: str | None = None
    rank: int = 0

    @property
    def image(self) -> str | None:
        """The instance's image, else the project asset's."""
        return self.instance_image or self.asset_image

    @cached_property
    def ids(self) -> tuple[str, str]:
        """The instance's and the project asset's ids as text, made once (every shot of a scene
        lists the same assets)."""
        return str(self.instance_id), str(self.project_asset_id)


@dataclass(frozen=True)
class Casting:
    """One asset in one shot: how it appears, and its assignment (None under the legacy fallback)."""

    asset: SceneAsset
    presence: str
    assignment: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Transformation:
    """A transformation event of one instance in one shot."""

    instance_id: uuid.UUID
    post_description: str
    post_image: str | None = None


@dataclass(frozen=True)
class FrameReferences:
    start_images: list[dict[str, Any]]
    end_images: list[dict[str, Any]]
    start_manifest: str
    end_manifest: str
    video_only: list[Casting]
    directions: list[str]
    uses_legacy_fallback: bool
    # Every start-frame asset, with or without an image: what the frame prompt describes.
    start_assets: list[Casting] = field(default_factory=list)


def shot_cast(
    assets: Sequence[SceneAsset],
    assignments: Sequence[Mapping[str, Any]],
    *,
    initialized: bool,
) -> list[Casting]:
    """The shot's assets in asset order: its assignments, or every scene asset THROUGHOUT while
    the scene's assignments were never initialised (the legacy fallback)."""
    if not initialized:
        return [Casting(asset, THROUGHOUT) for asset in sorted(assets, key=lambda a: a.rank)]
    by_instance = {asset.instance_id: asset for asset in assets}
    cast = [
        Casting(by_instance[row["scene_asset_instance_id"]], row["presence_type"], row)
        for row in assignments
        if row["scene_asset_instance_id"] in by_instance
    ]
    return sorted(cast, key=lambda c: c.asset.rank)


def reference_entry(position: int, asset: SceneAsset, image_url: str) -> dict[str, Any]:
    """One entry of a stored reference list (snake_case keys, lower-case type)."""
    instance_id, project_asset_id = asset.ids
    return {
        "position": position,
        "scene_asset_instance_id": instance_id,
        "project_asset_id": project_asset_id,
        "asset_name": asset.name,
        "asset_type": asset.asset_type,
        "image_url": image_url,
    }


def start_frame_images(cast: Sequence[Casting]) -> list[dict[str, Any]]:
    """THROUGHOUT + EXITS assets that have an image, numbered from 1."""
    images: list[dict[str, Any]] = []
    for casting in cast:
        image = casting.asset.image
        if casting.presence in START_FRAME and image:
            images.append(reference_entry(len(images) + 1, casting.asset, image))
    return images


def end_frame_images(
    cast: Sequence[Casting], transformations: Mapping[uuid.UUID, Transformation] | None = None
) -> list[dict[str, Any]]:
    """THROUGHOUT + ENTERS assets, numbered from 1; a transformation's post image replaces the
    asset's image (and gives an imageless asset one)."""
    transformations = transformations or {}
    images: list[dict[str, Any]] = []
    for casting in cast:
        if casting.presence not in END_FRAME:
            continue
        event = transformations.get(casting.asset.instance_id)
        image = (event.post_image if event is not None else None) or casting.asset.image
        if image:
            images.append(reference_entry(len(images) + 1, casting.asset, image))
    return images


def manifest(images: Sequence[Mapping[str, Any]]) -> str:
    """`Image {position}: {name} ({type})`, one line per image; empty when there is none."""
    return "\n".join(
        MANIFEST_LINE.format(position=e["position"], name=e["asset_name"], type=e["asset_type"].lower())
        for e in images
    )


def presence_direction(casting: Casting) -> str | None:
    """The video-prompt sentence for one asset's presence, if it has one."""
    template = DIRECTIONS.get(casting.presence)
    if template is None:
        return None
    return template.format(name=casting.asset.name, description=casting.asset.effective_description)


def presence_directions(cast: Sequence[Casting]) -> list[str]:
    return [d for d in (presence_direction(c) for c in cast) if d is not None]


def frame_references(
    assets: Sequence[SceneAsset],
    assignments: Sequence[Mapping[str, Any]],
    transformations: Mapping[uuid.UUID, Transformation] | None = None,
    *,
    initialized: bool,
) -> FrameReferences:
    """Everything one shot's frames and video prompt take from its cast."""
    cast = shot_cast(assets, assignments, initialized=initialized)
    return frames_of_cast(cast, transformations, initialized=initialized)


def frames_of_cast(
    cast: Sequence[Casting],
    transformations: Mapping[uuid.UUID, Transformation] | None = None,
    *,
    initialized: bool,
) -> FrameReferences:
    """frame_references of a cast already built (shot_cast)."""
    start = start_frame_images(cast)
    end = end_frame_images(cast, transformations)
    return FrameReferences(
        start_images=start,
        end_images=end,
        start_manifest=manifest(start),
        end_manifest=manifest(end),
        video_only=[c for c in cast if c.presence == PASSES_THROUGH],
        directions=presence_directions(cast),
        uses_legacy_fallback=not initialized,
        start_assets=[c for c in cast if c.presence in START_FRAME],
    )


@dataclass
class SceneCast:
    """What the frames of every shot of one scene read, loaded once for the whole scene."""

    scene_id: uuid.UUID
    initialized: bool
    assets: list[SceneAsset] = field(default_factory=list)
    assignments: dict[uuid.UUID, list[Mapping[Any, Any]]] = field(default_factory=dict)
    transformations: dict[uuid.UUID, dict[uuid.UUID, Transformation]] = field(default_factory=dict)

    def cast_of(self, shot_id: uuid.UUID) -> list[Casting]:
        return shot_cast(self.assets, self.assignments.get(shot_id, ()), initialized=self.initialized)

    def frames_of(self, shot_id: uuid.UUID, cast: Sequence[Casting] | None = None) -> FrameReferences:
        """The shot's frame references (from `cast` when the caller built it already)."""
        return frames_of_cast(
            self.cast_of(shot_id) if cast is None else cast,
            self.transformations.get(shot_id),
            initialized=self.initialized,
        )
