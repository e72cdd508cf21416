"""The continuity report's and readiness's pure rules: codes and their order, severities, the
message templates, the order warnings are listed in, and a shot's readiness blockers
(docs/continuity.md). Plain values in, plain values out: no database, no GraphQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.casting.frames import END_FRAME, START_FRAME, Casting, Transformation

INFO = "info"
WARNING = "warning"
ERROR = "error"
SEVERITIES = (INFO, WARNING, ERROR)

OUTDATED_INSTANCE = "outdated_instance"
STALE_IMAGE = "stale_image"
UNEXPLAINED_CHANGE = "unexplained_change"
UPSTREAM_CHANGED = "upstream_changed"
MISSING_IMAGE = "missing_image"
UNCAST_INSTANCE = "uncast_instance"
HANDOFF_MISMATCH = "handoff_mismatch"
STORY_DAY_REGRESSION = "story_day_regression"
# The order of the contract's enum: the last tie-breaker of the report's order.
CODES = (
    OUTDATED_INSTANCE,
    STALE_IMAGE,
    UNEXPLAINED_CHANGE,
    UPSTREAM_CHANGED,
    MISSING_IMAGE,
    UNCAST_INSTANCE,
    HANDOFF_MISMATCH,
    STORY_DAY_REGRESSION,
)
CODE_RANK = {code: n for n, code in enumerate(CODES)}

# Every code has one severity, except UNEXPLAINED_CHANGE (INFO across a new story day).
SEVERITY_OF = {
    OUTDATED_INSTANCE: WARNING,
    STALE_IMAGE: WARNING,
    UNEXPLAINED_CHANGE: WARNING,
    UPSTREAM_CHANGED: INFO,
    MISSING_IMAGE: WARNING,
    UNCAST_INSTANCE: INFO,
    HANDOFF_MISMATCH: WARNING,
    STORY_DAY_REGRESSION: INFO,
}

NO_ASSETS = "no_assets"
BLOCKER_MISSING_IMAGE = "missing_image"
PROMPTS_MISSING = "prompts_missing"
PROMPTS_STALE = "prompts_stale"
START_FRAME_MISSING = "start_frame_missing"
END_FRAME_MISSING = "end_frame_missing"
FRAMES_STALE = "frames_stale"
BLOCKERS = (
    NO_ASSETS,
    BLOCKER_MISSING_IMAGE,
    PROMPTS_MISSING,
    PROMPTS_STALE,
    START_FRAME_MISSING,
    END_FRAME_MISSING,
    FRAMES_STALE,
)


def at_least(severity: str, minimum: str) -> bool:
    """Whether a warning of `severity` is shown when the caller asks for `minimum` and above."""
    return SEVERITIES.index(severity) >= SEVERITIES.index(minimum)


# ---------------------------------------------------------------------------------------
# Message templates, one per code
#
# Defined once, as data: the loader path renders them here (`render`), the planner's statement
# renders the same templates in SQL (services.continuity.report.message_sql).

LIST_SEPARATOR = ", "
PART_SEPARATOR = "; "
HANDOFF_FIRST_SHOT = "handoff_first_shot"


@dataclass(frozen=True)
class Template:
    """Literal text with `{placeholders}`. The placeholder `{parts}` stands for those of `parts`
    whose condition value is set (a true flag, a non-empty list), joined by PART_SEPARATOR; a
    list value is joined by LIST_SEPARATOR."""

    text: str
    # (the value that includes the part, the part's own template)
    parts: tuple[tuple[str, str], ...] = ()


TEMPLATES: dict[str, Template] = {
    OUTDATED_INSTANCE: Template(
        "{asset}: the asset changed (version {version}) after this scene's state was taken "
        "from version {base_version}."
    ),
    STALE_IMAGE: Template("{asset}: the scene image was generated for another description or tags."),
    UNEXPLAINED_CHANGE: Template(
        "{asset}: changed since scene {source_scene} ({parts}) with no transformation event or reason.",
        (
            ("tags_added", "tags added: {tags_added}"),
            ("tags_removed", "tags removed: {tags_removed}"),
            ("description_changed", "description changed"),
            ("image_changed", "image changed"),
        ),
    ),
    UPSTREAM_CHANGED: Template(
        "{asset}: scene {parent_scene} changed after this scene took its state; propagate to bring it forward."
    ),
    MISSING_IMAGE: Template("{asset}: no reference image for shot {shot_label}."),
    UNCAST_INSTANCE: Template("{asset}: in scene {scene_number} but in none of its shots."),
    # `only_before`: in the previous shot's end frame but not at this shot's start;
    # `only_at_start`: the other way round. Both in asset order.
    HANDOFF_MISMATCH: Template(
        "Shot {shot_label}: {parts}.",
        (
            ("only_before", "{only_before} in the previous shot's end frame but not at the start"),
            ("only_at_start", "{only_at_start} at the start but not in it"),
        ),
    ),
    HANDOFF_FIRST_SHOT: Template("Shot {shot_label}: continues from a previous shot, but it is the first shot."),
    STORY_DAY_REGRESSION: Template(
        "Scene {scene_number}: story day {story_day} comes after story day {earlier_story_day} (a flashback?)."
    ),
}

# Where each placeholder's value is in a row of the report's read (services.continuity.report):
# template -> placeholder -> column.
ROW_VALUES: dict[str, dict[str, str]] = {
    OUTDATED_INSTANCE: {"asset": "asset", "version": "n1", "base_version": "n2"},
    STALE_IMAGE: {"asset": "asset"},
    UNEXPLAINED_CHANGE: {
        "asset": "asset",
        "source_scene": "n1",
        "tags_added": "list1",
        "tags_removed": "list2",
        "description_changed": "flag1",
        "image_changed": "flag2",
    },
    UPSTREAM_CHANGED: {"asset": "asset", "parent_scene": "n1"},
    MISSING_IMAGE: {"asset": "asset", "shot_label": "shot_label"},
    UNCAST_INSTANCE: {"asset": "asset", "scene_number": "scene_number"},
    HANDOFF_MISMATCH: {"shot_label": "shot_label", "only_before": "list1", "only_at_start": "list2"},
    HANDOFF_FIRST_SHOT: {"shot_label": "shot_label"},
    STORY_DAY_REGRESSION: {"scene_number": "scene_number", "story_day": "n1", "earlier_story_day": "n2"},
}

# A code whose row flag picks another template: (column, template).
VARIANTS: dict[str, tuple[str, str]] = {HANDOFF_MISMATCH: ("flag1", HANDOFF_FIRST_SHOT)}


def listed(items: Sequence[str]) -> str:
    return LIST_SEPARATOR.join(items)


def _text(value: Any) -> str:
    return listed(value) if isinstance(value, (list, tuple)) else str(value)


def render(template: Template, values: Mapping[str, Any]) -> str:
    """The template with its values (a missing list or flag is empty)."""
    parts = PART_SEPARATOR.join(
        part.format_map({k: _text(v) for k, v in values.items()})
        for condition, part in template.parts
        if values.get(condition)
    )
    return template.text.format_map({**{k: _text(v) for k, v in values.items()}, "parts": parts})


def message(name: str, **values: Any) -> str:
    return render(TEMPLATES[name], values)


def outdated_instance_message(asset: str, version: int, base_version: int) -> str:
    return message(OUTDATED_INSTANCE, asset=asset, version=version, base_version=base_version)


def stale_image_message(asset: str) -> str:
    return message(STALE_IMAGE, asset=asset)


def unexplained_change_message(
    asset: str,
    source_scene: int,
    *,
    tags_added: Sequence[str] = (),
    tags_removed: Sequence[str] = (),
    description_changed: bool = False,
    image_changed: bool = False,
) -> str:
    return message(
        UNEXPLAINED_CHANGE,
        asset=asset,
        source_scene=source_scene,
        tags_added=list(tags_added),
        tags_removed=list(tags_removed),
        description_changed=description_changed,
        image_changed=image_changed,
    )


def upstream_changed_message(asset: str, parent_scene: int) -> str:
    return message(UPSTREAM_CHANGED, asset=asset, parent_scene=parent_scene)


def missing_image_message(asset: str, shot_label: str) -> str:
    return message(MISSING_IMAGE, asset=asset, shot_label=shot_label)


def uncast_instance_message(asset: str, scene_number: int) -> str:
    return message(UNCAST_INSTANCE, asset=asset, scene_number=scene_number)


def handoff_mismatch_message(shot_label: str, only_before: Sequence[str], only_at_start: Sequence[str]) -> str:
    return message(HANDOFF_MISMATCH, shot_label=shot_label, only_before=list(only_before),
                   only_at_start=list(only_at_start))


def handoff_first_shot_message(shot_label: str) -> str:
    return message(HANDOFF_FIRST_SHOT, shot_label=shot_label)


def story_day_regression_message(scene_number: int, story_day: int, earlier_story_day: int) -> str:
    return message(STORY_DAY_REGRESSION, scene_number=scene_number, story_day=story_day,
                   earlier_story_day=earlier_story_day)


# ---------------------------------------------------------------------------------------
# Warnings and their order


@dataclass(frozen=True)
class ContinuityWarning:
    code: str
    severity: str
    message: str
    scene_id: uuid.UUID
    scene_number: int
    shot_id: uuid.UUID | None = None
    # Positions in Scene.shots order and in the scene's asset order (None: no shot / no instance).
    shot_rank: int | None = None
    scene_asset_instance_id: uuid.UUID | None = None
    instance_rank: int | None = None

    def sort_key(self) -> tuple[int, int, int, int]:
        """Scene number; without a shot first, then shot order; without an instance first, then
        asset order; then the code's order."""
        return (
            self.scene_number,
            NO_RANK if self.shot_rank is None else self.shot_rank,
            NO_RANK if self.instance_rank is None else self.instance_rank,
            CODE_RANK[self.code],
        )


