"""The continuity report, shot readiness and status-tag suggestions over the API
(docs/continuity.md): a small film per code that triggers it and one that does not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg

from bench.film import standard_film
from tests.api.test_assignments import (
    ANCHOR_IMG,
    CREATE,
    EVENT,
    INHERIT,
    MARA_IMG,
    Cast,
    cast_film,
    create,
    entry,
)
from tests.api.test_image_jobs import generate, wait_completed
from tests.support import Client, asyncpg_dsn
from tests.support.film import new_film

WARNING_FIELDS = "code severity message scene { sceneNumber } shot { shotLabel } sceneAssetInstance { projectAsset { name } }"
REPORT = f"""
query($b: UUID!, $m: Severity) {{ branch(id: $b) {{ continuityReport(minSeverity: $m) {{ {WARNING_FIELDS} }} }} }}
"""
SCENE_WARNINGS = f"""
query($s: UUID!, $m: Severity) {{ scene(id: $s) {{ continuityWarnings(minSeverity: $m) {{ {WARNING_FIELDS} }} }} }}
"""
READINESS = "query($id: UUID!) { shot(id: $id) { readiness { readyForVideo blockers } } }"
SUGGEST = """
query($b: UUID!, $p: String, $f: Int) { branch(id: $b) { statusTagSuggestions(prefix: $p, first: $f) { tag uses } } }
"""
UPDATE_INSTANCE = """
mutation($id: UUID!, $i: UpdateSceneAssetInstanceInput!) { updateSceneAssetInstance(id: $id, input: $i) { id } }
"""
UPDATE_ASSET = "mutation($id: UUID!, $i: UpdateProjectAssetInput!) { updateProjectAsset(id: $id, input: $i) { version } }"
RESYNC = "mutation($id: UUID!) { resyncSceneAssetInstance(id: $id) { id } }"
PROMPTS = "mutation($s: UUID!) { generateShotPrompts(sceneId: $s) { id } }"
FRAMES = "mutation($id: UUID!) { generateShotFrames(shotId: $id) { id jobType } }"
DELETE_ASSIGNMENT = "mutation($id: UUID!) { deleteShotAssetAssignment(id: $id) { id } }"


CREATE_SCENE_4 = 'mutation($b: UUID!) { createScene(input: {branchId: $b, sceneNumber: 4, slug: "after"}) { id } }'
INSTANCES = "query($s: UUID!) { scene(id: $s) { assetInstances { id } } }"
BENCH = Path(__file__).resolve().parents[2] / "bench"
BENCH_QUERY = (BENCH / "queries" / "continuity_report.graphql").read_text()
FLOOR_SQL = (BENCH / "floor" / "continuity_report.sql").read_text().partition("\n")[2]


def brief(warning: dict[str, Any]) -> tuple[Any, ...]:
    """(code, severity, scene, shot, asset, message)"""
    shot = warning["shot"]["shotLabel"] if warning["shot"] else None
    instance = warning["sceneAssetInstance"]
    asset = instance["projectAsset"]["name"] if instance else None
    return (warning["code"], warning["severity"], warning["scene"]["sceneNumber"], shot, asset, warning["message"])


async def report(client: Client, branch: str, minimum: str | None = None, codes: set[str] | None = None) -> list[tuple[Any, ...]]:
    data = await client.data(REPORT, {"b": branch, "m": minimum})
    found = [brief(w) for w in data["branch"]["continuityReport"]]
    return [w for w in found if codes is None or w[0] in codes]


async def scene_warnings(client: Client, scene: str, minimum: str | None = None) -> list[tuple[Any, ...]]:
    data = await client.data(SCENE_WARNINGS, {"s": scene, "m": minimum})
    return [brief(w) for w in data["scene"]["continuityWarnings"]]


async def readiness(client: Client, shot: str) -> list[str]:
    found = (await client.data(READINESS, {"id": shot}))["shot"]["readiness"]
    assert found["readyForVideo"] is (found["blockers"] == [])
    return list(found["blockers"])


async def set_instance(client: Client, instance: str, **given: Any) -> None:
    await client.data(UPDATE_INSTANCE, {"id": instance, "i": given})


# ---- OUTDATED_INSTANCE ----------------------------------------------------------------------


async def test_an_asset_changed_after_the_scene_took_its_state_is_outdated_until_resynced(alice: Client) -> None:
    cast = await cast_film(alice, shots=())
    assert await report(alice, cast.film.branch_id, codes={"OUTDATED_INSTANCE"}) == []
    await alice.data(UPDATE_ASSET, {"id": cast.film.assets["Mara"], "i": {"description": "An older keeper"}})
    await alice.data(UPDATE_ASSET, {"id": cast.film.assets["Mara"], "i": {"description": "The oldest keeper"}})
    assert await report(alice, cast.film.branch_id, codes={"OUTDATED_INSTANCE"}) == [
        ("OUTDATED_INSTANCE", "WARNING", 1, None, "Mara",
         "Mara: the asset changed (version 3) after this scene's state was taken from version 1."),
    ]
    await alice.data(RESYNC, {"id": cast.instances["Mara"]})
    assert await report(alice, cast.film.branch_id, codes={"OUTDATED_INSTANCE"}) == []


# ---- STALE_IMAGE ----------------------------------------------------------------------------


async def test_a_generated_image_goes_stale_when_the_description_or_tags_move_on(alice: Client, server: Any) -> None:
    cast = await cast_film(alice, shots=())
    await cast.film.lock_style()
    mara = cast.instances["Mara"]
    await set_instance(alice, mara, statusTags=["muddy"])
    await wait_completed(alice, server, (await generate(alice, mara))["id"])
    # Made for exactly this description and these tags: not stale.
    assert await report(alice, cast.film.branch_id, codes={"STALE_IMAGE"}) == []
    await set_instance(alice, mara, statusTags=["muddy", "bloody"])
    stale = [("STALE_IMAGE", "WARNING", 1, None, "Mara", "Mara: the scene image was generated for another description or tags.")]
    assert await report(alice, cast.film.branch_id, codes={"STALE_IMAGE"}) == stale
    await set_instance(alice, mara, statusTags=["muddy"])
    assert await report(alice, cast.film.branch_id, codes={"STALE_IMAGE"}) == []
    await set_instance(alice, mara, descriptionOverride="A keeper, soaked")
    assert await report(alice, cast.film.branch_id, codes={"STALE_IMAGE"}) == stale
    # An own image no job made (set by hand) is never called stale.
    await set_instance(alice, mara, imageKeyUrl="https://img.example/by-hand.png")
    assert await report(alice, cast.film.branch_id, codes={"STALE_IMAGE"}) == []


# ---- MISSING_IMAGE and UNCAST_INSTANCE ------------------------------------------------------


async def test_assets_without_any_image_are_missing_per_shot_in_shot_order(alice: Client) -> None:
    cast = await cast_film(alice, shots=("1B", "1A"))  # 1B comes first in shot order
    # Legacy fallback: every instance in every shot; bo has no image at all.
    assert await report(alice, cast.film.branch_id) == [
        ("MISSING_IMAGE", "WARNING", 1, label, "bo", f"bo: no reference image for shot {label}.")
        for label in ("1B", "1A")
    ]
    # A post image of a transformation fills the end frame only: ENTERS with one is complete.
    await create(cast, entry(cast, "1B", "bo", "ENTERS"), entry(cast, "1A", "bo", "PASSES_THROUGH"),
                 entry(cast, "1B", "Mara"), entry(cast, "1A", "Mara"),
                 entry(cast, "1A", "Lighthouse"), entry(cast, "1B", "Anchor"))
    await alice.data(EVENT, {"i": {"shotId": cast.shot("1B"), "sceneAssetInstanceId": cast.instances["bo"],
                                   "postDescription": "A boy, soaked", "postImageKeyUrl": ANCHOR_IMG}})
    assert await report(alice, cast.film.branch_id) == []
    # The bootstrap copied the asset's image into the instance: both have to go.
    await alice.data(UPDATE_ASSET, {"id": cast.film.assets["Mara"], "i": {"imageKeyUrl": None}})
    await set_instance(alice, cast.instances["Mara"], imageKeyUrl=None)
    assert await report(alice, cast.film.branch_id, codes={"MISSING_IMAGE"}) == [
        ("MISSING_IMAGE", "WARNING", 1, label, "Mara", f"Mara: no reference image for shot {label}.")
        for label in ("1B", "1A")
    ]
    # The instance's own image covers it again.
    await set_instance(alice, cast.instances["Mara"], imageKeyUrl=MARA_IMG)
    assert await report(alice, cast.film.branch_id, codes={"MISSING_IMAGE"}) == []


async def test_an_instance_in_none_of_the_shots_of_an_initialised_scene_is_uncast(alice: Client) -> None:
    cast = await cast_film(alice, shots=("1A",))
    assert await report(alice, cast.film.branch_id, codes={"UNCAST_INSTANCE"}) == []  # the legacy fallback
    made = await create(cast, entry(cast, "1A", "Mara"), entry(cast, "1A", "Lighthouse"))
    assert await report(alice, cast.film.branch_id, codes={"UNCAST_INSTANCE"}) == [
        ("UNCAST_INSTANCE", "INFO", 1, None, "bo", "bo: in scene 1 but in none of its shots."),
        ("UNCAST_INSTANCE", "INFO", 1, None, "Anchor", "Anchor: in scene 1 but in none of its shots."),
    ]
    for assignment in made:
        await alice.data(DELETE_ASSIGNMENT, {"id": assignment["id"]})
    assert len(await report(alice, cast.film.branch_id, codes={"UNCAST_INSTANCE"})) == 4


async def test_a_scene_without_shots_has_no_uncast_instances(alice: Client) -> None:
    film = await new_film(alice)
    await film.asset("Mara", image=MARA_IMG)
    await film.lock_assets()
    await film.scene(1)
    await alice.data(INHERIT, {"s": film.scenes[1]})
    assert await report(alice, film.branch_id) == []


# ---- order, minSeverity, scope, authorization -----------------------------------------------


async def _two_scene_film(client: Client) -> Cast:
    cast = await cast_film(client, shots=("1A",))
    await create(cast, entry(cast, "1A", "bo"))  # bo has no image; the others are uncast
    await client.data(UPDATE_ASSET, {"id": cast.film.assets["Lighthouse"], "i": {"description": "A grey tower"}})
    await cast.film.scene(2)
    await client.data(INHERIT, {"s": cast.film.scenes[2]})
    await cast.film.shot(2, "2A", 1)
    return cast


async def test_warnings_are_ordered_by_scene_shot_instance_and_code_and_filtered_by_severity(alice: Client) -> None:
    cast = await _two_scene_film(alice)
    everything = await report(alice, cast.film.branch_id, codes={"OUTDATED_INSTANCE", "MISSING_IMAGE", "UNCAST_INSTANCE"})
    assert [(w[0], w[2], w[3], w[4]) for w in everything] == [
        ("UNCAST_INSTANCE", 1, None, "Mara"),
        ("OUTDATED_INSTANCE", 1, None, "Lighthouse"),
        ("UNCAST_INSTANCE", 1, None, "Lighthouse"),
        ("UNCAST_INSTANCE", 1, None, "Anchor"),
        ("MISSING_IMAGE", 1, "1A", "bo"),
        ("OUTDATED_INSTANCE", 2, None, "Lighthouse"),
        ("MISSING_IMAGE", 2, "2A", "bo"),
    ]
    warnings_only = await report(alice, cast.film.branch_id, "WARNING", codes={"OUTDATED_INSTANCE", "MISSING_IMAGE", "UNCAST_INSTANCE"})
    assert warnings_only == [w for w in everything if w[1] == "WARNING"]
    assert await report(alice, cast.film.branch_id, "ERROR") == []
    # null takes the default (INFO).
    assert await report(alice, cast.film.branch_id, None) == await report(alice, cast.film.branch_id, "INFO")
    # A scene's own warnings are the report's of that scene.
    full = await report(alice, cast.film.branch_id)
    assert await scene_warnings(alice, cast.film.scenes[2]) == [w for w in full if w[2] == 2]
    assert await scene_warnings(alice, cast.film.scenes[1], "WARNING") == [
        w for w in full if w[2] == 1 and w[1] == "WARNING"
    ]


async def test_another_users_branch_scene_and_shot_answer_null(alice: Client, bob: Client) -> None:
    cast = await _two_scene_film(alice)
    assert (await bob.data(REPORT, {"b": cast.film.branch_id}))["branch"] is None
    assert (await bob.data(SCENE_WARNINGS, {"s": cast.scene}))["scene"] is None
    assert (await bob.data(READINESS, {"id": cast.shot("1A")}))["shot"] is None
    assert (await bob.data(SUGGEST, {"b": cast.film.branch_id}))["branch"] is None
    assert await report(alice, cast.film.branch_id) != []


async def test_minimum_severity_is_an_enum(alice: Client) -> None:
    cast = await cast_film(alice, shots=())
    assert await alice.code(REPORT, {"b": cast.film.branch_id, "m": "LOUD"}) == "BAD_USER_INPUT"


# ---- statement counts -----------------------------------------------------------------------

DEEP_REPORT = f"""
query($b: UUID!) {{ branch(id: $b) {{
  continuityReport {{ {WARNING_FIELDS} }}
  scenes {{ sceneNumber continuityWarnings(minSeverity: WARNING) {{ code message }}
           shots {{ shotLabel readiness {{ readyForVideo blockers }} }} }}
  statusTagSuggestions(prefix: "m", first: 5) {{ tag uses }}
}} }}
"""


async def _bench_film(database_url: str, owner: str, scenes: int, assets: int) -> tuple[str, int]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with conn.transaction():
            film = await standard_film(conn, owner, scenes=scenes, assets=assets, shots=3, title="Counted")
            # Some outdated instances, so the report has rows to build.
            await conn.execute("update project_assets set description = description || '!' where branch_id = $1",
                               film.branch_id)
    finally:
        await conn.close()
    return film.branch_id, scenes


async def test_the_report_readiness_and_suggestions_cost_the_same_statements_at_any_size(
    alice: Client, database_url: str, statements: Any
) -> None:
    counts = []
    planned = []
    sizes = []
    for scenes, assets in ((3, 4), (12, 10)):
        branch, _ = await _bench_film(database_url, alice.user_id or "", scenes, assets)
        statements.take()
        data = await alice.data(DEEP_REPORT, {"b": branch})
        counts.append(statements.take())
        sizes.append(len(data["branch"]["continuityReport"]))
        assert len(data["branch"]["scenes"]) == scenes
        # The benchmark's report: planned whole, the claims and one statement.
        await alice.data(BENCH_QUERY, {"id": branch})
        planned.append(statements.take())
    assert sizes[1] > sizes[0] > 0
    print(f"warnings {sizes}: statements {counts}, planned {planned}")
    assert counts[0] == counts[1], counts
    assert planned == [2, 2], planned


# ---- readiness through a shot's life --------------------------------------------------------


async def test_readiness_through_a_shots_life(alice: Client, server: Any) -> None:
    film = await new_film(alice)
    await film.asset("Mara", "CHARACTER", "An old keeper", image=MARA_IMG)
    await film.asset("bo", "CHARACTER", "A boy")
    await film.asset("Anchor", "PROP", "A rusty anchor", image=ANCHOR_IMG)
    await film.lock_assets()
    await film.lock_style()
    scene = await film.scene(1)
    shot = await film.shot(1, "1A", 1, setting="A pier", action="Mara waits", camera="Wide")
    other = await film.shot(1, "1B", 2, setting="A pier", action="Mara turns", camera="Close")
    instances = {i["projectAsset"]["name"]: i["id"] for i in
                 (await alice.data(INHERIT, {"s": scene}))["inheritSceneAssets"]["instances"]}
    frames_missing = ["START_FRAME_MISSING", "END_FRAME_MISSING"]

    await alice.data(CREATE, {"s": scene, "a": [{"shotId": other, "sceneAssetInstanceId": instances["Mara"]}]})
    assert await readiness(alice, shot) == ["NO_ASSETS", "PROMPTS_MISSING", *frames_missing]

    await alice.data(CREATE, {"s": scene, "a": [{"shotId": shot, "sceneAssetInstanceId": instances["bo"]}]})
    assert await readiness(alice, shot) == ["MISSING_IMAGE", "PROMPTS_MISSING", *frames_missing]

    await set_instance(alice, instances["bo"], imageKeyUrl="https://img.example/bo.png")
    assert await readiness(alice, shot) == ["PROMPTS_MISSING", *frames_missing]

    await alice.data(PROMPTS, {"s": scene})
    assert await readiness(alice, shot) == frames_missing

    # An assignment change: the stored lists no longer match the frames now.
    await alice.data(CREATE, {"s": scene, "a": [{"shotId": shot, "sceneAssetInstanceId": instances["Mara"],
                                                  "presenceType": "ENTERS"}]})
    assert await readiness(alice, shot) == ["PROMPTS_STALE", *frames_missing]
    await alice.data(PROMPTS, {"s": scene})
    assert await readiness(alice, shot) == frames_missing

    # An input change that leaves the image lists alone: an asset's description.
    await set_instance(alice, instances["Mara"], descriptionOverride="Mara, soaked")
    assert await readiness(alice, shot) == ["PROMPTS_STALE", *frames_missing]
    await alice.data(PROMPTS, {"s": scene})
    # An asset that is not in the shot changes nothing of its prompts.
    await set_instance(alice, instances["Anchor"], statusTags=["rusty"])
    assert await readiness(alice, shot) == frames_missing

    jobs = (await alice.data(FRAMES, {"id": shot}))["generateShotFrames"]
    assert await readiness(alice, shot) == frames_missing  # queued is not made
    for job in jobs:
        await wait_completed(alice, server, job["id"])
    assert await readiness(alice, shot) == []
    assert (await alice.data(READINESS, {"id": shot}))["shot"]["readiness"]["readyForVideo"] is True

    # A scene image completes for bo: the frames now would use it.
    await wait_completed(alice, server, (await generate(alice, instances["bo"]))["id"])
    assert await readiness(alice, shot) == ["PROMPTS_STALE"]
    await alice.data(PROMPTS, {"s": scene})
    assert await readiness(alice, shot) == ["FRAMES_STALE"]
    for job in (await alice.data(FRAMES, {"id": shot}))["generateShotFrames"]:
        await wait_completed(alice, server, job["id"])
    assert await readiness(alice, shot) == []


# ---- status-tag suggestions -----------------------------------------------------------------


async def test_tag_suggestions_count_instances_ignore_case_and_match_the_prefix_literally(alice: Client, bob: Client) -> None:
    film = await new_film(alice)
    names = ["Ann", "Ben", "Cat", "Dan", "Eve"]
    for name in names:
        await film.asset(name)
    await film.lock_assets()
    await film.scene(1)
    instances = {i["projectAsset"]["name"]: i["id"] for i in
                 (await alice.data(INHERIT, {"s": film.scenes[1]}))["inheritSceneAssets"]["instances"]}
    tags = {
        "Ann": ["muddy", "wet"],
        "Ben": ["Muddy"],
        "Cat": ["muddy", "mud_%"],
        "Dan": ["mud_x", "Wet"],
        "Eve": ["mudax"],
    }
    for name, given in tags.items():
        await set_instance(alice, instances[name], statusTags=given)

    async def suggest(prefix: str | None = None, first: int | None = None) -> list[tuple[str, int]]:
        data = await alice.data(SUGGEST, {"b": film.branch_id, "p": prefix, "f": first})
        return [(s["tag"], s["uses"]) for s in data["branch"]["statusTagSuggestions"]]

    everything = await suggest()
    assert everything[0] == ("muddy", 3)  # muddy x2 beats Muddy x1
    assert ("Wet", 2) in everything  # a tie: the smallest spelling in byte order
    assert sorted(everything) == sorted([("muddy", 3), ("Wet", 2), ("mud_%", 1), ("mud_x", 1), ("mudax", 1)])
    assert await suggest("MUD", 1) == [("muddy", 3)]
    # `_` and `%` are not wildcards.
    assert sorted(await suggest("mud_")) == [("mud_%", 1), ("mud_x", 1)]
    assert await suggest("MUD_%") == [("mud_%", 1)]
    assert await suggest("%") == []
    assert await suggest("w") == [("Wet", 2)]
    assert await suggest("", 100) == everything
    assert await suggest("x" * 64) == []
    for prefix, first in (("x" * 65, 10), ("m", 0), ("m", 101), ("m\x00", 10)):
        assert await alice.code(SUGGEST, {"b": film.branch_id, "p": prefix, "f": first}) == "BAD_USER_INPUT"
    assert (await bob.data(SUGGEST, {"b": film.branch_id}))["branch"] is None


# ---- HANDOFF_MISMATCH -----------------------------------------------------------------------

UPDATE_SHOT = "mutation($id: UUID!, $i: UpdateShotInput!) { updateShot(id: $id, input: $i) { id } }"
UPDATE_SCENE = "mutation($id: UUID!, $i: UpdateSceneInput!) { updateScene(id: $id, input: $i) { id } }"


async def test_a_continuing_shot_must_start_with_what_the_previous_shot_ends_with(alice: Client) -> None:
    cast = await cast_film(alice, shots=("1A", "1B", "1C"))
    made = await create(
        cast,
        entry(cast, "1A", "Mara"), entry(cast, "1A", "bo", "ENTERS"), entry(cast, "1A", "Anchor", "EXITS"),
        entry(cast, "1B", "Mara"), entry(cast, "1B", "Lighthouse", "EXITS"), entry(cast, "1B", "Anchor", "ENTERS"),
        entry(cast, "1C", "Mara"), entry(cast, "1C", "Anchor"),
    )
    handoffs = {"HANDOFF_MISMATCH"}
    assert await report(alice, cast.film.branch_id, codes=handoffs) == []  # nothing continues yet
    await alice.data(UPDATE_SHOT, {"id": cast.shot("1B"), "i": {"continuesFromPrevious": True}})
    # 1A ends with Mara and bo (Anchor exits); 1B starts with Mara and Lighthouse (Anchor enters).
    assert await report(alice, cast.film.branch_id, codes=handoffs) == [
        ("HANDOFF_MISMATCH", "WARNING", 1, "1B", None,
         "Shot 1B: bo in the previous shot's end frame but not at the start; Lighthouse at the start but not in it."),
    ]
    # 1B ends with Mara and Anchor, exactly what 1C starts with.
    await alice.data(UPDATE_SHOT, {"id": cast.shot("1C"), "i": {"continuesFromPrevious": True}})
    await alice.data(UPDATE_SHOT, {"id": cast.shot("1A"), "i": {"continuesFromPrevious": True}})
    assert await report(alice, cast.film.branch_id, codes=handoffs) == [
        ("HANDOFF_MISMATCH", "WARNING", 1, "1A", None,
         "Shot 1A: continues from a previous shot, but it is the first shot."),
        ("HANDOFF_MISMATCH", "WARNING", 1, "1B", None,
         "Shot 1B: bo in the previous shot's end frame but not at the start; Lighthouse at the start but not in it."),
    ]
    # Only one side differing gives only that part.
    lighthouse = next(a for a in made if a["shot"]["shotLabel"] == "1B" and a["sceneAssetInstance"]["projectAsset"]["name"] == "Lighthouse")
    await alice.data(DELETE_ASSIGNMENT, {"id": lighthouse["id"]})
    assert (await report(alice, cast.film.branch_id, codes=handoffs))[1][5] == (
        "Shot 1B: bo in the previous shot's end frame but not at the start."
    )
    await create(cast, entry(cast, "1B", "bo", "EXITS"))
    assert [w[3] for w in await report(alice, cast.film.branch_id, codes=handoffs)] == ["1A"]
    await alice.data(UPDATE_SHOT, {"id": cast.shot("1A"), "i": {"continuesFromPrevious": False}})
    assert await report(alice, cast.film.branch_id, codes=handoffs) == []


async def test_a_continuing_shot_takes_its_start_frame_from_the_previous_shot(alice: Client, server: Any) -> None:
    cast = await cast_film(alice, shots=("1A", "1B"))
    await cast.film.lock_style()
    await set_instance(alice, cast.instances["bo"], imageKeyUrl="https://img.example/bo.png")
    await alice.data(UPDATE_SHOT, {"id": cast.shot("1B"), "i": {"continuesFromPrevious": True}})
    await alice.data(PROMPTS, {"s": cast.scene})
    frames_missing = ["START_FRAME_MISSING", "END_FRAME_MISSING"]
    assert await readiness(alice, cast.shot("1B")) == frames_missing
    jobs = (await alice.data(FRAMES, {"id": cast.shot("1B")}))["generateShotFrames"]
    assert [j["jobType"] for j in jobs] == ["END_FRAME"]
    await wait_completed(alice, server, jobs[0]["id"])
    assert await readiness(alice, cast.shot("1B")) == ["START_FRAME_MISSING"]  # 1A has no end frame yet
    for job in (await alice.data(FRAMES, {"id": cast.shot("1A")}))["generateShotFrames"]:
        await wait_completed(alice, server, job["id"])
    assert await readiness(alice, cast.shot("1B")) == []
    assert await readiness(alice, cast.shot("1A")) == []
    # The first shot that continues has nothing to continue from.
    await alice.data(UPDATE_SHOT, {"id": cast.shot("1A"), "i": {"continuesFromPrevious": True}})
    assert await readiness(alice, cast.shot("1A")) == ["START_FRAME_MISSING"]
    await alice.data(UPDATE_SHOT, {"id": cast.shot("1A"), "i": {"continuesFromPrevious": False}})
    assert await readiness(alice, cast.shot("1A")) == []


# ---- STORY_DAY_REGRESSION -------------------------------------------------------------------


async def test_a_scene_earlier_in_the_story_than_the_scene_before_it_is_a_regression(alice: Client) -> None:
    film = await new_film(alice)
    for number, day in ((1, 1), (2, None), (3, 3), (4, 2), (5, 2), (6, None), (7, 1)):
        await film.scene(number, **({"storyDay": day} if day else {}))
    days = {"STORY_DAY_REGRESSION"}
    assert await report(alice, film.branch_id, codes=days) == [
        ("STORY_DAY_REGRESSION", "INFO", 4, None, None, "Scene 4: story day 2 comes after story day 3 (a flashback?)."),
        ("STORY_DAY_REGRESSION", "INFO", 7, None, None, "Scene 7: story day 1 comes after story day 2 (a flashback?)."),
    ]
    assert await scene_warnings(alice, film.scenes[7]) == (await report(alice, film.branch_id))[1:]
    assert await report(alice, film.branch_id, "WARNING") == []
    await alice.data(UPDATE_SCENE, {"id": film.scenes[3], "i": {"storyDay": None}})
    await alice.data(UPDATE_SCENE, {"id": film.scenes[7], "i": {"storyDay": 2}})
    assert await report(alice, film.branch_id, codes=days) == []


# ---- the demo film --------------------------------------------------------------------------

DEMO = f"""
query($b: UUID!) {{ branch(id: $b) {{
  continuityReport {{ {WARNING_FIELDS} }}
  scenes {{ sceneNumber shots {{ shotLabel readiness {{ readyForVideo blockers }} }} }}
}} }}
"""


async def test_the_demo_film_shows_every_warning_code_and_a_ready_and_an_unready_shot(
    alice: Client, database_url: str, server: Any
) -> None:
    from continuity.demo import load_demo

    lines = await load_demo(database_url, alice.user_id or "", settings=server.settings, public_url=server.base_url)
    branch = next(line.split()[1] for line in lines if line.startswith("branch"))
    data = (await alice.data(DEMO, {"b": branch}))["branch"]
    found = [brief(w) for w in data["continuityReport"]]
    codes = {w[0] for w in found if w[1] == "WARNING"}
    assert codes == {"OUTDATED_INSTANCE", "STALE_IMAGE", "UNEXPLAINED_CHANGE", "MISSING_IMAGE", "HANDOFF_MISMATCH"}, found
    readiness_of = {s["shotLabel"]: s["readiness"] for scene in data["scenes"] for s in scene["shots"]}
    assert readiness_of["2A"] == {"readyForVideo": True, "blockers": []}
    assert readiness_of["2B"]["readyForVideo"] is False
    assert ("HANDOFF_MISMATCH", "WARNING", 2, "2C", None, "Shot 2C: Brass Lantern in the previous shot's end frame but not at the start; Tom at the start but not in it.") in found


async def test_the_benchmark_floor_answers_the_report_exactly_as_the_server(
    alice: Client, database_url: str, server: Any
) -> None:
    """bench/floor/continuity_report.sql is the single statement the benchmark measures against;
    on the demo film (every code but STORY_DAY_REGRESSION, plus one) it must give our answer."""
    from continuity.demo import load_demo

    lines = await load_demo(database_url, alice.user_id or "", settings=server.settings, public_url=server.base_url)
    branch = next(line.split()[1] for line in lines if line.startswith("branch"))
    await alice.data(UPDATE_SCENE, {"id": next(line.split()[2] for line in lines if line.startswith("scene 1")),
                                    "i": {"storyDay": 2}})
    scene_3 = next(line.split()[2] for line in lines if line.startswith("scene 3"))
    await alice.data(UPDATE_SCENE, {"id": scene_3, "i": {"storyDay": 1}})
    # A scene 4 that inherits, then a change upstream of it: UPSTREAM_CHANGED too.
    scene_4 = (await alice.data(CREATE_SCENE_4, {"b": branch}))["createScene"]["id"]
    await alice.data(INHERIT, {"s": scene_4})
    third = (await alice.data(INSTANCES, {"s": scene_3}))["scene"]["assetInstances"]
    await set_instance(alice, third[0]["id"], statusTags=["asleep"], modificationReason="dozes off")
    ours = await alice.data(BENCH_QUERY, {"id": branch})
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with conn.transaction():
            await conn.execute("select set_config('role', 'authenticated', true), "
                               "set_config('request.jwt.claim.sub', $1, true)", alice.user_id)
            floor = json.loads(await conn.fetchval(FLOOR_SQL, branch, alice.user_id))
    finally:
        await conn.close()
    assert {w["code"] for w in ours["branch"]["continuityReport"]} >= {
        "STORY_DAY_REGRESSION", "HANDOFF_MISMATCH", "UNEXPLAINED_CHANGE", "UPSTREAM_CHANGED", "STALE_IMAGE"}
    assert floor == ours["branch"]


# ---- UNEXPLAINED_CHANGE and UPSTREAM_CHANGED ------------------------------------------------

PROPAGATE = "mutation($id: UUID!) { propagateSceneAssetInstance(id: $id) { unchangedCount } }"
ADD_ASSET = "mutation($i: AddAssetToSceneInput!) { addAssetToScene(input: $i) { id } }"
DIFF = """query($id: UUID!) { sceneAssetInstance(id: $id) { edited diffFromSource {
  tagsAdded tagsRemoved descriptionChanged imageChanged } } }"""
CHANGES = {"UNEXPLAINED_CHANGE", "UPSTREAM_CHANGED"}


async def _mara_in_scenes(client: Client, *numbers: int, days: dict[int, int] | None = None) -> tuple[Any, dict[int, str]]:
    """Mara in each of the given scenes, each inherited from the one before (story days as given)."""
    film = await new_film(client)
    await film.asset("Mara", "CHARACTER", "An old keeper", image=MARA_IMG)
    await film.lock_assets()
    mara: dict[int, str] = {}
    for number in numbers:
        await film.scene(number, **({"storyDay": days[number]} if days and number in days else {}))
        data = await client.data(INHERIT, {"s": film.scenes[number]})
        mara[number] = data["inheritSceneAssets"]["instances"][0]["id"]
    return film, mara


async def test_an_edit_with_no_reason_or_event_is_unexplained_and_diff_from_source_names_the_parts(alice: Client) -> None:
    film, mara = await _mara_in_scenes(alice, 1, 2)
    assert await report(alice, film.branch_id, codes=CHANGES) == []
    await set_instance(alice, mara[2], statusTags=["muddy", "Torn"], descriptionOverride="Mara, mud-covered")
    assert await report(alice, film.branch_id, codes=CHANGES) == [
        ("UNEXPLAINED_CHANGE", "WARNING", 2, None, "Mara",
         "Mara: changed since scene 1 (tags added: muddy, Torn; description changed) with no transformation event or reason."),
    ]
    diff = (await alice.data(DIFF, {"id": mara[2]}))["sceneAssetInstance"]
    assert diff["edited"] and diff["diffFromSource"] == {
        "tagsAdded": ["muddy", "Torn"], "tagsRemoved": [], "descriptionChanged": True, "imageChanged": False}
    # A later edit with a reason explains the difference.
    await set_instance(alice, mara[2], imageKeyUrl="https://img.example/muddy.png", modificationReason="falls in the mud")
    assert await report(alice, film.branch_id, codes=CHANGES) == []


async def test_tags_removed_with_a_reason_are_explained_and_without_one_are_not(alice: Client) -> None:
    film, mara = await _mara_in_scenes(alice, 1)
    await set_instance(alice, mara[1], statusTags=["wet", "cold"])
    await film.scene(2)
    mara[2] = (await alice.data(INHERIT, {"s": film.scenes[2]}))["inheritSceneAssets"]["instances"][0]["id"]
    await set_instance(alice, mara[2], statusTags=["cold"])
    assert await report(alice, film.branch_id, codes=CHANGES) == [
        ("UNEXPLAINED_CHANGE", "WARNING", 2, None, "Mara",
         "Mara: changed since scene 1 (tags removed: wet) with no transformation event or reason."),
    ]
    await set_instance(alice, mara[2], statusTags=[], modificationReason="dries off by the fire")
    assert await report(alice, film.branch_id, codes=CHANGES) == []
    # A blank reason explains nothing.
    film2, mara2 = await _mara_in_scenes(alice, 1, 2)
    await set_instance(alice, mara2[2], statusTags=["bloody"], modificationReason="   ")
    assert [w[0] for w in await report(alice, film2.branch_id, codes=CHANGES)] == ["UNEXPLAINED_CHANGE"]


async def test_a_transformation_event_of_the_source_explains_the_change(alice: Client) -> None:
    film, mara = await _mara_in_scenes(alice, 1, 2)
    shot = await film.shot(1, "1A", 1)
    await set_instance(alice, mara[2], statusTags=["muddy"])
    assert [w[0] for w in await report(alice, film.branch_id, codes=CHANGES)] == ["UNEXPLAINED_CHANGE"]
    await alice.data(EVENT, {"i": {"shotId": shot, "sceneAssetInstanceId": mara[1], "postDescription": "Mara falls in the mud"}})
    assert await report(alice, film.branch_id, codes=CHANGES) == []


async def test_a_new_story_day_makes_an_unexplained_change_info(alice: Client) -> None:
    film, mara = await _mara_in_scenes(alice, 1, 2, 3, days={1: 1, 2: 2, 3: 2})
    await set_instance(alice, mara[2], statusTags=["rested"])
    await set_instance(alice, mara[3], statusTags=["rested", "bandaged"])
    assert await report(alice, film.branch_id, codes={"UNEXPLAINED_CHANGE"}) == [
        ("UNEXPLAINED_CHANGE", "INFO", 2, None, "Mara",
         "Mara: changed since scene 1 (tags added: rested) with no transformation event or reason."),
        ("UNEXPLAINED_CHANGE", "WARNING", 3, None, "Mara",
         "Mara: changed since scene 2 (tags added: bandaged) with no transformation event or reason."),
    ]
    assert [w[1] for w in await report(alice, film.branch_id, "WARNING", codes=CHANGES)] == ["WARNING"]


async def test_only_reasons_recorded_since_the_current_link_count(alice: Client) -> None:
    film, mara = await _mara_in_scenes(alice, 1, 3)
    await set_instance(alice, mara[3], statusTags=["soaked"], modificationReason="the storm")
    assert await report(alice, film.branch_id, codes=CHANGES) == []
    # Mara appears in a new scene 2 with scene 1's state: scene 3 is relinked to it, and the
    # reason given before that link no longer explains the difference.
    await film.scene(2)
    await alice.data(ADD_ASSET, {"i": {"sceneId": film.scenes[2], "projectAssetId": film.assets["Mara"]}})
    assert await report(alice, film.branch_id, codes=CHANGES) == [
        ("UNEXPLAINED_CHANGE", "WARNING", 3, None, "Mara",
         "Mara: changed since scene 2 (tags added: soaked) with no transformation event or reason."),
    ]


async def test_a_source_that_does_not_carry_forward_explains_any_difference(alice: Client) -> None:
    film, mara = await _mara_in_scenes(alice, 1, 2)
    await set_instance(alice, mara[1], carryForward=False, modificationReason="changes clothes")
    await set_instance(alice, mara[2], statusTags=["dry"])
    assert await report(alice, film.branch_id, codes={"UNEXPLAINED_CHANGE"}) == []


async def test_an_unedited_instance_behind_its_source_is_upstream_changed_until_propagated(alice: Client) -> None:
    film, mara = await _mara_in_scenes(alice, 1, 2, 3)
    await set_instance(alice, mara[1], statusTags=["muddy"], modificationReason="falls")
    upstream = [
        ("UPSTREAM_CHANGED", "INFO", 2, None, "Mara",
         "Mara: scene 1 changed after this scene took its state; propagate to bring it forward."),
    ]
    # Scene 3 still matches scene 2, which has not moved.
    assert await report(alice, film.branch_id, codes=CHANGES) == upstream
    assert await report(alice, film.branch_id, "WARNING", codes=CHANGES) == []
    await alice.data(PROPAGATE, {"id": mara[1]})
    assert await report(alice, film.branch_id, codes=CHANGES) == []
    # An edited instance is never upstream-changed (its difference is its own).
    await set_instance(alice, mara[2], statusTags=["muddy", "wet"], modificationReason="rain")
    await set_instance(alice, mara[1], statusTags=[], modificationReason="washed")
    assert await report(alice, film.branch_id, codes=CHANGES) == [
        ("UPSTREAM_CHANGED", "INFO", 3, None, "Mara",
         "Mara: scene 2 changed after this scene took its state; propagate to bring it forward."),
    ]
    # A source that stops carrying forward: its child would be reset to the asset now.
    await alice.data(PROPAGATE, {"id": mara[2]})
    assert await report(alice, film.branch_id, codes=CHANGES) == []
    await set_instance(alice, mara[2], carryForward=False)
    assert [w[2] for w in await report(alice, film.branch_id, codes=CHANGES)] == [3]


# ---- planner and loader paths ---------------------------------------------------------------

PANEL = f"""
query($b: UUID!, $s: UUID!) {{
  branch(id: $b) {{
    id name
    continuityReport {{ {WARNING_FIELDS} scene {{ id slug }} shot {{ id readiness {{ blockers }} }} }}
    warnings: continuityReport(minSeverity: WARNING) {{ code }}
    statusTagSuggestions(prefix: "S", first: 3) {{ tag uses }}
    scenes {{ sceneNumber continuityWarnings {{ code message sceneAssetInstance {{ id effectiveDescription }} }}
             shots {{ shotLabel readiness {{ readyForVideo blockers }} }} }}
  }}
  scene(id: $s) {{ continuityWarnings(minSeverity: INFO) {{ code message }} }}
}}
"""


async def test_the_report_answers_alike_with_and_without_the_planner(
    alice: Client, bob: Client, database_url: str, server: Any
) -> None:
    from continuity.demo import load_demo

    lines = await load_demo(database_url, alice.user_id or "", settings=server.settings, public_url=server.base_url)
    branch = next(line.split()[1] for line in lines if line.startswith("branch"))
    scene = next(line.split()[2] for line in lines if line.startswith("scene 2"))
    for client in (alice, bob):
        answers = []
        for headers in ({}, {"x-continuity-planner": "off"}):
            response = await client.http.post(
                "/graphql", json={"query": PANEL, "variables": {"b": branch, "s": scene}},
                headers=client.headers() | headers,
            )
            answers.append(response.json())
        assert answers[0] == answers[1]
        assert "errors" not in answers[0]
    assert answers[0]["data"] == {"branch": None, "scene": None}  # bob's view
