"""Frame references and template prompts as pure functions (docs/casting.md), one
table per rule."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import Any

import pytest

from services.casting import frames, prompts
from services.casting.frames import SceneAsset, Transformation


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-4000-8000-{n:012d}")


MARA = SceneAsset(_id(1), _id(101), "Mara", "character", "An old keeper", ("muddy", "torn_shirt"),
                  None, "https://img/mara.png")
BO = SceneAsset(_id(2), _id(102), "bo", "character", "A boy", (), None, None)  # no image at all
TOWER = SceneAsset(_id(3), _id(103), "Lighthouse", "location", "A white tower", (), None, "https://img/tower.png")
ANCHOR = SceneAsset(_id(4), _id(104), "Anchor", "prop", "A rusty anchor", (),
                    "https://img/anchor-own.png", "https://img/anchor.png")
# In asset order, ranked as the database's read ranks them (tests/services/test_predicates.py
# checks the order itself); handed over shuffled, so lists must follow the rank.
CAST = [replace(a, rank=n) for n, a in enumerate([BO, MARA, TOWER, ANCHOR])][::-1]


def assignment(asset: SceneAsset, presence: str) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "scene_asset_instance_id": asset.instance_id, "presence_type": presence}


def refs(*given: tuple[SceneAsset, str], events: dict[uuid.UUID, Transformation] | None = None) -> frames.FrameReferences:
    return frames.frame_references(CAST, [assignment(a, p) for a, p in given], events, initialized=True)


def names(images: list[dict[str, Any]]) -> list[str]:
    return [e["asset_name"] for e in images]


@pytest.mark.parametrize(
    ("presence", "in_start", "in_end", "direction"),
    [
        ("throughout", True, True, None),
        ("enters", False, True, "Mara enters the frame."),
        ("exits", True, False, "Mara exits the frame."),
        ("passes_through", False, False,
         "Midway through the shot, Mara (An old keeper) passes through the frame."),
    ],
)
def test_each_presence_decides_frames_and_direction(
    presence: str, in_start: bool, in_end: bool, direction: str | None
) -> None:
    r = refs((MARA, presence))
    assert names(r.start_images) == (["Mara"] if in_start else [])
    assert names(r.end_images) == (["Mara"] if in_end else [])
    assert r.directions == ([direction] if direction else [])
    assert [c.asset.name for c in r.video_only] == (["Mara"] if presence == "passes_through" else [])
    assert [c.asset.name for c in r.start_assets] == (["Mara"] if in_start else [])
    assert r.uses_legacy_fallback is False


def test_lists_and_directions_follow_asset_order_whatever_the_assignment_order() -> None:
    r = refs((ANCHOR, "enters"), (TOWER, "throughout"), (MARA, "exits"), (BO, "enters"))
    assert names(r.start_images) == ["Mara", "Lighthouse"]
    assert names(r.end_images) == ["Lighthouse", "Anchor"]  # bo has no image
    assert r.directions == ["bo enters the frame.", "Mara exits the frame.", "Anchor enters the frame."]


@pytest.mark.parametrize(
    ("given", "start_manifest", "end_manifest"),
    [
        ((), "", ""),
        (((MARA, "throughout"),), "Image 1: Mara (character)", "Image 1: Mara (character)"),
        (
            ((BO, "throughout"), (MARA, "throughout"), (TOWER, "exits"), (ANCHOR, "enters")),
            "Image 1: Mara (character)\nImage 2: Lighthouse (location)",
            "Image 1: Mara (character)\nImage 2: Anchor (prop)",
        ),
        (((BO, "throughout"),), "", ""),
    ],
)
def test_manifests_number_each_list_from_one(
    given: tuple[tuple[SceneAsset, str], ...], start_manifest: str, end_manifest: str
) -> None:
    r = refs(*given)
    assert r.start_manifest == start_manifest
    assert r.end_manifest == end_manifest
    assert [e["position"] for e in r.start_images] == list(range(1, len(r.start_images) + 1))
    assert [e["position"] for e in r.end_images] == list(range(1, len(r.end_images) + 1))


def test_image_is_the_instance_image_else_the_asset_image_and_entries_are_stored_shape() -> None:
    r = refs((ANCHOR, "throughout"), (TOWER, "throughout"))
    assert r.start_images == [
        {"position": 1, "scene_asset_instance_id": str(TOWER.instance_id), "project_asset_id": str(TOWER.project_asset_id),
         "asset_name": "Lighthouse", "asset_type": "location", "image_url": "https://img/tower.png"},
        {"position": 2, "scene_asset_instance_id": str(ANCHOR.instance_id), "project_asset_id": str(ANCHOR.project_asset_id),
         "asset_name": "Anchor", "asset_type": "prop", "image_url": "https://img/anchor-own.png"},
    ]


def test_an_imageless_asset_stays_in_prompts_and_directions() -> None:
    r = refs((BO, "throughout"), (MARA, "throughout"))
    assert names(r.start_images) == ["Mara"]
    assert [c.asset.name for c in r.start_assets] == ["bo", "Mara"]
    r = refs((BO, "passes_through"))
    assert r.directions == ["Midway through the shot, bo (A boy) passes through the frame."]


@pytest.mark.parametrize(
    ("presence", "event", "start", "end"),
    [
        # A post image swaps in at the end frame only.
        ("throughout", Transformation(MARA.instance_id, "Soaked", "https://img/wet.png"),
         ["https://img/mara.png"], ["https://img/wet.png"]),
        ("enters", Transformation(MARA.instance_id, "Soaked", "https://img/wet.png"), [], ["https://img/wet.png"]),
        # Without a post image the asset keeps its image.
        ("throughout", Transformation(MARA.instance_id, "Soaked", None), ["https://img/mara.png"], ["https://img/mara.png"]),
        # Not in the end frame: nothing to swap.
        ("exits", Transformation(MARA.instance_id, "Soaked", "https://img/wet.png"), ["https://img/mara.png"], []),
        ("passes_through", Transformation(MARA.instance_id, "Soaked", "https://img/wet.png"), [], []),
    ],
)
def test_transformation_events_layer_on_the_end_frame(
    presence: str, event: Transformation, start: list[str], end: list[str]
) -> None:
    r = refs((MARA, presence), events={MARA.instance_id: event})
    assert [e["image_url"] for e in r.start_images] == start
    assert [e["image_url"] for e in r.end_images] == end


def test_a_post_image_gives_an_imageless_asset_an_end_frame_image() -> None:
    r = refs((BO, "throughout"), events={BO.instance_id: Transformation(BO.instance_id, "Grown", "https://img/bo.png")})
    assert names(r.start_images) == []
    assert r.end_manifest == "Image 1: bo (character)"


def test_legacy_fallback_counts_every_scene_asset_throughout() -> None:
    r = frames.frame_references(CAST, [], None, initialized=False)
    assert r.uses_legacy_fallback is True
    assert names(r.start_images) == names(r.end_images) == ["Mara", "Lighthouse", "Anchor"]
    assert r.directions == [] and r.video_only == []
    assert [c.asset.name for c in r.start_assets] == ["bo", "Mara", "Lighthouse", "Anchor"]


def test_an_initialised_shot_without_assignments_has_no_assets() -> None:
    r = frames.frame_references(CAST, [], None, initialized=True)
    assert (r.start_images, r.end_images, r.start_manifest, r.directions, r.uses_legacy_fallback) == ([], [], "", [], False)


def brief(r: frames.FrameReferences, **shot: Any) -> prompts.ShotBrief:
    fields = {"setting": "INT. LIGHTHOUSE - NIGHT", "action": "Mara climbs the stairs.", "camera": "Low angle", **shot}
    return prompts.ShotBrief(shot_id=_id(50), shot_label="1A", shot_order=1, duration_seconds=4, frames=r, **fields)


def test_template_frame_prompt_names_start_frame_assets_only() -> None:
    r = refs((MARA, "throughout"), (BO, "exits"), (TOWER, "enters"), (ANCHOR, "passes_through"))
    [written] = asyncio.run(prompts.TemplatePromptWriter().write([brief(r)]))
    assert written.frame_prompt == (
        "INT. LIGHTHOUSE - NIGHT\nMara climbs the stairs.\nLow angle\n"
        "bo (character): A boy\n"
        "Mara (character): An old keeper [status: muddy, torn_shirt]"
    )
    assert "Lighthouse" not in written.frame_prompt and "Anchor" not in written.frame_prompt


def test_template_video_prompt_carries_every_direction_verbatim() -> None:
    r = refs((MARA, "throughout"), (BO, "exits"), (TOWER, "enters"), (ANCHOR, "passes_through"))
    [written] = asyncio.run(prompts.TemplatePromptWriter().write([brief(r, camera=None)]))
    assert written.video_prompt == (
        "Mara climbs the stairs.\n"
        "bo exits the frame.\n"
        "Lighthouse enters the frame.\n"
        "Midway through the shot, Anchor (A rusty anchor) passes through the frame."
    )
    for direction in r.directions:
        assert direction in written.video_prompt


def test_load_writer_defaults_to_the_template_and_refuses_a_bad_spec() -> None:
    assert isinstance(prompts.load_writer(None), prompts.TemplatePromptWriter)
    assert isinstance(prompts.load_writer("services.casting.prompts:TemplatePromptWriter"), prompts.TemplatePromptWriter)
    with pytest.raises(ValueError):
        prompts.load_writer("no-colon")
    with pytest.raises(TypeError):
        prompts.load_writer("builtins:object")