# The rank of "no shot" / "no instance": before every position (ranks start at 1).
NO_RANK = -1


def in_report_order(warnings: Sequence[ContinuityWarning]) -> list[ContinuityWarning]:
    return sorted(warnings, key=ContinuityWarning.sort_key)


def template_of(row: Any) -> str:
    """Which template a row of the report's read takes."""
    code = row["code"]
    if code not in TEMPLATES:
        raise ValueError(f"unknown continuity warning code {code!r}")
    variant = VARIANTS.get(code)
    if variant is not None and row[variant[0]]:
        return variant[1]
    return str(code)


def message_of(row: Any) -> str:
    """A warning's message from one row of the report's read (services.continuity.report): a mapping of
    its columns."""
    name = template_of(row)
    return render(TEMPLATES[name], {key: row[column] for key, column in ROW_VALUES[name].items()})


# ---------------------------------------------------------------------------------------
# Readiness


def missing_images(
    cast: Sequence[Casting], transformations: Mapping[uuid.UUID, Transformation] | None = None
) -> list[Casting]:
    """The shot's assets that a frame's image list leaves out: a start-frame asset with no image,
    an end-frame asset with no image and no transformation post image. In cast order."""
    transformations = transformations or {}
    missing = []
    for casting in cast:
        image = casting.asset.image
        event = transformations.get(casting.asset.instance_id)
        end_image = (event.post_image if event is not None else None) or image
        if (casting.presence in START_FRAME and not image) or (casting.presence in END_FRAME and not end_image):
            missing.append(casting)
    return missing


