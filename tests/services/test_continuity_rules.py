"""The continuity report's pure rules: message templates, order, severities, readiness blockers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.casting.frames import Casting, SceneAsset, Transformation
from services.continuity import rules as w

MESSAGES: list[tuple[str, str]] = [
    (
        w.outdated_instance_message("Mara", 3, 1),
        "Mara: the asset changed (version 3) after this scene's state was taken from version 1.",
    ),
    (w.stale_image_message("Mara"), "Mara: the scene image was generated for another description or tags."),
    (
        w.unexplained_change_message("Mara", 2, tags_added=["muddy", "Wet"]),
        "Mara: changed since scene 2 (tags added: muddy, Wet) with no transformation event or reason.",
    ),
    (
        w.unexplained_change_message(
            "Mara", 4, tags_added=["a"], tags_removed=["b", "c"], description_changed=True, image_changed=True
        ),
        "Mara: changed since scene 4 (tags added: a; tags removed: b, c; description changed; image changed)"
        " with no transformation event or reason.",
    ),
    (
        w.unexplained_change_message("Lamp", 1, image_changed=True),
        "Lamp: changed since scene 1 (image changed) with no transformation event or reason.",
    ),
    (
        w.upstream_changed_message("Tom", 5),
        "Tom: scene 5 changed after this scene took its state; propagate to bring it forward.",
    ),
    (w.missing_image_message("bo", "1A"), "bo: no reference image for shot 1A."),
    (w.uncast_instance_message("Anchor", 7), "Anchor: in scene 7 but in none of its shots."),
    (
        w.handoff_mismatch_message("2B", ["Mara", "Tom"], ["Anchor"]),
        "Shot 2B: Mara, Tom in the previous shot's end frame but not at the start; Anchor at the start but not in it.",
    ),
    (
        w.handoff_mismatch_message("2B", ["Mara"], []),
        "Shot 2B: Mara in the previous shot's end frame but not at the start.",
    ),
    (w.handoff_mismatch_message("2B", [], ["Anchor"]), "Shot 2B: Anchor at the start but not in it."),
    (w.handoff_first_shot_message("1A"), "Shot 1A: continues from a previous shot, but it is the first shot."),
    (
        w.story_day_regression_message(6, 1, 3),
        "Scene 6: story day 1 comes after story day 3 (a flashback?).",
    ),
]


@pytest.mark.parametrize(("message", "expected"), MESSAGES)
def test_every_message_follows_its_template(message: str, expected: str) -> None:
    assert message == expected


def _row(code: str, **values: Any) -> dict[str, Any]:
    base = {"code": code, "asset": "Mara", "shot_label": "1A", "scene_number": 3, "n1": None, "n2": None,
            "list1": None, "list2": None, "flag1": None, "flag2": None}
    return {**base, **values}


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (_row(w.OUTDATED_INSTANCE, n1=2, n2=1), w.outdated_instance_message("Mara", 2, 1)),
        (_row(w.STALE_IMAGE), w.stale_image_message("Mara")),
        (_row(w.UNEXPLAINED_CHANGE, n1=2, list1=["x"], flag1=True),
         w.unexplained_change_message("Mara", 2, tags_added=["x"], description_changed=True)),
        (_row(w.UPSTREAM_CHANGED, n1=2), w.upstream_changed_message("Mara", 2)),
        (_row(w.MISSING_IMAGE), w.missing_image_message("Mara", "1A")),
        (_row(w.UNCAST_INSTANCE), w.uncast_instance_message("Mara", 3)),
        (_row(w.HANDOFF_MISMATCH, flag1=True), w.handoff_first_shot_message("1A")),
        (_row(w.HANDOFF_MISMATCH, flag1=False, list1=["Tom"], list2=[]), w.handoff_mismatch_message("1A", ["Tom"], [])),
        (_row(w.STORY_DAY_REGRESSION, n1=1, n2=2), w.story_day_regression_message(3, 1, 2)),
    ],
)
def test_rows_of_the_report_read_become_their_messages(row: dict[str, Any], expected: str) -> None:
    assert w.message_of(row) == expected


def test_unknown_codes_are_refused() -> None:
    with pytest.raises(ValueError):
        w.message_of(_row("nonsense"))


@pytest.mark.parametrize(
    ("severity", "minimum", "shown"),
    [
        (w.INFO, w.INFO, True),
        (w.WARNING, w.INFO, True),
        (w.INFO, w.WARNING, False),
        (w.WARNING, w.WARNING, True),
        (w.WARNING, w.ERROR, False),
        (w.ERROR, w.WARNING, True),
    ],
)
def test_min_severity_shows_that_severity_and_above(severity: str, minimum: str, shown: bool) -> None:
    assert w.at_least(severity, minimum) is shown


def test_every_code_has_a_severity_and_codes_keep_the_contract_order() -> None:
    assert set(w.SEVERITY_OF) == set(w.CODES)
    assert w.CODES[0] == w.OUTDATED_INSTANCE and w.CODES[-1] == w.STORY_DAY_REGRESSION


def _warning(code: str, scene: int, shot: int | None = None, instance: int | None = None) -> w.ContinuityWarning:
    return w.ContinuityWarning(
        code=code, severity=w.SEVERITY_OF[code], message="", scene_id=uuid.uuid4(), scene_number=scene,
        shot_rank=shot, instance_rank=instance,
    )


def test_report_order_is_scene_then_shot_then_instance_then_code() -> None:
    expected = [
        _warning(w.STORY_DAY_REGRESSION, 1),
        _warning(w.OUTDATED_INSTANCE, 1, instance=1),
        _warning(w.STALE_IMAGE, 1, instance=1),
        _warning(w.UNCAST_INSTANCE, 1, instance=1),
        _warning(w.OUTDATED_INSTANCE, 1, instance=2),
        _warning(w.HANDOFF_MISMATCH, 1, shot=1),
        _warning(w.MISSING_IMAGE, 1, shot=1, instance=1),
        _warning(w.MISSING_IMAGE, 1, shot=1, instance=3),
        _warning(w.MISSING_IMAGE, 1, shot=2, instance=1),
        _warning(w.OUTDATED_INSTANCE, 2, instance=1),
    ]
    assert w.in_report_order(list(reversed(expected))) == expected


def _asset(name: str, image: str | None = None, asset_image: str | None = None) -> SceneAsset:
    return SceneAsset(uuid.uuid4(), uuid.uuid4(), name, "character", f"{name} now", (), image, asset_image)


def test_missing_images_look_at_each_frame_an_asset_is_in() -> None:
    no_image, with_image, asset_image = _asset("a"), _asset("b", "https://i/b"), _asset("c", None, "https://i/c")
    cast = [
        Casting(no_image, "throughout"),
        Casting(with_image, "exits"),
        Casting(asset_image, "enters"),
        Casting(_asset("d"), "passes_through"),
    ]
    assert [c.asset.name for c in w.missing_images(cast)] == ["a"]
    # A post image fills the end frame only: a THROUGHOUT asset still lacks its start image.
    event = {no_image.instance_id: Transformation(no_image.instance_id, "after", "https://i/post")}
    assert [c.asset.name for c in w.missing_images(cast, event)] == ["a"]
    entering = _asset("e")
    event = {entering.instance_id: Transformation(entering.instance_id, "after", "https://i/post")}
    assert w.missing_images([Casting(entering, "enters")], event) == []
    assert [c.asset.name for c in w.missing_images([Casting(entering, "enters")])] == ["e"]


READY = w.ShotState(
    has_assets=True, missing_image=False, frame_prompt="p", stored_start=[1], stored_end=[2],
    stored_inputs={"x": 1}, start_now=[1], end_now=[2], inputs_now={"x": 1},
    start_job=w.FrameJob([1], "p"), start_expected_list=[1], start_expected_prompt="p",
    end_job=w.FrameJob([2], "p"),
)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"has_assets": False}, [w.NO_ASSETS]),
        ({"missing_image": True}, [w.BLOCKER_MISSING_IMAGE]),
        ({"frame_prompt": None}, [w.PROMPTS_MISSING, w.FRAMES_STALE]),
        ({"frame_prompt": "  ", "start_job": None, "end_job": None},
         [w.PROMPTS_MISSING, w.START_FRAME_MISSING, w.END_FRAME_MISSING]),
        ({"start_now": [9]}, [w.PROMPTS_STALE]),
        ({"end_now": [9]}, [w.PROMPTS_STALE]),
        ({"inputs_now": {"x": 2}}, [w.PROMPTS_STALE]),
        ({"stored_inputs": None}, [w.PROMPTS_STALE]),
        ({"start_job": None}, [w.START_FRAME_MISSING]),
        ({"end_job": None}, [w.END_FRAME_MISSING]),
        ({"start_job": w.FrameJob([9], "p")}, [w.FRAMES_STALE]),
        ({"start_job": w.FrameJob([1], "old")}, [w.FRAMES_STALE]),
        ({"end_job": w.FrameJob([9], "p")}, [w.FRAMES_STALE]),
        ({"end_job": w.FrameJob([2], "old")}, [w.FRAMES_STALE]),
        ({"start_expected_list": [7]}, [w.FRAMES_STALE]),
        ({"has_assets": False, "missing_image": True, "start_now": [], "start_job": None},
         [w.NO_ASSETS, w.BLOCKER_MISSING_IMAGE, w.PROMPTS_STALE, w.START_FRAME_MISSING]),
    ],
)
def test_blockers_come_in_the_contract_order(changes: dict[str, Any], expected: list[str]) -> None:
    from dataclasses import replace

    assert w.blockers(replace(READY, **changes)) == expected
