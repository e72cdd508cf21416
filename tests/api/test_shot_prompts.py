"""Prompts, stored reference orders and frame jobs over the API, and the statement bounds of a
whole scene: docs/casting.md."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from services.casting import prompts
from tests.api.test_assignments import (
    ANCHOR_IMG,
    CREATE,
    EVENT,
    INHERIT,
    MARA_IMG,
    POPULATE,
    TOWER_IMG,
    UPDATE,
    cast_film,
    create,
    entry,
    frames_of,
    lock_frame_stages,
    locks,
)
from tests.support import Client
from tests.support.film import new_film

IMAGE_FIELDS = "position sceneAssetInstanceId projectAssetId assetName assetType imageUrl"
SHOT_FIELDS = f"""
id shotLabel framePrompt videoPrompt
referenceImageOrder {{ {IMAGE_FIELDS} }} endFrameReferenceImageOrder {{ {IMAGE_FIELDS} }}
"""
PROMPTS = f"mutation($s: UUID!) {{ generateShotPrompts(sceneId: $s) {{ {SHOT_FIELDS} }} }}"
SHOT = f"query($id: UUID!) {{ shot(id: $id) {{ {SHOT_FIELDS} }} }}"
JOB_FIELDS = f"""
id jobType status prompt width height sceneId shotId projectAssetId sceneAssetInstanceId
referenceImages {{ {IMAGE_FIELDS} }} storagePath imageUrl error idempotencyKey createdAt completedAt
"""
FRAMES_JOBS = f"mutation($id: UUID!) {{ generateShotFrames(shotId: $id) {{ {JOB_FIELDS} }} }}"

# The page Stage 9 shows, as docs/casting.md (A Stage 9 page query) gives it.
STAGE_9 = """
query Stage9($sceneId: UUID!) {
  scene(id: $sceneId) {
    id sceneNumber slug hasShotAssignments
    stageLocks { stage status }
    assetInstances {
      id effectiveDescription statusTags imageKeyUrl
      projectAsset { id name assetType imageKeyUrl }
    }
    shots {
      id shotLabel shotOrder durationSeconds setting action camera framePrompt videoPrompt
      referenceImageOrder { position assetName assetType imageUrl }
      endFrameReferenceImageOrder { position assetName assetType imageUrl }
      assetAssignments {
        id presenceType updatedAt
        sceneAssetInstance { id projectAsset { name assetType } }
      }
      transformationEvents { id postDescription postImageKeyUrl sceneAssetInstance { id } }
      frameReferences {
        usesLegacyFallback startFrameManifest endFrameManifest presenceDirections
        startFrameImages { position sceneAssetInstanceId assetName assetType imageUrl }
        endFrameImages { position sceneAssetInstanceId assetName assetType imageUrl }
        videoOnlyAssets { id sceneAssetInstance { projectAsset { name } } }
      }
    }
  }
}
"""


async def presence_shot(client: Client) -> Any:
    cast = await cast_film(client)
    await create(
        cast,
        entry(cast, "1A", "Anchor", "EXITS"),
        entry(cast, "1A", "Lighthouse", "ENTERS"),
        entry(cast, "1A", "Mara", "THROUGHOUT"),
        entry(cast, "1A", "bo", "PASSES_THROUGH"),
        entry(cast, "1B", "Mara", "ENTERS"),
    )
    await client.data(
        "mutation($id: UUID!) { updateSceneAssetInstance(id: $id, input: {statusTags: [\"muddy\", \"torn_shirt\"]}) { id } }",
        {"id": cast.instances["Mara"]},
    )
    return cast


async def generate(client: Client, scene: str) -> list[dict[str, Any]]:
    return (await client.data(PROMPTS, {"s": scene}))["generateShotPrompts"]


# ---- generateShotPrompts -------------------------------------------------------------------------


async def test_prompts_follow_presence_and_store_both_reference_orders(alice: Client) -> None:
    cast = await presence_shot(alice)
    shots = await generate(alice, cast.scene)
    assert [s["shotLabel"] for s in shots] == ["1A", "1B", "1C"]
    one = shots[0]
    assert one["framePrompt"] == (
        "INT. LIGHTHOUSE\nAction 1A\nWide\n"
        "Mara (character): An old keeper [status: muddy, torn_shirt]\n"
        "Anchor (prop): A rusty anchor"
    )
    assert one["videoPrompt"] == (
        "Action 1A\nWide\n"
        "Midway through the shot, bo (A boy) passes through the frame.\n"
        "Lighthouse enters the frame.\n"
        "Anchor exits the frame."
    )
    live = await frames_of(alice, cast.shot("1A"))
    assert one["referenceImageOrder"] == live["startFrameImages"]
    assert one["endFrameReferenceImageOrder"] == live["endFrameImages"]
    assert [e["imageUrl"] for e in one["referenceImageOrder"]] == [MARA_IMG, ANCHOR_IMG]
    assert [e["imageUrl"] for e in one["endFrameReferenceImageOrder"]] == [MARA_IMG, TOWER_IMG]
    # 1B: Mara enters, so the frame prompt names no asset; 1C has no assignment at all.
    assert shots[1]["framePrompt"] == "INT. LIGHTHOUSE\nAction 1B\nWide"
    assert shots[1]["videoPrompt"] == "Action 1B\nWide\nMara enters the frame."
    assert shots[1]["referenceImageOrder"] == [] and len(shots[1]["endFrameReferenceImageOrder"]) == 1
    assert shots[2]["referenceImageOrder"] == shots[2]["endFrameReferenceImageOrder"] == []
    # What was stored is what a later read returns.
    assert (await alice.data(SHOT, {"id": cast.shot("1A")}))["shot"] == one


async def test_stored_orders_stay_as_generated_until_prompts_are_generated_again(alice: Client) -> None:
    cast = await presence_shot(alice)
    [one, *_] = await generate(alice, cast.scene)
    shot = await alice.data(
        "query($id: UUID!) { shot(id: $id) { assetAssignments { id sceneAssetInstance { projectAsset { name } } } } }",
        {"id": cast.shot("1A")},
    )
    lighthouse = next(a for a in shot["shot"]["assetAssignments"] if a["sceneAssetInstance"]["projectAsset"]["name"] == "Lighthouse")
    await alice.data(UPDATE, {"id": lighthouse["id"], "p": "THROUGHOUT"})
    live = await frames_of(alice, cast.shot("1A"))
    assert [e["assetName"] for e in live["startFrameImages"]] == ["Mara", "Lighthouse", "Anchor"]
    assert (await alice.data(SHOT, {"id": cast.shot("1A")}))["shot"] == one
    [regenerated, *_] = await generate(alice, cast.scene)
    assert regenerated["referenceImageOrder"] == live["startFrameImages"]
    assert "Lighthouse (location): A white tower" in regenerated["framePrompt"]


async def test_prompts_under_the_legacy_fallback_name_every_instance(alice: Client) -> None:
    cast = await cast_film(alice, shots=("1A",))
    [one] = await generate(alice, cast.scene)
    assert one["framePrompt"].splitlines()[3:] == [
        "bo (character): A boy",
        "Mara (character): An old keeper",
        "Lighthouse (location): A white tower",
        "Anchor (prop): A rusty anchor",
    ]
    assert one["videoPrompt"] == "Action 1A\nWide"
    assert [e["assetName"] for e in one["referenceImageOrder"]] == ["Mara", "Lighthouse", "Anchor"]


async def test_generating_prompts_outdates_nothing_and_needs_the_viewers_scene(alice: Client) -> None:
    cast = await cast_film(alice, shots=("1A",))
    await lock_frame_stages(alice, cast.scene)
    before = await locks(alice, cast.scene)
    await generate(alice, cast.scene)
    assert await locks(alice, cast.scene) == before
    assert await alice.code(PROMPTS, {"s": "00000000-0000-4000-8000-00000000dead"}) == "NOT_FOUND"
    film = await new_film(alice)
    assert await generate(alice, await film.scene(1)) == []


class ShoutingWriter:
    """Another writer, plugged in: what it writes is what gets stored."""

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    async def write(self, shots: Sequence[prompts.ShotBrief]) -> list[prompts.ShotPrompts]:
        self.seen.append([s.shot_label for s in shots])
        return [
            prompts.ShotPrompts(
                frame_prompt=" | ".join(c.asset.name.upper() for c in s.frames.start_assets),
                video_prompt=" ".join(s.frames.directions),
            )
            for s in shots
        ]


async def test_a_plugged_in_writer_writes_every_shot_in_one_call(alice: Client, server: Any) -> None:
    cast = await presence_shot(alice)
    writer = ShoutingWriter()
    previous = server.state.prompt_writer
    server.state.prompt_writer = writer
    try:
        shots = await generate(alice, cast.scene)
    finally:
        server.state.prompt_writer = previous
    assert writer.seen == [["1A", "1B", "1C"]]
    assert shots[0]["framePrompt"] == "MARA | ANCHOR"
    assert shots[1]["videoPrompt"] == "Mara enters the frame."
    assert [e["assetName"] for e in shots[0]["referenceImageOrder"]] == ["Mara", "Anchor"]


# ---- generateShotFrames -----------------------------------------------------------------------


async def test_frames_need_a_locked_style_then_prompts(alice: Client) -> None:
    cast = await cast_film(alice, shots=("1A",))
    shot = cast.shot("1A")
    assert await alice.code(FRAMES_JOBS, {"id": shot}) == "VISUAL_STYLE_REQUIRED"
    await cast.film.lock_style("noir-1")
    error = await alice.error(FRAMES_JOBS, {"id": shot})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "generateShotPrompts" in error["message"]
    assert await alice.code(FRAMES_JOBS, {"id": "00000000-0000-4000-8000-00000000dead"}) == "NOT_FOUND"


async def test_frame_jobs_use_the_stored_start_and_end_lists(alice: Client) -> None:
    cast = await presence_shot(alice)
    await cast.film.lock_style("noir-2")
    [one, *_] = await generate(alice, cast.scene)
    # A later change shows in the live references, not in the jobs: they use what was stored.
    await alice.data(EVENT, {"i": {"shotId": cast.shot("1A"), "sceneAssetInstanceId": cast.instances["Mara"],
                                   "postDescription": "Soaked", "postImageKeyUrl": "https://img.example/wet.png"}})
    jobs = (await alice.data(FRAMES_JOBS, {"id": cast.shot("1A")}))["generateShotFrames"]
    start, end = jobs
    assert (start["jobType"], end["jobType"]) == ("START_FRAME", "END_FRAME")
    for job in jobs:
        assert job["status"] == "QUEUED"
        assert job["prompt"] == one["framePrompt"]
        assert (job["width"], job["height"]) == (1280, 720)
        assert (job["sceneId"], job["shotId"]) == (cast.scene, cast.shot("1A"))
        assert job["projectAssetId"] is None and job["sceneAssetInstanceId"] is None
        assert job["imageUrl"] is None and job["error"] is None and job["completedAt"] is None
        uuid.UUID(job["idempotencyKey"])
        frame = "start" if job is start else "end"
        pattern = (
            rf"project_{cast.film.project_id}/branch_{cast.film.branch_id}/scene_{cast.scene}/"
            rf"shot_{cast.shot('1A')}/{frame}_frame_\d+_[0-9a-f]+\.png"
        )
        assert re.fullmatch(pattern, job["storagePath"]), job["storagePath"]
    assert start["idempotencyKey"] != end["idempotencyKey"]
    assert start["createdAt"] < end["createdAt"]
    assert start["referenceImages"] == one["referenceImageOrder"]
    assert end["referenceImages"] == one["endFrameReferenceImageOrder"]
    assert [e["assetName"] for e in end["referenceImages"]] == ["Mara", "Lighthouse"]  # never the start list
    assert [e["imageUrl"] for e in end["referenceImages"]] == [MARA_IMG, TOWER_IMG]
    stored = await alice.data(f"query($id: UUID!) {{ imageJob(id: $id) {{ {JOB_FIELDS} }} }}", {"id": end["id"]})
    assert stored["imageJob"]["referenceImages"] == end["referenceImages"]
    assert stored["imageJob"]["jobType"] == "END_FRAME"


# ---- statement bounds -------------------------------------------------------------------------


async def scene_of(client: Client, shots: int, assets: int) -> Any:
    film = await new_film(client)
    types = ("CHARACTER", "LOCATION", "PROP")
    for n in range(assets):
        image = None if n % 5 == 4 else f"https://img.example/a{n}.png"
        await film.asset(f"Asset {n:02d}", types[n % 3], f"Description {n}", image=image)
    await film.lock_assets()
    scene = await film.scene(1)
    for n in range(1, shots + 1):
        await film.shot(1, f"S{n:02d}", n, setting="EXT. SEA", action=f"Action {n}", camera="Wide")
    await client.data(INHERIT, {"s": scene})
    return film, scene


async def test_a_20_shot_25_asset_scene_costs_what_a_small_scene_costs(alice: Client, statements: Any) -> None:
    counts: dict[str, list[int]] = {}

    def took(what: str) -> None:
        counts.setdefault(what, []).append(statements.take())

    sizes = ((2, 3), (20, 25))
    pages: list[dict[str, Any]] = []
    for shots, assets in sizes:
        film, scene = await scene_of(alice, shots, assets)
        statements.take()
        await alice.data(STAGE_9, {"sceneId": scene})
        took("legacy page")
        populated = (await alice.data(POPULATE, {"s": scene}))["autoPopulateShotAssignments"]
        took("auto-populate")
        assert populated == {"created": shots * assets, "existing": 0}
        # Vary the cast: every third assignment of each shot changes presence, one event per shot.
        page = (await alice.data(STAGE_9, {"sceneId": scene}))["scene"]
        statements.take()
        presences = ("ENTERS", "EXITS", "PASSES_THROUGH")
        for n, shot in enumerate(page["shots"][:2]):
            target = shot["assetAssignments"][n]
            await alice.data(UPDATE, {"id": target["id"], "p": presences[n % 3]})
            await alice.data(EVENT, {"i": {"shotId": shot["id"], "sceneAssetInstanceId": target["sceneAssetInstance"]["id"],
                                           "postDescription": "Changed", "postImageKeyUrl": "https://img.example/post.png"}})
        statements.take()
        await alice.data(PROMPTS, {"s": scene})
        took("generateShotPrompts")
        page = (await alice.data(STAGE_9, {"sceneId": scene}))["scene"]
        took("page")
        pages.append(page)
        # A batch of N entries costs what a batch of 2 costs.
        other = await film.scene(2)
        for n in range(1, shots + 1):
            await film.shot(2, f"T{n:02d}", n)
        others = (await alice.data(INHERIT, {"s": other}))["inheritSceneAssets"]["instances"]
        entries = [{"shotId": film.shots[f"T{s:02d}"], "sceneAssetInstanceId": i["id"]}
                   for s in range(1, shots + 1) for i in others]
        statements.take()
        made = (await alice.data(CREATE, {"s": other, "a": entries}))["createShotAssetAssignments"]
        took("create batch")
        assert len(made) == len(entries)
    print("statements (small, 20x25):", counts)
    for what, (small, big) in counts.items():
        assert small == big, (what, counts)
    # The planner answers the whole page, frame references included, with one statement after the claims.
    assert counts["page"][0] == 2 and counts["legacy page"][0] == 2, counts
    big_page = pages[1]
    assert len(big_page["shots"]) == 20
    assert all(len(s["assetAssignments"]) == 25 for s in big_page["shots"])
    assert len(big_page["shots"][5]["frameReferences"]["startFrameImages"]) == 20  # every fifth asset has no image
    first = big_page["shots"][0]
    stored = [(e["position"], e["assetName"], e["imageUrl"]) for e in first["referenceImageOrder"]]
    assert stored == [(e["position"], e["assetName"], e["imageUrl"]) for e in first["frameReferences"]["startFrameImages"]]


async def test_frame_references_of_many_scenes_share_their_reads(alice: Client, statements: Any) -> None:
    cast = await cast_film(alice)
    await alice.data(POPULATE, {"s": cast.scene})
    query = """query($b: UUID!) { branch(id: $b) { scenes { shots { frameReferences { startFrameManifest
               videoOnlyAssets { id } } } } } }"""
    statements.take()
    await alice.data(query, {"b": cast.film.branch_id})
    one_scene = statements.take()
    for n in (2, 3, 4):
        await cast.film.scene(n)
        await cast.film.shot(n, f"{n}A", 1)
        await alice.data(INHERIT, {"s": cast.film.scenes[n]})
    statements.take()
    data = await alice.data(query, {"b": cast.film.branch_id})
    assert statements.take() == one_scene
    assert len(data["branch"]["scenes"]) == 4