def prompt_inputs(
    setting: str | None, action: str | None, camera: str | None, cast: Sequence[Casting]
) -> dict[str, Any]:
    """What a shot's prompts are written from (a prompt writer is told all of it): the shot as
    written and every asset of the shot with its presence, name, effective description and tags,
    in asset order. Stored by generateShotPrompts and compared with the same value now."""
    return {
        "setting": setting,
        "action": action,
        "camera": camera,
        "assets": [
            {
                "name": c.asset.name,
                "presence": c.presence,
                "effective_description": c.asset.effective_description,
                "status_tags": list(c.asset.status_tags),
            }
            for c in cast
        ],
    }


@dataclass(frozen=True)
class FrameJob:
    """The newest COMPLETED frame job of one kind: what it was made from."""

    reference_images: list[Any]
    prompt: str


@dataclass(frozen=True)
class ShotState:
    """Everything one shot's readiness reads, as plain values."""

    has_assets: bool
    missing_image: bool
    frame_prompt: str | None
    stored_start: list[Any]
    stored_end: list[Any]
    stored_inputs: Any
    start_now: list[Any]
    end_now: list[Any]
    inputs_now: dict[str, Any]
    # The job that gives the shot its start frame (the previous shot's END_FRAME for a
    # continuing shot), with the stored list and prompt it is compared against.
    start_job: FrameJob | None
    start_expected_list: list[Any]
    start_expected_prompt: str | None
    end_job: FrameJob | None


def blockers(state: ShotState) -> list[str]:
    """The shot's readiness blockers, in the contract's order; none means ready for video."""
    found = []
    if not state.has_assets:
        found.append(NO_ASSETS)
    if state.missing_image:
        found.append(BLOCKER_MISSING_IMAGE)
    has_prompts = bool(state.frame_prompt and state.frame_prompt.strip())
    if not has_prompts:
        found.append(PROMPTS_MISSING)
    elif (
        state.stored_start != state.start_now
        or state.stored_end != state.end_now
        or state.stored_inputs != state.inputs_now
    ):
        found.append(PROMPTS_STALE)
    if state.start_job is None:
        found.append(START_FRAME_MISSING)
    if state.end_job is None:
        found.append(END_FRAME_MISSING)
    start_stale = state.start_job is not None and (
        state.start_job.reference_images != state.start_expected_list
        or state.start_job.prompt != state.start_expected_prompt
    )
    end_stale = state.end_job is not None and (
        state.end_job.reference_images != state.stored_end or state.end_job.prompt != state.frame_prompt
    )
    if start_stale or end_stale:
        found.append(FRAMES_STALE)
    return found
