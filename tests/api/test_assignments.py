"""Shot asset assignments over the API: docs/casting.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.support import Client, gather
from tests.support.film import Film, new_film

ASSIGNMENT_FIELDS = "id presenceType createdAt updatedAt shot { id shotLabel } sceneAssetInstance { id projectAsset { name } }"
CREATE = f"""
mutation($s: UUID!, $a: [ShotAssignmentInput!]!) {{
  createShotAssetAssignments(sceneId: $s, assignments: $a) {{ {ASSIGNMENT_FIELDS} }}
}}
"""
UPDATE = f"""
mutation($id: UUID!, $p: PresenceType!, $at: DateTime) {{
  updateShotAssetAssignment(id: $id, presenceType: $p, expectedUpdatedAt: $at) {{ {ASSIGNMENT_FIELDS} }}
}}
"""
DELETE = "mutation($id: UUID!) { deleteShotAssetAssignment(id: $id) { id } }"
POPULATE = "mutation($s: UUID!) { autoPopulateShotAssignments(sceneId: $s) { created existing } }"
EVENT = """
mutation($i: TransformationEventInput!) {
  recordTransformationEvent(input: $i) { id postDescription postImageKeyUrl createdAt shot { id } sceneAssetInstance { id } }
}
"""
INHERIT = "mutation($s: UUID!) { inheritSceneAssets(sceneId: $s) { instances { id projectAsset { name } } } }"
STAGE = """
mutation($s: UUID!, $n: Int!, $st: StageStatus!) {
  setSceneStageStatus(sceneId: $s, stage: $n, status: $st) { id }
}
"""
LOCKS = "query($s: UUID!) { scene(id: $s) { stageLocks { stage status } } }"
IMAGE_FIELDS = "position sceneAssetInstanceId projectAssetId assetName assetType imageUrl"
FRAMES = f"""
query($id: UUID!) {{ shot(id: $id) {{ frameReferences {{
  startFrameManifest endFrameManifest presenceDirections usesLegacyFallback
  startFrameImages {{ {IMAGE_FIELDS} }} endFrameImages {{ {IMAGE_FIELDS} }}
  videoOnlyAssets {{ id presenceType sceneAssetInstance {{ projectAsset {{ name }} }} }}
}} }} }}
"""
SCENE_ASSIGNMENTS = """
query($s: UUID!) { scene(id: $s) {
  hasShotAssignments
  shotAssignments { id presenceType shot { shotLabel } sceneAssetInstance { projectAsset { name } } }
} }
"""

MARA_IMG = "https://img.example/mara.png"
TOWER_IMG = "https://img.example/tower.png"
ANCHOR_IMG = "https://img.example/anchor.png"


@dataclass
class Cast:
    """A film whose scene 1 has shots 1A, 1B, 1C and four inherited instances (Bo has no image)."""

    film: Film
    scene: str
    instances: dict[str, str] = field(default_factory=dict)

    @property
    def client(self) -> Client:
        return self.film.client

    def shot(self, label: str) -> str:
        return self.film.shots[label]


async def cast_film(client: Client, shots: tuple[str, ...] = ("1A", "1B", "1C")) -> Cast:
    film = await new_film(client)
    await film.asset("Mara", "CHARACTER", "An old keeper", image=MARA_IMG)
    await film.asset("bo", "CHARACTER", "A boy")
    await film.asset("Lighthouse", "LOCATION", "A white tower", image=TOWER_IMG)
    await film.asset("Anchor", "PROP", "A rusty anchor", image=ANCHOR_IMG)
    await film.lock_assets()
    scene = await film.scene(1)
    for n, label in enumerate(shots, start=1):
        await film.shot(1, label, n, setting="INT. LIGHTHOUSE", action=f"Action {label}", camera="Wide")
    data = await client.data(INHERIT, {"s": scene})
    instances = {i["projectAsset"]["name"]: i["id"] for i in data["inheritSceneAssets"]["instances"]}
    return Cast(film, scene, instances)


def entry(cast: Cast, shot: str, asset: str, presence: str | None = None) -> dict[str, Any]:
    given = {"shotId": cast.shot(shot), "sceneAssetInstanceId": cast.instances[asset]}
    if presence is not None:
        given["presenceType"] = presence
    return given


async def create(cast: Cast, *entries: dict[str, Any]) -> list[dict[str, Any]]:
    return (await cast.client.data(CREATE, {"s": cast.scene, "a": list(entries)}))["createShotAssetAssignments"]


async def frames_of(client: Client, shot_id: str) -> dict[str, Any]:
    return (await client.data(FRAMES, {"id": shot_id}))["shot"]["frameReferences"]


async def scene_assignments(client: Client, scene: str) -> dict[str, Any]:
    return (await client.data(SCENE_ASSIGNMENTS, {"s": scene}))["scene"]


async def lock_frame_stages(client: Client, scene: str) -> None:
    for stage, status in ((8, "LOCKED"), (9, "LOCKED"), (10, "DRAFT"), (11, "LOCKED"), (12, "LOCKED")):
        await client.data(STAGE, {"s": scene, "n": stage, "st": status})


async def locks(client: Client, scene: str) -> dict[int, str]:
    data = await client.data(LOCKS, {"s": scene})
    return {lock["stage"]: lock["status"] for lock in data["scene"]["stageLocks"]}


LOCKED = {8: "LOCKED", 9: "LOCKED", 10: "DRAFT", 11: "LOCKED", 12: "LOCKED"}
OUTDATED = {8: "LOCKED", 9: "OUTDATED", 10: "DRAFT", 11: "OUTDATED", 12: "OUTDATED"}


# ---- auto-populate and the legacy fallback -------------------------------------------------


async def test_auto_populate_counts_and_is_idempotent(alice: Client) -> None:
    cast = await cast_film(alice)
    assert (await scene_assignments(alice, cast.scene))["hasShotAssignments"] is False
    first = await alice.data(POPULATE, {"s": cast.scene})
    assert first["autoPopulateShotAssignments"] == {"created": 12, "existing": 0}
    again = await alice.data(POPULATE, {"s": cast.scene})
    assert again["autoPopulateShotAssignments"] == {"created": 0, "existing": 12}
    scene = await scene_assignments(alice, cast.scene)
    assert scene["hasShotAssignments"] is True
    assert {a["presenceType"] for a in scene["shotAssignments"]} == {"THROUGHOUT"}
    # Scene.shotAssignments: shot order, then asset order.
    assert [(a["shot"]["shotLabel"], a["sceneAssetInstance"]["projectAsset"]["name"]) for a in scene["shotAssignments"]] == [
        (shot, name) for shot in ("1A", "1B", "1C") for name in ("bo", "Mara", "Lighthouse", "Anchor")
    ]
    await alice.data(DELETE, {"id": scene["shotAssignments"][0]["id"]})
    await cast.film.shot(1, "1D", 4)
    refill = await alice.data(POPULATE, {"s": cast.scene})
    assert refill["autoPopulateShotAssignments"] == {"created": 5, "existing": 11}


async def test_auto_populate_of_a_scene_without_shots_or_instances_creates_nothing(alice: Client) -> None:
    film = await new_film(alice)
    scene = await film.scene(1)
    assert (await alice.data(POPULATE, {"s": scene}))["autoPopulateShotAssignments"] == {"created": 0, "existing": 0}
    await film.shot(1, "1A", 1)
    assert (await alice.data(POPULATE, {"s": scene}))["autoPopulateShotAssignments"] == {"created": 0, "existing": 0}
    # Nothing was created, so the scene is still under the legacy fallback.
    assert (await frames_of(alice, film.shots["1A"]))["usesLegacyFallback"] is True


async def test_legacy_fallback_counts_every_instance_throughout_until_assignments_exist(alice: Client) -> None:
    cast = await cast_film(alice)
    legacy = await frames_of(alice, cast.shot("1B"))
    assert legacy["usesLegacyFallback"] is True
    assert legacy["startFrameManifest"] == (
        "Image 1: Mara (character)\nImage 2: Lighthouse (location)\nImage 3: Anchor (prop)"
    )
    assert legacy["endFrameManifest"] == legacy["startFrameManifest"]
    assert legacy["presenceDirections"] == [] and legacy["videoOnlyAssets"] == []
    made = await create(cast, entry(cast, "1A", "Mara"))
    assert (await frames_of(alice, cast.shot("1B")))["usesLegacyFallback"] is False
    assert (await frames_of(alice, cast.shot("1B")))["startFrameImages"] == []  # no assignments in 1B
    # Once initialised, a scene stays so, even with all its assignments deleted.
    await alice.data(DELETE, {"id": made[0]["id"]})
    after = await frames_of(alice, cast.shot("1A"))
    assert after["usesLegacyFallback"] is False and after["startFrameImages"] == []
    assert (await scene_assignments(alice, cast.scene))["hasShotAssignments"] is False


# ---- create, update, delete ----------------------------------------------------------------


async def test_create_keeps_input_order_and_defaults_to_throughout(alice: Client) -> None:
    cast = await cast_film(alice)
    made = await create(
        cast,
        entry(cast, "1B", "Anchor", "EXITS"),
        entry(cast, "1A", "Mara"),
        entry(cast, "1B", "bo", "PASSES_THROUGH"),
        entry(cast, "1A", "Lighthouse", "ENTERS"),
    )
    assert [(a["shot"]["shotLabel"], a["sceneAssetInstance"]["projectAsset"]["name"], a["presenceType"]) for a in made] == [
        ("1B", "Anchor", "EXITS"), ("1A", "Mara", "THROUGHOUT"), ("1B", "bo", "PASSES_THROUGH"), ("1A", "Lighthouse", "ENTERS"),
    ]
    shot = await alice.data(
        "query($id: UUID!) { shot(id: $id) { assetAssignments { sceneAssetInstance { projectAsset { name } } } } }",
        {"id": cast.shot("1B")},
    )
    assert [a["sceneAssetInstance"]["projectAsset"]["name"] for a in shot["shot"]["assetAssignments"]] == ["bo", "Anchor"]
    instance = await alice.data(
        "query($id: UUID!) { sceneAssetInstance(id: $id) { shotAssignments { shot { shotLabel } } } }",
        {"id": cast.instances["Mara"]},
    )
    assert instance["sceneAssetInstance"]["shotAssignments"] == [{"shot": {"shotLabel": "1A"}}]
    assert (await alice.data(CREATE, {"s": cast.scene, "a": []}))["createShotAssetAssignments"] == []


async def test_an_empty_list_initialises_nothing(alice: Client) -> None:
    cast = await cast_film(alice)
    await lock_frame_stages(alice, cast.scene)
    assert await create(cast) == []
    assert (await frames_of(alice, cast.shot("1A")))["usesLegacyFallback"] is True
    assert await locks(alice, cast.scene) == LOCKED


async def test_cross_scene_and_duplicate_assignments_are_refused_with_nothing_written(alice: Client) -> None:
    cast = await cast_film(alice)
    other_scene = await cast.film.scene(2)
    other_shot = await cast.film.shot(2, "2A", 1)
    other_instances = (await alice.data(INHERIT, {"s": other_scene}))["inheritSceneAssets"]["instances"]
    good = entry(cast, "1A", "Mara")
    cases = [
        ([good, {"shotId": other_shot, "sceneAssetInstanceId": cast.instances["bo"]}], "BAD_USER_INPUT", "assignments[1]"),
        ([good, {"shotId": cast.shot("1A"), "sceneAssetInstanceId": other_instances[0]["id"]}], "BAD_USER_INPUT", "assignments[1]"),
        ([good, entry(cast, "1B", "bo"), entry(cast, "1A", "Mara", "EXITS")], "CONFLICT", "assignments[2]"),
    ]
    for given, code, named in cases:
        error = await alice.error(CREATE, {"s": cast.scene, "a": given})
        assert error["extensions"]["code"] == code, given
        assert named in error["message"], error["message"]
        scene = await scene_assignments(alice, cast.scene)
        assert scene == {"hasShotAssignments": False, "shotAssignments": []}
        assert (await frames_of(alice, cast.shot("1A")))["usesLegacyFallback"] is True
    # A pair that already exists.
    await create(cast, good)
    error = await alice.error(CREATE, {"s": cast.scene, "a": [entry(cast, "1C", "bo"), good]})
    assert error["extensions"]["code"] == "CONFLICT" and "assignments[1]" in error["message"]
    assert len((await scene_assignments(alice, cast.scene))["shotAssignments"]) == 1


async def test_errors_follow_spec_precedence_and_name_the_first_offending_entry(alice: Client) -> None:
    cast = await cast_film(alice)
    other_scene = await cast.film.scene(2)
    other_shot = await cast.film.shot(2, "2A", 1)
    await alice.data(INHERIT, {"s": other_scene})
    await create(cast, entry(cast, "1A", "Mara"))
    missing = "00000000-0000-4000-8000-00000000dead"
    taken = entry(cast, "1A", "Mara")
    foreign = {"shotId": other_shot, "sceneAssetInstanceId": cast.instances["bo"]}
    lost = {"shotId": missing, "sceneAssetInstanceId": cast.instances["bo"]}
    cases = [
        # NOT_FOUND beats a relation error and a conflict that come earlier in the list.
        ([taken, foreign, entry(cast, "1B", "bo"), lost], "NOT_FOUND", "assignments[3]"),
        # A relation error beats an earlier conflict.
        ([taken, entry(cast, "1B", "bo"), foreign], "BAD_USER_INPUT", "assignments[2]"),
        # Of two relation errors, the first is reported.
        ([entry(cast, "1B", "bo"), foreign, {**foreign, "sceneAssetInstanceId": cast.instances["Anchor"]}], "BAD_USER_INPUT", "assignments[1]"),
        ([entry(cast, "1B", "bo"), {"shotId": cast.shot("1B"), "sceneAssetInstanceId": missing}], "NOT_FOUND", "assignments[1]"),
    ]
    for given, code, named in cases:
        error = await alice.error(CREATE, {"s": cast.scene, "a": given})
        assert (error["extensions"]["code"], named in error["message"]) == (code, True), (given, error)
    # A missing scene is NOT_FOUND; the input's own shape (list size) comes even before that.
    assert await alice.code(CREATE, {"s": missing, "a": [taken]}) == "NOT_FOUND"
    assert await alice.code(CREATE, {"s": missing, "a": [taken] * 1001}) == "BAD_USER_INPUT"
    assert await alice.code(CREATE, {"s": cast.scene, "a": [{**taken, "presenceType": "SOMETIMES"}]}) == "BAD_USER_INPUT"
    assert await alice.code(CREATE, {"s": cast.scene, "a": [{**taken, "shotId": "not-a-uuid"}]}) == "BAD_USER_INPUT"
    assert len((await scene_assignments(alice, cast.scene))["shotAssignments"]) == 1


async def test_update_with_expected_updated_at_and_delete(alice: Client) -> None:
    cast = await cast_film(alice)
    [made] = await create(cast, entry(cast, "1A", "Mara"))
    same = (await alice.data(UPDATE, {"id": made["id"], "p": "THROUGHOUT", "at": made["updatedAt"]}))["updateShotAssetAssignment"]
    assert same == made  # the same presence changes nothing, not even updatedAt
    moved = (await alice.data(UPDATE, {"id": made["id"], "p": "ENTERS", "at": made["updatedAt"]}))["updateShotAssetAssignment"]
    assert moved["presenceType"] == "ENTERS" and moved["updatedAt"] > made["updatedAt"]
    assert moved["createdAt"] == made["createdAt"]
    stale = await alice.error(UPDATE, {"id": made["id"], "p": "EXITS", "at": made["updatedAt"]})
    assert stale["extensions"]["code"] == "CONFLICT"
    assert (await scene_assignments(alice, cast.scene))["shotAssignments"][0]["presenceType"] == "ENTERS"
    assert await alice.code(UPDATE, {"id": made["id"], "p": "EXITS", "at": "yesterday"}) == "BAD_USER_INPUT"
    missing = "00000000-0000-4000-8000-00000000dead"
    # NOT_FOUND comes before CONFLICT.
    assert await alice.code(UPDATE, {"id": missing, "p": "EXITS", "at": made["updatedAt"]}) == "NOT_FOUND"
    assert (await alice.data(DELETE, {"id": made["id"]}))["deleteShotAssetAssignment"] == {"id": made["id"]}
    assert await alice.code(DELETE, {"id": made["id"]}) == "NOT_FOUND"
    assert await alice.code(UPDATE, {"id": made["id"], "p": "EXITS"}) == "NOT_FOUND"


async def test_deleting_an_instance_takes_its_assignments_and_events(alice: Client) -> None:
    cast = await cast_film(alice)
    await alice.data(POPULATE, {"s": cast.scene})
    await alice.data(EVENT, {"i": {"shotId": cast.shot("1A"), "sceneAssetInstanceId": cast.instances["Mara"],
                                   "postDescription": "Soaked"}})
    await alice.data("mutation($id: UUID!) { deleteSceneAssetInstance(id: $id) { id } }", {"id": cast.instances["Mara"]})
    scene = await scene_assignments(alice, cast.scene)
    assert len(scene["shotAssignments"]) == 9
    events = await alice.data("query($id: UUID!) { shot(id: $id) { transformationEvents { id } } }", {"id": cast.shot("1A")})
    assert events["shot"]["transformationEvents"] == []


# ---- presence and frames --------------------------------------------------------------------


async def test_each_presence_shapes_frames_directions_and_video_only_assets(alice: Client) -> None:
    cast = await cast_film(alice)
    made = await create(
        cast,
        entry(cast, "1A", "Anchor", "EXITS"),
        entry(cast, "1A", "Lighthouse", "ENTERS"),
        entry(cast, "1A", "Mara", "THROUGHOUT"),
        entry(cast, "1A", "bo", "PASSES_THROUGH"),
    )
    refs = await frames_of(alice, cast.shot("1A"))
    assert refs["usesLegacyFallback"] is False
    assert refs["startFrameManifest"] == "Image 1: Mara (character)\nImage 2: Anchor (prop)"
    assert refs["endFrameManifest"] == "Image 1: Mara (character)\nImage 2: Lighthouse (location)"
    assert refs["startFrameImages"] == [
        {"position": 1, "sceneAssetInstanceId": cast.instances["Mara"], "projectAssetId": cast.film.assets["Mara"],
         "assetName": "Mara", "assetType": "CHARACTER", "imageUrl": MARA_IMG},
        {"position": 2, "sceneAssetInstanceId": cast.instances["Anchor"], "projectAssetId": cast.film.assets["Anchor"],
         "assetName": "Anchor", "assetType": "PROP", "imageUrl": ANCHOR_IMG},
    ]
    assert [e["imageUrl"] for e in refs["endFrameImages"]] == [MARA_IMG, TOWER_IMG]
    assert refs["presenceDirections"] == [
        "Midway through the shot, bo (A boy) passes through the frame.",
        "Lighthouse enters the frame.",
        "Anchor exits the frame.",
    ]
    assert refs["videoOnlyAssets"] == [
        {"id": made[3]["id"], "presenceType": "PASSES_THROUGH", "sceneAssetInstance": {"projectAsset": {"name": "bo"}}}
    ]


async def test_an_instance_image_wins_over_the_asset_image(alice: Client) -> None:
    cast = await cast_film(alice)
    own = "https://img.example/mara-muddy.png"
    await alice.data(
        "mutation($id: UUID!, $u: String) { updateSceneAssetInstance(id: $id, input: {imageKeyUrl: $u}) { id } }",
        {"id": cast.instances["Mara"], "u": own},
    )
    refs = await frames_of(alice, cast.shot("1A"))
    assert refs["startFrameImages"][0]["imageUrl"] == own


async def test_transformation_events_swap_the_end_frame_image_and_replace_each_other(alice: Client) -> None:
    cast = await cast_film(alice)
    await alice.data(POPULATE, {"s": cast.scene})
    wet = "https://img.example/mara-wet.png"
    given = {"shotId": cast.shot("1B"), "sceneAssetInstanceId": cast.instances["Mara"], "postDescription": "Soaked"}
    first = (await alice.data(EVENT, {"i": {**given, "postImageKeyUrl": wet}}))["recordTransformationEvent"]
    assert first["postImageKeyUrl"] == wet and first["shot"]["id"] == cast.shot("1B")
    refs = await frames_of(alice, cast.shot("1B"))
    assert refs["startFrameImages"][0]["imageUrl"] == MARA_IMG
    assert refs["endFrameImages"][0]["imageUrl"] == wet
    assert (await frames_of(alice, cast.shot("1A")))["endFrameImages"][0]["imageUrl"] == MARA_IMG
    # Recording again for the pair replaces the event.
    again = (await alice.data(EVENT, {"i": {**given, "postDescription": "Dried off"}}))["recordTransformationEvent"]
    assert again["id"] == first["id"] and again["postDescription"] == "Dried off" and again["postImageKeyUrl"] is None
    events = await alice.data(
        "query($id: UUID!) { shot(id: $id) { transformationEvents { id postDescription } } }", {"id": cast.shot("1B")}
    )
    assert events["shot"]["transformationEvents"] == [{"id": first["id"], "postDescription": "Dried off"}]
    assert (await frames_of(alice, cast.shot("1B")))["endFrameImages"][0]["imageUrl"] == MARA_IMG


async def test_transformation_events_are_checked(alice: Client) -> None:
    cast = await cast_film(alice)
    other_scene = await cast.film.scene(2)
    other_shot = await cast.film.shot(2, "2A", 1)
    await alice.data(INHERIT, {"s": other_scene})
    missing = "00000000-0000-4000-8000-00000000dead"
    base = {"shotId": cast.shot("1A"), "sceneAssetInstanceId": cast.instances["Mara"], "postDescription": "Soaked"}
    assert await alice.code(EVENT, {"i": {**base, "shotId": other_shot}}) == "BAD_USER_INPUT"
    assert await alice.code(EVENT, {"i": {**base, "shotId": missing}}) == "NOT_FOUND"
    assert await alice.code(EVENT, {"i": {**base, "sceneAssetInstanceId": missing}}) == "NOT_FOUND"
    assert await alice.code(EVENT, {"i": {**base, "postImageKeyUrl": "not a url"}}) == "BAD_USER_INPUT"
    assert await alice.code(EVENT, {"i": {**base, "postDescription": "x" * 10_001}}) == "BAD_USER_INPUT"
    # Shape before NOT_FOUND.
    assert await alice.code(EVENT, {"i": {**base, "shotId": missing, "postDescription": "\x00"}}) == "BAD_USER_INPUT"
    events = await alice.data("query($id: UUID!) { shot(id: $id) { transformationEvents { id } } }", {"id": cast.shot("1A")})
    assert events["shot"]["transformationEvents"] == []


# ---- invalidation -----------------------------------------------------------------------------


async def test_assignment_changes_outdate_locked_frame_stages_only(alice: Client) -> None:
    cast = await cast_film(alice)
    await alice.data(POPULATE, {"s": cast.scene})
    scene = await scene_assignments(alice, cast.scene)
    one = scene["shotAssignments"][0]

    async def relock() -> None:
        await lock_frame_stages(alice, cast.scene)
        assert await locks(alice, cast.scene) == LOCKED

    await relock()
    await alice.data(UPDATE, {"id": one["id"], "p": "THROUGHOUT"})  # same presence
    assert await locks(alice, cast.scene) == LOCKED
    await alice.data(UPDATE, {"id": one["id"], "p": "EXITS"})
    assert await locks(alice, cast.scene) == OUTDATED
    await relock()
    await alice.data(DELETE, {"id": one["id"]})
    assert await locks(alice, cast.scene) == OUTDATED
    await relock()
    await create(cast, entry(cast, "1A", "bo"))
    assert await locks(alice, cast.scene) == OUTDATED
    await relock()
    # A refused batch outdates nothing.
    assert await alice.code(CREATE, {"s": cast.scene, "a": [entry(cast, "1A", "bo")]}) == "CONFLICT"
    assert await locks(alice, cast.scene) == LOCKED


async def test_auto_populate_outdates_only_when_it_adds_to_existing_assignments(alice: Client) -> None:
    cast = await cast_film(alice)
    await lock_frame_stages(alice, cast.scene)
    # A first population reproduces the legacy fallback: prompts stay valid.
    assert (await alice.data(POPULATE, {"s": cast.scene}))["autoPopulateShotAssignments"]["created"] == 12
    assert await locks(alice, cast.scene) == LOCKED
    # Creating nothing outdates nothing.
    assert (await alice.data(POPULATE, {"s": cast.scene}))["autoPopulateShotAssignments"]["created"] == 0
    assert await locks(alice, cast.scene) == LOCKED
    # More assignments in a scene that had some: outdated.
    await cast.film.shot(1, "1D", 4)
    assert (await alice.data(POPULATE, {"s": cast.scene}))["autoPopulateShotAssignments"] == {"created": 4, "existing": 12}
    assert await locks(alice, cast.scene) == OUTDATED


async def test_transformation_events_outdate_when_recorded_or_changed(alice: Client) -> None:
    cast = await cast_film(alice)
    await lock_frame_stages(alice, cast.scene)
    given = {"shotId": cast.shot("1A"), "sceneAssetInstanceId": cast.instances["Mara"], "postDescription": "Soaked"}
    await alice.data(EVENT, {"i": given})
    assert await locks(alice, cast.scene) == OUTDATED
    await lock_frame_stages(alice, cast.scene)
    await alice.data(EVENT, {"i": given})  # the same event again: nothing changes
    assert await locks(alice, cast.scene) == LOCKED
    await alice.data(EVENT, {"i": {**given, "postImageKeyUrl": "https://img.example/wet.png"}})
    assert await locks(alice, cast.scene) == OUTDATED


async def test_instance_changes_outdate_frames_by_the_fallback_and_assignment_rules(alice: Client) -> None:
    cast = await cast_film(alice)
    await create(cast, entry(cast, "1A", "Mara"))
    await lock_frame_stages(alice, cast.scene)
    unassigned = cast.instances["Anchor"]
    # Initialised scene: deleting an instance with no assignments changes no frame.
    await alice.data("mutation($id: UUID!) { deleteSceneAssetInstance(id: $id) { id } }", {"id": unassigned})
    assert await locks(alice, cast.scene) == LOCKED
    await alice.data("mutation($id: UUID!) { deleteSceneAssetInstance(id: $id) { id } }", {"id": cast.instances["Mara"]})
    assert await locks(alice, cast.scene) == OUTDATED


# ---- another user's objects ---------------------------------------------------------------------


async def test_another_users_shots_and_assignments_are_invisible_and_untouchable(alice: Client, bob: Client) -> None:
    cast = await cast_film(alice)
    made = await create(cast, entry(cast, "1A", "Mara"), entry(cast, "1B", "bo", "ENTERS"))
    before = await scene_assignments(alice, cast.scene)
    assert (await bob.data(FRAMES, {"id": cast.shot("1A")}))["shot"] is None
    assert (await bob.data(SCENE_ASSIGNMENTS, {"s": cast.scene}))["scene"] is None
    assert (await bob.data("query($id: UUID!) { sceneAssetInstance(id: $id) { id } }", {"id": cast.instances["Mara"]}))[
        "sceneAssetInstance"
    ] is None
    assert await bob.code(CREATE, {"s": cast.scene, "a": [entry(cast, "1C", "Mara")]}) == "NOT_FOUND"
    assert await bob.code(UPDATE, {"id": made[0]["id"], "p": "EXITS"}) == "NOT_FOUND"
    assert await bob.code(DELETE, {"id": made[0]["id"]}) == "NOT_FOUND"
    assert await bob.code(POPULATE, {"s": cast.scene}) == "NOT_FOUND"
    assert await bob.code(EVENT, {"i": {"shotId": cast.shot("1A"), "sceneAssetInstanceId": cast.instances["Mara"],
                                        "postDescription": "x"}}) == "NOT_FOUND"
    assert await bob.code("mutation($s: UUID!) { generateShotPrompts(sceneId: $s) { id } }", {"s": cast.scene}) == "NOT_FOUND"
    assert await bob.code("mutation($s: UUID!) { generateShotFrames(shotId: $s) { id } }", {"s": cast.shot("1A")}) == "NOT_FOUND"
    # Bob's own scene, naming Alice's shot and instance: answered like missing ones.
    bobs = await cast_film(bob)
    error = await bob.error(CREATE, {"s": bobs.scene, "a": [entry(bobs, "1A", "Mara"), entry(cast, "1C", "Mara")]})
    assert error["extensions"]["code"] == "NOT_FOUND" and "assignments[1]" in error["message"]
    error = await bob.error(CREATE, {"s": bobs.scene, "a": [{"shotId": bobs.shot("1A"), "sceneAssetInstanceId": cast.instances["bo"]}]})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await bob.code(EVENT, {"i": {"shotId": bobs.shot("1A"), "sceneAssetInstanceId": cast.instances["Mara"],
                                        "postDescription": "x"}}) == "NOT_FOUND"
    assert await scene_assignments(alice, cast.scene) == before
    assert (await scene_assignments(bob, bobs.scene))["hasShotAssignments"] is False


async def test_concurrent_auto_populates_create_each_pair_once(alice: Client) -> None:
    cast = await cast_film(alice)
    results = await gather(*(alice.data(POPULATE, {"s": cast.scene}) for _ in range(6)))
    payloads = sorted((r["autoPopulateShotAssignments"]["created"], r["autoPopulateShotAssignments"]["existing"])
                      for r in results)
    assert payloads == [(0, 12)] * 5 + [(12, 0)]
    assert len((await scene_assignments(alice, cast.scene))["shotAssignments"]) == 12


async def test_auto_populating_an_emptied_scene_follows_spec_and_keeps_frames(alice: Client) -> None:
    """docs/casting.md (What outdates stages 9-12): auto-populate outdates only when the scene already had assignments. This scene had
    none left (though it left the legacy fallback), so nothing is outdated."""
    cast = await cast_film(alice)
    [made] = await create(cast, entry(cast, "1A", "Mara"))
    await alice.data(DELETE, {"id": made["id"]})
    await lock_frame_stages(alice, cast.scene)
    assert (await alice.data(POPULATE, {"s": cast.scene}))["autoPopulateShotAssignments"] == {"created": 12, "existing": 0}
    assert await locks(alice, cast.scene) == LOCKED


async def test_concurrent_writers_of_one_scene_never_deadlock(alice: Client) -> None:
    """Instance deletions (instance, then scene row) racing assignment writers (writer lock, then
    rows, scene row last) with locked frame stages: every request answers, none fails internally."""
    for _ in range(3):
        cast = await cast_film(alice)
        await lock_frame_stages(alice, cast.scene)
        made = await create(cast, entry(cast, "1A", "Mara"), entry(cast, "1B", "bo"), entry(cast, "1C", "Anchor"))
        requests = [
            alice.post("mutation($id: UUID!) { deleteSceneAssetInstance(id: $id) { id } }", {"id": cast.instances["Mara"]}),
            alice.post(POPULATE, {"s": cast.scene}),
            alice.post(UPDATE, {"id": made[0]["id"], "p": "EXITS"}),
            alice.post(DELETE, {"id": made[1]["id"]}),
            alice.post("mutation($id: UUID!) { deleteSceneAssetInstance(id: $id) { id } }", {"id": cast.instances["Anchor"]}),
            alice.post(CREATE, {"s": cast.scene, "a": [entry(cast, "1C", "Lighthouse", "ENTERS")]}),
            alice.post(EVENT, {"i": {"shotId": cast.shot("1A"), "sceneAssetInstanceId": cast.instances["Anchor"],
                                     "postDescription": "Bent"}}),
        ]
        results = await gather(*requests)
        codes = {r["errors"][0]["extensions"]["code"] for r in results if r.get("errors")}
        assert codes <= {"NOT_FOUND", "CONFLICT"}, results


async def test_racing_presence_edits_from_one_stale_view_one_wins(alice: Client) -> None:
    """Two people edit a shot's casting from the same view: one edit lands, the others are CONFLICT."""
    cast = await cast_film(alice)
    [made] = await create(cast, entry(cast, "1A", "Mara"))
    seen, landed = made["updatedAt"], made["presenceType"]
    for _ in range(3):
        # Every edit is a change: an edit to the presence already there changes nothing and
        # succeeds whatever ran before it, which would make two winners when it runs first.
        presence, other = [p for p in ("ENTERS", "EXITS", "PASSES_THROUGH", "THROUGHOUT") if p != landed][:2]
        results = await gather(*(alice.post(UPDATE, {"id": made["id"], "p": p, "at": seen})
                                 for p in (presence, presence, other)))
        winners = [r["data"]["updateShotAssetAssignment"] for r in results if not r.get("errors")]
        codes = [r["errors"][0]["extensions"]["code"] for r in results if r.get("errors")]
        assert len(winners) == 1 and codes == ["CONFLICT"] * 2, results
        seen, landed = winners[0]["updatedAt"], winners[0]["presenceType"]
    final = (await scene_assignments(alice, cast.scene))["shotAssignments"][0]
    assert final["presenceType"] == landed
