"""Editing the film over the API (docs/editing.md): moves and deletes with chain repair, forks,
addAssetToScene, shot edits and handoffs, updatedAt and explicit nulls."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from bench.film import standard_film
from tests.support import Client, asyncpg_dsn
from tests.support.film import Film, new_film

INHERIT = "mutation($s: UUID!) { inheritSceneAssets(sceneId: $s) { instances { id projectAsset { name } } } }"
UPDATE_INSTANCE = """
mutation($id: UUID!, $i: UpdateSceneAssetInstanceInput!) { updateSceneAssetInstance(id: $id, input: $i) { id } }
"""
DELETE_INSTANCE = "mutation($id: UUID!) { deleteSceneAssetInstance(id: $id) { id } }"
MOVE = "mutation($id: UUID!, $n: Int!) { moveScene(id: $id, sceneNumber: $n) { id sceneNumber slug } }"
DELETE_SCENE = "mutation($id: UUID!) { deleteScene(id: $id) { id } }"
STAGE = "mutation($s: UUID!) { setSceneStageStatus(sceneId: $s, stage: 9, status: LOCKED) { id } }"
STATE = """
id projectAsset { id name } inheritedFrom { id } descriptionOverride statusTags effectiveDescription
imageKeyUrl carryForward modificationCount lastModifiedField modificationReason updatedAt
"""
BRANCH = f"""
query($b: UUID!) {{ branch(id: $b) {{ scenes {{ id sceneNumber slug stageLocks {{ stage status }}
  assetInstances {{ {STATE} chain {{ id }} }} }} }} }}
"""
ADD = f"mutation($i: AddAssetToSceneInput!) {{ addAssetToScene(input: $i) {{ {STATE} scene {{ sceneNumber }} }} }}"
UPDATE_SCENE = """
mutation($id: UUID!, $i: UpdateSceneInput!, $at: DateTime) {
  updateScene(id: $id, input: $i, expectedUpdatedAt: $at) {
    id slug scriptExcerpt endStateSummary storyDay timeOfDay updatedAt stageLocks { stage status } } }
"""
UPDATE_SHOT = """
mutation($id: UUID!, $i: UpdateShotInput!, $at: DateTime) {
  updateShot(id: $id, input: $i, expectedUpdatedAt: $at) {
    id shotLabel durationSeconds setting action camera continuesFromPrevious updatedAt } }
"""
SCENE_LOCKS = "query($s: UUID!) { scene(id: $s) { updatedAt stageLocks { stage status } } }"


async def five_scenes(client: Client) -> Film:
    """Mara (muddy from scene 1 on), Pier and Lamp in scenes 1-5, each inherited from the one before."""
    film = await new_film(client, "Five scenes")
    for name, kind in (("Mara", "CHARACTER"), ("Pier", "LOCATION"), ("Lamp", "PROP")):
        await film.asset(name, kind)
    await film.lock_assets()
    for n in range(1, 6):
        await film.scene(n)
    first = (await client.data(INHERIT, {"s": film.scenes[1]}))["inheritSceneAssets"]["instances"]
    mara = next(i["id"] for i in first if i["projectAsset"]["name"] == "Mara")
    await client.data(UPDATE_INSTANCE, {"id": mara, "i": {"statusTags": ["muddy"], "modificationReason": "falls"}})
    for n in range(2, 6):
        await client.data(INHERIT, {"s": film.scenes[n]})
    return film


async def scenes_of(client: Client, branch: str) -> list[dict[str, Any]]:
    return list((await client.data(BRANCH, {"b": branch}))["branch"]["scenes"])


def instance_of(scenes: list[dict[str, Any]], number: int, asset: str) -> dict[str, Any] | None:
    scene = next(s for s in scenes if s["sceneNumber"] == number)
    return next((i for i in scene["assetInstances"] if i["projectAsset"]["name"] == asset), None)


def assert_chains_follow_the_story(scenes: list[dict[str, Any]]) -> None:
    """Each instance links to its asset's instance in the latest earlier scene that has one."""
    latest: dict[str, str] = {}
    for scene in sorted(scenes, key=lambda s: s["sceneNumber"]):
        for instance in scene["assetInstances"]:
            asset = instance["projectAsset"]["id"]
            expected = latest.get(asset)
            assert (instance["inheritedFrom"] or {}).get("id") == expected, (scene["sceneNumber"], instance)
            chain = [c["id"] for c in instance["chain"]]
            assert chain[-1] == instance["id"] and len(chain) == len(set(chain)), chain
            latest[asset] = instance["id"]


def states(scenes: list[dict[str, Any]]) -> dict[str, Any]:
    """Every instance's state (what a relink must never change), by id."""
    keep = ("descriptionOverride", "statusTags", "effectiveDescription", "imageKeyUrl", "carryForward",
            "modificationCount", "lastModifiedField", "modificationReason")
    return {i["id"]: {k: i[k] for k in keep} for s in scenes for i in s["assetInstances"]}


# -- moveScene, deleteScene, chain repair ---------------------------------------------------------


async def test_moving_scene_1_to_position_3_renumbers_and_relinks_without_changing_state(
    alice: Client, statements: Any
) -> None:
    film = await five_scenes(alice)
    for n in range(1, 6):
        await alice.data(STAGE, {"s": film.scenes[n]})
    before = await scenes_of(alice, film.branch_id)
    statements.take()
    moved = (await alice.data(MOVE, {"id": film.scenes[1], "n": 3}))["moveScene"]
    took = statements.take()
    order = [film.scenes[n] for n in (2, 3, 1, 4, 5)]
    assert [s["id"] for s in moved] == order and [s["sceneNumber"] for s in moved] == [1, 2, 3, 4, 5]
    after = await scenes_of(alice, film.branch_id)
    assert [s["id"] for s in after] == order
    assert_chains_follow_the_story(after)
    # Old scene 2's instances are now the roots; old scene 1 (muddy Mara) links to old scene 3.
    assert instance_of(after, 1, "Mara")["inheritedFrom"] is None  # type: ignore[index]
    assert instance_of(after, 3, "Mara")["inheritedFrom"]["id"] == instance_of(after, 2, "Mara")["id"]  # type: ignore[index]
    assert states(after) == states(before)
    assert [s["stageLocks"] for s in after] == [s["stageLocks"] for s in before]  # nothing outdated
    # claims, branch lock, count, relink (in the new order), move, scenes in order
    assert took == 6


async def test_move_scene_statement_count_does_not_grow_with_the_branch(alice: Client, statements: Any) -> None:
    counts = []
    for size in (3, 7):
        film = await new_film(alice, f"{size} scenes")
        await film.asset("Mara")
        await film.lock_assets()
        for n in range(1, size + 1):
            await film.scene(n)
            await alice.data(INHERIT, {"s": film.scenes[n]})
        statements.take()
        await alice.data(MOVE, {"id": film.scenes[1], "n": size})
        counts.append(statements.take())
        assert_chains_follow_the_story(await scenes_of(alice, film.branch_id))
    # claims, branch lock, count, relink (in the new order), move, scenes in order
    assert counts == [6, 6]


async def test_deleting_a_middle_scene_relinks_its_successor_to_its_predecessor(alice: Client) -> None:
    film = await five_scenes(alice)
    before = await scenes_of(alice, film.branch_id)
    await alice.data(DELETE_SCENE, {"id": film.scenes[3]})
    after = await scenes_of(alice, film.branch_id)
    assert [s["sceneNumber"] for s in after] == [1, 2, 4, 5]  # deleteScene never renumbers
    for asset in ("Mara", "Pier", "Lamp"):
        assert instance_of(after, 4, asset)["inheritedFrom"]["id"] == instance_of(before, 2, asset)["id"]  # type: ignore[index]
    assert_chains_follow_the_story(after)
    gone = {i["id"] for i in before[2]["assetInstances"]}
    assert not gone & set(states(after))
    unchanged = {k: v for k, v in states(before).items() if k not in gone}
    assert states(after) == unchanged


async def test_move_scene_closes_gaps_first(alice: Client) -> None:
    film = await five_scenes(alice)
    await alice.data(DELETE_SCENE, {"id": film.scenes[3]})  # numbers 1, 2, 4, 5
    stamps = "query($b: UUID!) { branch(id: $b) { scenes { id updatedAt } } }"
    before = {s["id"]: s["updatedAt"] for s in (await alice.data(stamps, {"b": film.branch_id}))["branch"]["scenes"]}
    moved = (await alice.data(MOVE, {"id": film.scenes[5], "n": 1}))["moveScene"]
    assert [(s["id"], s["sceneNumber"]) for s in moved] == [
        (film.scenes[5], 1), (film.scenes[1], 2), (film.scenes[2], 3), (film.scenes[4], 4)]
    after = {s["id"]: s["updatedAt"] for s in (await alice.data(stamps, {"b": film.branch_id}))["branch"]["scenes"]}
    # updatedAt moves with sceneNumber, and only with it: scene 4 kept its number.
    assert after[film.scenes[4]] == before[film.scenes[4]]
    assert all(after[film.scenes[n]] > before[film.scenes[n]] for n in (1, 2, 5))
    assert_chains_follow_the_story(await scenes_of(alice, film.branch_id))
    # To its own position: only the renumbering (none left to do), nothing moves.
    again = (await alice.data(MOVE, {"id": film.scenes[2], "n": 3}))["moveScene"]
    assert again == moved


async def test_an_asset_absent_from_a_scene_stays_one_chain_across_the_gap_whatever_moves(alice: Client) -> None:
    film = await five_scenes(alice)
    scenes = await scenes_of(alice, film.branch_id)
    # Lamp leaves scene 2 (B): scene 3's (C) Lamp now links to scene 1's (A).
    await alice.data(DELETE_INSTANCE, {"id": instance_of(scenes, 2, "Lamp")["id"]})  # type: ignore[index]
    scenes = await scenes_of(alice, film.branch_id)
    assert instance_of(scenes, 3, "Lamp")["inheritedFrom"]["id"] == instance_of(scenes, 1, "Lamp")["id"]  # type: ignore[index]
    assert_chains_follow_the_story(scenes)
    ids = dict(film.scenes)
    for scene, to in ((1, 5), (3, 1), (2, 4), (5, 2), (4, 3)):
        await alice.data(MOVE, {"id": ids[scene], "n": to})
        after = await scenes_of(alice, film.branch_id)
        assert_chains_follow_the_story(after)
        lamp = [i for s in after for i in s["assetInstances"] if i["projectAsset"]["name"] == "Lamp"]
        assert sum(1 for i in lamp if i["inheritedFrom"] is None) == 1  # one chain, one root
        assert max(len(i["chain"]) for i in lamp) == 4


async def test_deleting_an_instance_relinks_its_children_to_its_predecessor(alice: Client) -> None:
    film = await five_scenes(alice)
    scenes = await scenes_of(alice, film.branch_id)
    mara2, mara3 = instance_of(scenes, 2, "Mara"), instance_of(scenes, 3, "Mara")
    await alice.data(DELETE_INSTANCE, {"id": mara2["id"]})  # type: ignore[index]
    after = await scenes_of(alice, film.branch_id)
    relinked = instance_of(after, 3, "Mara")
    assert relinked["inheritedFrom"]["id"] == instance_of(scenes, 1, "Mara")["id"]  # type: ignore[index]
    assert relinked["modificationCount"] == mara3["modificationCount"]  # type: ignore[index]
    assert {k: relinked[k] for k in ("statusTags", "effectiveDescription", "carryForward")} == {  # type: ignore[index]
        k: mara3[k] for k in ("statusTags", "effectiveDescription", "carryForward")}  # type: ignore[index]


async def test_move_scene_errors_follow_the_precedence(alice: Client, bob: Client) -> None:
    film = await five_scenes(alice)
    missing = str(uuid.uuid4())
    assert await alice.code(MOVE, {"id": missing, "n": 0}) == "BAD_USER_INPUT"  # shape first
    assert await alice.code(MOVE, {"id": missing, "n": 2}) == "NOT_FOUND"
    assert await bob.code(MOVE, {"id": film.scenes[1], "n": 9}) == "NOT_FOUND"  # before the relation
    assert await alice.code(MOVE, {"id": film.scenes[1], "n": 6}) == "BAD_USER_INPUT"
    assert [s["id"] for s in await scenes_of(alice, film.branch_id)] == [film.scenes[n] for n in range(1, 6)]


async def test_create_scene_instance_with_a_source_is_linked_by_the_rule(alice: Client) -> None:
    film = await five_scenes(alice)
    scenes = await scenes_of(alice, film.branch_id)
    await alice.data(DELETE_INSTANCE, {"id": instance_of(scenes, 4, "Pier")["id"]})  # type: ignore[index]
    create = """mutation($i: CreateSceneAssetInstanceInput!) { createSceneAssetInstance(input: $i) {
                  id inheritedFrom { id } } }"""
    made = (await alice.data(create, {"i": {
        "sceneId": film.scenes[4], "projectAssetId": film.assets["Pier"],
        "inheritedFromInstanceId": instance_of(scenes, 1, "Pier")["id"]}}))["createSceneAssetInstance"]  # type: ignore[index]
    # Scene 3 has Pier too, so the new instance links there; scene 5's Pier now links to it.
    assert made["inheritedFrom"]["id"] == instance_of(scenes, 3, "Pier")["id"]  # type: ignore[index]
    after = await scenes_of(alice, film.branch_id)
    assert instance_of(after, 5, "Pier")["inheritedFrom"]["id"] == made["id"]  # type: ignore[index]
    assert_chains_follow_the_story(after)


async def test_concurrent_structural_edits_of_one_branch_leave_chains_that_follow_the_story(alice: Client) -> None:
    film = await five_scenes(alice)
    scenes = await scenes_of(alice, film.branch_id)
    lamp2 = instance_of(scenes, 2, "Lamp")["id"]  # type: ignore[index]
    mara4 = instance_of(scenes, 4, "Mara")["id"]  # type: ignore[index]
    edits = [
        alice.post(MOVE, {"id": film.scenes[1], "n": 5}),
        alice.post(MOVE, {"id": film.scenes[4], "n": 1}),
        alice.post(DELETE_INSTANCE, {"id": lamp2}),
        alice.post(MOVE, {"id": film.scenes[3], "n": 2}),
        alice.post(DELETE_INSTANCE, {"id": mara4}),
        alice.post(UPDATE_INSTANCE, {"id": instance_of(scenes, 3, "Pier")["id"], "i": {"statusTags": ["wet"]}}),  # type: ignore[index]
        alice.post(MOVE, {"id": film.scenes[2], "n": 4}),
        alice.post(FORK, {"b": film.branch_id, "n": "Racing fork"}),
    ]
    answers = await asyncio.gather(*edits)
    assert all("errors" not in a for a in answers), answers
    after = await scenes_of(alice, film.branch_id)
    assert sorted(s["sceneNumber"] for s in after) == [1, 2, 3, 4, 5]
    assert_chains_follow_the_story(after)
    fork = answers[-1]["data"]["forkBranch"]["id"]
    copy = await scenes_of(alice, fork)
    assert sorted(s["sceneNumber"] for s in copy) == [1, 2, 3, 4, 5]
    assert_chains_follow_the_story(copy)


# -- forkBranch ------------------------------------------------------------------------------------

FORK = "mutation($b: UUID!, $n: String!) { forkBranch(branchId: $b, name: $n) { id name forkedFrom { id } project { id activeBranch { id } } } }"
COUNTS = """
select (select count(*) from project_assets where branch_id = $1) as assets,
       (select count(*) from stage_states where branch_id = $1) as stages,
       (select count(*) from scenes where branch_id = $1) as scenes,
       (select count(*) from shots sh join scenes s on s.id = sh.scene_id where s.branch_id = $1) as shots,
       (select count(*) from scene_asset_instances where branch_id = $1) as instances,
       (select count(*) from shot_asset_assignments x join scenes s on s.id = x.scene_id where s.branch_id = $1) as assignments,
       (select count(*) from transformation_events e join scenes s on s.id = e.scene_id where s.branch_id = $1) as events
"""
IDS = """
select id from project_assets where branch_id = $1
union all select id from stage_states where branch_id = $1
union all select id from scenes where branch_id = $1
union all select sh.id from shots sh join scenes s on s.id = sh.scene_id where s.branch_id = $1
union all select id from scene_asset_instances where branch_id = $1
union all select x.id from shot_asset_assignments x join scenes s on s.id = x.scene_id where s.branch_id = $1
union all select e.id from transformation_events e join scenes s on s.id = e.scene_id where s.branch_id = $1
"""
# References of the branch's rows that leave the branch (must be none in a fork).
OUTSIDE = """
select
  (select count(*) from scene_asset_instances i join scene_asset_instances p on p.id = i.inherited_from_instance_id
    where i.branch_id = $1 and p.branch_id <> $1) as links,
  (select count(*) from shots sh join scenes s on s.id = sh.scene_id,
          jsonb_array_elements(sh.reference_image_order || sh.end_frame_reference_image_order) e
    where s.branch_id = $1
      and not exists (select 1 from scene_asset_instances i
                       where i.id::text = lower(e ->> 'scene_asset_instance_id') and i.scene_id = s.id)) as instance_refs,
  (select count(*) from shots sh join scenes s on s.id = sh.scene_id,
          jsonb_array_elements(sh.reference_image_order || sh.end_frame_reference_image_order) e
    where s.branch_id = $1
      and not exists (select 1 from project_assets a
                       where a.id::text = lower(e ->> 'project_asset_id') and a.branch_id = $1)) as asset_refs,
  (select count(*) from shots sh join scenes s on s.id = sh.scene_id,
          jsonb_array_elements(sh.reference_image_order || sh.end_frame_reference_image_order) e
    where s.branch_id = $1) as refs
"""
EVENTS = """
insert into transformation_events (project_id, scene_id, shot_id, scene_asset_instance_id, post_description)
select i.project_id, i.scene_id, sh.id, i.id, 'Soaked'
  from scene_asset_instances i join shots sh on sh.scene_id = i.scene_id
 where i.branch_id = $1 and sh.shot_order = 1
"""


async def _bench_film(database_url: str, owner: str, scenes: int, assets: int) -> Any:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with conn.transaction():
            film = await standard_film(conn, owner, scenes=scenes, assets=assets, shots=3, title=f"Fork {scenes}")
            await conn.execute(EVENTS, uuid.UUID(film.branch_id))
            await conn.execute(
                "insert into stage_states (project_id, branch_id, stage_number, version, content)"
                " values ($1, $2, 5, 1, '{\"locked_visual_style_capsule_id\": \"noir\"}')",
                uuid.UUID(film.project_id), uuid.UUID(film.branch_id),
            )
        return film
    finally:
        await conn.close()


async def _query(database_url: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def test_a_fork_is_a_deep_copy_pointing_only_into_itself(
    alice: Client, database_url: str, statements: Any
) -> None:
    counts = []
    for scenes, assets in ((3, 4), (6, 9)):
        film = await _bench_film(database_url, str(alice.user_id), scenes, assets)
        # Stored reference lists to remap.
        await alice.data("mutation($s: UUID!) { generateShotPrompts(sceneId: $s) { id } }", {"s": film.scenes[2]})
        statements.take()
        fork = (await alice.data(FORK, {"b": film.branch_id, "n": f"Alt {scenes}"}))["forkBranch"]
        counts.append(statements.take())
        assert fork["forkedFrom"]["id"] == film.branch_id
        assert fork["project"]["activeBranch"]["id"] == film.branch_id  # the active branch stays
        src, dst = uuid.UUID(film.branch_id), uuid.UUID(fork["id"])
        assert dict((await _query(database_url, COUNTS, src))[0]) == dict((await _query(database_url, COUNTS, dst))[0])
        src_ids = {r["id"] for r in await _query(database_url, IDS, src)}
        dst_ids = {r["id"] for r in await _query(database_url, IDS, dst)}
        assert len(dst_ids) == len(src_ids) and not src_ids & dst_ids
        outside = dict((await _query(database_url, OUTSIDE, dst))[0])
        assert outside["refs"] > 0 and outside == {**outside, "links": 0, "instance_refs": 0, "asset_refs": 0}
        original, copy = await scenes_of(alice, film.branch_id), await scenes_of(alice, fork["id"])
        assert_chains_follow_the_story(copy)
        assert [list(states([s]).values()) for s in copy] == [list(states([s]).values()) for s in original]
        # An edit of the fork stays in the fork.
        target = copy[1]["assetInstances"][0]["id"]
        await alice.data(UPDATE_INSTANCE, {"id": target, "i": {"statusTags": ["forked only"]}})
        await alice.data(DELETE_SCENE, {"id": copy[0]["id"]})
        assert await scenes_of(alice, film.branch_id) == original
    # 13 for the copy (claims, branch lock, branch, id map and its rows, 7 tables, revision kind)
    # and 4 for the answer (forkedFrom, project and its active branch: claims + one read each)
    assert counts == [17, 17]


async def test_fork_names_are_unique_in_the_project_ignoring_case(alice: Client, bob: Client) -> None:
    film = await new_film(alice)
    await alice.data(FORK, {"b": film.branch_id, "n": "Alt"})
    assert await alice.code(FORK, {"b": film.branch_id, "n": "ALT"}) == "CONFLICT"
    assert await alice.code(FORK, {"b": film.branch_id, "n": "MAIN"}) == "CONFLICT"
    assert await alice.code(FORK, {"b": film.branch_id, "n": ""}) == "BAD_USER_INPUT"
    assert await bob.code(FORK, {"b": film.branch_id, "n": "Mine"}) == "NOT_FOUND"
    branches = await alice.data("query($p: UUID!) { project(id: $p) { branches { name forkedFrom { id } } } }",
                                {"p": film.project_id})
    assert [b["name"] for b in branches["project"]["branches"]] == ["main", "Alt"]


SET_ACTIVE = "mutation($p: UUID!, $b: UUID!) { setActiveBranch(projectId: $p, branchId: $b) { activeBranch { id name } } }"


async def test_set_active_branch(alice: Client, bob: Client) -> None:
    film = await new_film(alice)
    other = await new_film(alice, "Other")
    fork = (await alice.data(FORK, {"b": film.branch_id, "n": "Alt"}))["forkBranch"]
    done = (await alice.data(SET_ACTIVE, {"p": film.project_id, "b": fork["id"]}))["setActiveBranch"]
    assert done["activeBranch"] == {"id": fork["id"], "name": "Alt"}
    assert await alice.code(SET_ACTIVE, {"p": film.project_id, "b": other.branch_id}) == "BAD_USER_INPUT"
    assert await alice.code(SET_ACTIVE, {"p": film.project_id, "b": str(uuid.uuid4())}) == "BAD_USER_INPUT"
    assert await bob.code(SET_ACTIVE, {"p": film.project_id, "b": film.branch_id}) == "NOT_FOUND"
    bobs = await new_film(bob)
    assert await alice.code(SET_ACTIVE, {"p": film.project_id, "b": bobs.branch_id}) == "BAD_USER_INPUT"


# -- addAssetToScene -------------------------------------------------------------------------------


async def test_add_asset_latest_inherits_across_a_gap(alice: Client) -> None:
    film = await five_scenes(alice)
    scenes = await scenes_of(alice, film.branch_id)
    for n in (2, 3, 4):
        await alice.data(DELETE_INSTANCE, {"id": instance_of(scenes, n, "Mara")["id"]})  # type: ignore[index]
    mara1 = instance_of(scenes, 1, "Mara")
    added = (await alice.data(ADD, {"i": {"sceneId": film.scenes[4], "projectAssetId": film.assets["Mara"]}}))
    made = added["addAssetToScene"]
    assert made["inheritedFrom"]["id"] == mara1["id"]  # type: ignore[index]
    assert made["statusTags"] == ["muddy"] and made["modificationCount"] == 0
    after = await scenes_of(alice, film.branch_id)
    assert instance_of(after, 5, "Mara")["inheritedFrom"]["id"] == made["id"]  # type: ignore[index]
    assert_chains_follow_the_story(after)
    assert await alice.code(ADD, {"i": {"sceneId": film.scenes[4], "projectAssetId": film.assets["Mara"]}}) == "CONFLICT"


async def test_add_asset_none_takes_the_asset_now_but_still_links(alice: Client) -> None:
    film = await five_scenes(alice)
    scenes = await scenes_of(alice, film.branch_id)
    await alice.data(DELETE_INSTANCE, {"id": instance_of(scenes, 3, "Mara")["id"]})  # type: ignore[index]
    made = (await alice.data(ADD, {"i": {
        "sceneId": film.scenes[3], "projectAssetId": film.assets["Mara"], "inheritFrom": "NONE",
        "descriptionOverride": None, "statusTags": None}}))["addAssetToScene"]
    assert made["statusTags"] == [] and made["descriptionOverride"] is None and made["carryForward"] is True
    assert made["inheritedFrom"]["id"] == instance_of(scenes, 2, "Mara")["id"]  # type: ignore[index]
    # Scene 4's Mara keeps its link to the new instance.
    after = await scenes_of(alice, film.branch_id)
    assert instance_of(after, 4, "Mara")["inheritedFrom"]["id"] == made["id"]  # type: ignore[index]
    given = await alice.post(ADD, {"i": {"sceneId": film.scenes[3], "projectAssetId": film.assets["Mara"],
                                         "inheritFrom": None, "statusTags": ["wet"], "descriptionOverride": ""}})
    assert given["errors"][0]["extensions"]["code"] == "CONFLICT"


async def test_add_asset_given_override_and_tags_replace_the_inherited_ones(alice: Client) -> None:
    film = await five_scenes(alice)
    scenes = await scenes_of(alice, film.branch_id)
    await alice.data(DELETE_INSTANCE, {"id": instance_of(scenes, 2, "Mara")["id"]})  # type: ignore[index]
    made = (await alice.data(ADD, {"i": {
        "sceneId": film.scenes[2], "projectAssetId": film.assets["Mara"],
        "statusTags": ["clean"], "descriptionOverride": "  Mara, washed  "}}))["addAssetToScene"]
    assert made["statusTags"] == ["clean"] and made["effectiveDescription"] == "Mara, washed"


SHOT_CASTS = """
query($s: UUID!) { scene(id: $s) { hasShotAssignments shots { shotLabel
  assetAssignments { presenceType sceneAssetInstance { projectAsset { name } } }
  frameReferences { usesLegacyFallback } } } }
"""


async def test_add_asset_with_shots_to_a_never_initialised_scene_keeps_the_others_throughout(alice: Client) -> None:
    film = await new_film(alice)
    for name, kind in (("Mara", "CHARACTER"), ("Pier", "LOCATION"), ("Lamp", "PROP")):
        await film.asset(name, kind)
    await alice.data("mutation($b: UUID!, $ids: [UUID!]) { lockProjectAssets(branchId: $b, ids: $ids) { id } }",
                     {"b": film.branch_id, "ids": [film.assets["Mara"], film.assets["Pier"]]})
    await film.scene(1)
    await alice.data(INHERIT, {"s": film.scenes[1]})
    for label, order in (("1A", 1), ("1B", 2), ("1C", 3)):
        await film.shot(1, label, order)
    await alice.data(STAGE, {"s": film.scenes[1]})
    made = (await alice.data(ADD, {"i": {
        "sceneId": film.scenes[1], "projectAssetId": film.assets["Lamp"],
        "shots": [{"shotId": film.shots["1B"], "presenceType": "ENTERS"}, {"shotId": film.shots["1C"]}]}}))
    assert made["addAssetToScene"]["inheritedFrom"] is None
    scene = (await alice.data(SHOT_CASTS, {"s": film.scenes[1]}))["scene"]
    assert scene["hasShotAssignments"]
    casts = {s["shotLabel"]: {(a["sceneAssetInstance"]["projectAsset"]["name"], a["presenceType"])
                              for a in s["assetAssignments"]} for s in scene["shots"]}
    others = {("Mara", "THROUGHOUT"), ("Pier", "THROUGHOUT")}
    assert casts == {"1A": others, "1B": others | {("Lamp", "ENTERS")}, "1C": others | {("Lamp", "THROUGHOUT")}}
    assert not any(s["frameReferences"]["usesLegacyFallback"] for s in scene["shots"])
    locks = (await alice.data(SCENE_LOCKS, {"s": film.scenes[1]}))["scene"]["stageLocks"]
    assert locks == [{"stage": 9, "status": "OUTDATED"}]


async def test_add_asset_shot_errors(alice: Client) -> None:
    film = await five_scenes(alice)
    await film.shot(1, "1A", 1)
    await film.shot(2, "2A", 1)
    scenes = await scenes_of(alice, film.branch_id)
    await alice.data(DELETE_INSTANCE, {"id": instance_of(scenes, 1, "Lamp")["id"]})  # type: ignore[index]
    base = {"sceneId": film.scenes[1], "projectAssetId": film.assets["Lamp"]}
    assert await alice.code(ADD, {"i": {**base, "shots": [{"shotId": film.shots["2A"]}]}}) == "BAD_USER_INPUT"
    assert await alice.code(ADD, {"i": {**base, "shots": [{"shotId": str(uuid.uuid4())}]}}) == "BAD_USER_INPUT"
    repeated = [{"shotId": film.shots["1A"]}, {"shotId": film.shots["1A"], "presenceType": "EXITS"}]
    assert await alice.code(ADD, {"i": {**base, "shots": repeated}}) == "CONFLICT"
    assert await alice.code(ADD, {"i": {**base, "projectAssetId": str(uuid.uuid4())}}) == "NOT_FOUND"
    other = await new_film(alice, "Other")
    foreign = await other.asset("Stranger")
    assert await alice.code(ADD, {"i": {**base, "projectAssetId": foreign}}) == "BAD_USER_INPUT"
    after = (await alice.data(SHOT_CASTS, {"s": film.scenes[1]}))["scene"]
    assert not after["hasShotAssignments"]  # nothing was written


# -- deleteProjectAsset, deleteProject, updateProject ----------------------------------------------


async def test_delete_project_asset_removes_its_instances_and_their_assignments(alice: Client) -> None:
    film = await five_scenes(alice)
    await film.shot(2, "2A", 1)
    await alice.data(STAGE, {"s": film.scenes[2]})
    await alice.data(STAGE, {"s": film.scenes[3]})
    await alice.data("mutation($s: UUID!) { autoPopulateShotAssignments(sceneId: $s) { created } }", {"s": film.scenes[2]})
    await alice.data(STAGE, {"s": film.scenes[2]})
    done = await alice.data("mutation($id: UUID!) { deleteProjectAsset(id: $id) { id } }", {"id": film.assets["Lamp"]})
    assert done["deleteProjectAsset"]["id"] == film.assets["Lamp"]
    after = await scenes_of(alice, film.branch_id)
    assert all(instance_of(after, n, "Lamp") is None for n in range(1, 6))
    assert_chains_follow_the_story(after)
    cast = (await alice.data(SHOT_CASTS, {"s": film.scenes[2]}))["scene"]["shots"][0]["assetAssignments"]
    assert {a["sceneAssetInstance"]["projectAsset"]["name"] for a in cast} == {"Mara", "Pier"}
    locks = {s["sceneNumber"]: s["stageLocks"] for s in after}
    assert locks[2] == [{"stage": 9, "status": "OUTDATED"}]  # its instance had assignments
    assert locks[3] == [{"stage": 9, "status": "OUTDATED"}]  # under the legacy fallback


async def test_update_and_delete_project(alice: Client, bob: Client, database_url: str) -> None:
    film = await five_scenes(alice)
    update = "mutation($id: UUID!, $i: UpdateProjectInput!) { updateProject(id: $id, input: $i) { id title } }"
    assert (await alice.data(update, {"id": film.project_id, "i": {"title": "Renamed"}}))["updateProject"]["title"] == "Renamed"
    assert await alice.code(update, {"id": film.project_id, "i": {"title": None}}) == "BAD_USER_INPUT"
    assert await alice.code(update, {"id": film.project_id, "i": {"title": ""}}) == "BAD_USER_INPUT"
    assert await bob.code(update, {"id": film.project_id, "i": {"title": "Mine"}}) == "NOT_FOUND"
    assert (await alice.data(update, {"id": film.project_id, "i": {}}))["updateProject"]["title"] == "Renamed"
    delete = "mutation($id: UUID!) { deleteProject(id: $id) { id } }"
    assert await bob.code(delete, {"id": film.project_id}) == "NOT_FOUND"
    assert (await alice.data(delete, {"id": film.project_id}))["deleteProject"]["id"] == film.project_id
    assert (await alice.data("query($p: UUID!) { project(id: $p) { id } }", {"p": film.project_id}))["project"] is None
    left = await _query(database_url, "select count(*) as n from scenes where project_id = $1", uuid.UUID(film.project_id))
    assert left[0]["n"] == 0


# -- scenes and shots: updates, updatedAt, explicit nulls ------------------------------------------


async def test_update_scene_fields_nulls_and_updated_at(alice: Client) -> None:
    film = await new_film(alice)
    create = """mutation($i: CreateSceneInput!) { createScene(input: $i) { id storyDay timeOfDay updatedAt } }"""
    made = (await alice.data(create, {"i": {"branchId": film.branch_id, "sceneNumber": 1, "slug": "s",
                                            "storyDay": 2, "timeOfDay": "DUSK"}}))["createScene"]
    assert made["storyDay"] == 2 and made["timeOfDay"] == "DUSK"
    nulls = (await alice.data(create, {"i": {"branchId": film.branch_id, "sceneNumber": 2, "slug": "t",
                                             "storyDay": None, "timeOfDay": None}}))["createScene"]
    assert nulls["storyDay"] is None and nulls["timeOfDay"] is None
    sid = made["id"]
    set_all = {"slug": "pier", "scriptExcerpt": "EXT. PIER", "endStateSummary": "wet", "storyDay": 3, "timeOfDay": "NIGHT"}
    first = (await alice.data(UPDATE_SCENE, {"id": sid, "i": set_all}))["updateScene"]
    assert first["updatedAt"] > made["updatedAt"]
    # Explicit nulls: the clearable fields clear, slug refuses.
    cleared = (await alice.data(UPDATE_SCENE, {"id": sid, "i": {
        "scriptExcerpt": None, "endStateSummary": None, "storyDay": None, "timeOfDay": None}}))["updateScene"]
    assert (cleared["scriptExcerpt"], cleared["endStateSummary"], cleared["storyDay"], cleared["timeOfDay"]) == (
        "", None, None, None)
    assert cleared["slug"] == "pier"
    error = await alice.error(UPDATE_SCENE, {"id": sid, "i": {"slug": None}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "slug" in error["message"]
    for bad in ({"storyDay": 0}, {"slug": "x" * 201}, {"scriptExcerpt": "a\x00b"}):
        assert await alice.code(UPDATE_SCENE, {"id": sid, "i": bad}) == "BAD_USER_INPUT", bad
    # No change, no write; a stage change does not move updatedAt either.
    same = (await alice.data(UPDATE_SCENE, {"id": sid, "i": {"slug": "pier"}}))["updateScene"]
    assert same["updatedAt"] == cleared["updatedAt"]
    await alice.data(STAGE, {"s": sid})
    assert (await alice.data(SCENE_LOCKS, {"s": sid}))["scene"]["updatedAt"] == cleared["updatedAt"]
    # Optimistic concurrency: stale is CONFLICT (after NOT_FOUND and input errors), current passes.
    stale = made["updatedAt"]
    assert await alice.code(UPDATE_SCENE, {"id": sid, "i": {"slug": "late"}, "at": stale}) == "CONFLICT"
    assert await alice.code(UPDATE_SCENE, {"id": sid, "i": {"slug": None}, "at": stale}) == "BAD_USER_INPUT"
    assert await alice.code(UPDATE_SCENE, {"id": str(uuid.uuid4()), "i": {"slug": "x"}, "at": stale}) == "NOT_FOUND"
    ok = (await alice.data(UPDATE_SCENE, {"id": sid, "i": {"slug": "now"}, "at": cleared["updatedAt"]}))["updateScene"]
    assert ok["slug"] == "now"
    assert (await alice.data(UPDATE_SCENE, {"id": sid, "i": {}, "at": None}))["updateScene"]["slug"] == "now"


async def test_update_shot_fields_nulls_invalidation_and_updated_at(alice: Client) -> None:
    film = await new_film(alice)
    await film.scene(1)
    shot = await film.shot(1, "1A", 1, setting="Pier", action="Waves", camera="Wide")
    await film.shot(1, "1B", 2)
    await alice.data(STAGE, {"s": film.scenes[1]})
    current = (await alice.data(UPDATE_SHOT, {"id": shot, "i": {"shotLabel": "1A"}}))["updateShot"]
    assert (await alice.data(SCENE_LOCKS, {"s": film.scenes[1]}))["scene"]["stageLocks"][0]["status"] == "LOCKED"
    renamed = (await alice.data(UPDATE_SHOT, {"id": shot, "i": {"shotLabel": "1Z", "durationSeconds": 9}}))["updateShot"]
    assert renamed["updatedAt"] > current["updatedAt"]
    assert (await alice.data(SCENE_LOCKS, {"s": film.scenes[1]}))["scene"]["stageLocks"][0]["status"] == "LOCKED"
    cleared = (await alice.data(UPDATE_SHOT, {"id": shot, "i": {"setting": None, "action": None, "camera": None}}))
    assert {k: cleared["updateShot"][k] for k in ("setting", "action", "camera")} == dict.fromkeys(
        ("setting", "action", "camera"))
    assert (await alice.data(SCENE_LOCKS, {"s": film.scenes[1]}))["scene"]["stageLocks"][0]["status"] == "OUTDATED"
    for field in ("shotLabel", "durationSeconds", "continuesFromPrevious"):
        error = await alice.error(UPDATE_SHOT, {"id": shot, "i": {field: None}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and field in error["message"], field
    assert await alice.code(UPDATE_SHOT, {"id": shot, "i": {"shotLabel": "1B"}}) == "CONFLICT"
    assert await alice.code(UPDATE_SHOT, {"id": shot, "i": {"durationSeconds": 0}}) == "BAD_USER_INPUT"
    stale = renamed["updatedAt"]
    assert await alice.code(UPDATE_SHOT, {"id": shot, "i": {"action": "x"}, "at": stale}) == "CONFLICT"
    unchanged = (await alice.data("query($id: UUID!) { shot(id: $id) { action updatedAt } }", {"id": shot}))["shot"]
    assert unchanged["action"] is None and unchanged["updatedAt"] == cleared["updateShot"]["updatedAt"]
    # Prompts do not move updatedAt.
    await alice.data("mutation($s: UUID!) { generateShotPrompts(sceneId: $s) { id } }", {"s": film.scenes[1]})
    after = (await alice.data("query($id: UUID!) { shot(id: $id) { framePrompt updatedAt } }", {"id": shot}))["shot"]
    assert after["framePrompt"] is not None and after["updatedAt"] == unchanged["updatedAt"]


REORDER = "mutation($s: UUID!, $ids: [UUID!]!) { reorderShots(sceneId: $s, shotIds: $ids) { id shotOrder } }"


async def test_reorder_and_delete_shots(alice: Client, bob: Client) -> None:
    film = await new_film(alice)
    await film.scene(1)
    await film.scene(2)
    a, b, c = [await film.shot(1, label, n) for n, label in enumerate(("1A", "1B", "1C"), 1)]
    other = await film.shot(2, "2A", 1)
    await alice.data(STAGE, {"s": film.scenes[1]})
    done = (await alice.data(REORDER, {"s": film.scenes[1], "ids": [c, a, b]}))["reorderShots"]
    assert done == [{"id": c, "shotOrder": 1}, {"id": a, "shotOrder": 2}, {"id": b, "shotOrder": 3}]
    assert (await alice.data(SCENE_LOCKS, {"s": film.scenes[1]}))["scene"]["stageLocks"][0]["status"] == "OUTDATED"
    for ids, where in (([c, a, other], "shotIds[2]"), ([c, c, a, b], "shotIds[1]"), ([c, str(uuid.uuid4())], "shotIds[1]"),
                       ([c, a], "left out")):
        error = await alice.error(REORDER, {"s": film.scenes[1], "ids": ids})
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and where in error["message"], (ids, error)
    assert await bob.code(REORDER, {"s": film.scenes[1], "ids": [c, a, b]}) == "NOT_FOUND"
    await alice.data(STAGE, {"s": film.scenes[1]})
    assert (await alice.data("mutation($id: UUID!) { deleteShot(id: $id) { id } }", {"id": a}))["deleteShot"]["id"] == a
    assert (await alice.data(SCENE_LOCKS, {"s": film.scenes[1]}))["scene"]["stageLocks"][0]["status"] == "OUTDATED"
    shots = (await alice.data("query($s: UUID!) { scene(id: $s) { shots { id } } }", {"s": film.scenes[1]}))["scene"]
    assert [s["id"] for s in shots["shots"]] == [c, b]


# -- handoff ---------------------------------------------------------------------------------------

FRAMES = "mutation($id: UUID!) { generateShotFrames(shotId: $id) { id jobType } }"
SHOT_FRAMES = """query($s: UUID!) { scene(id: $s) { shots { shotLabel continuesFromPrevious
  startFrame { id jobType shotId } endFrame { id jobType shotId } } } }"""


async def test_a_continuing_shot_takes_its_start_frame_from_the_previous_shots_end_frame(alice: Client) -> None:
    film = await new_film(alice)
    await film.asset("Mara", image="https://img.example/mara.png")
    await film.lock_assets()
    await film.lock_style()
    await film.scene(1)
    await alice.data(INHERIT, {"s": film.scenes[1]})
    first = await film.shot(1, "1A", 1)
    second = await film.shot(1, "1B", 2, continuesFromPrevious=True)
    await alice.data("mutation($s: UUID!) { generateShotPrompts(sceneId: $s) { id } }", {"s": film.scenes[1]})
    queued = (await alice.data(FRAMES, {"id": first}))["generateShotFrames"]
    assert [j["jobType"] for j in queued] == ["START_FRAME", "END_FRAME"]
    only_end = (await alice.data(FRAMES, {"id": second}))["generateShotFrames"]
    assert [j["jobType"] for j in only_end] == ["END_FRAME"]
    shots = (await alice.data(SHOT_FRAMES, {"s": film.scenes[1]}))["scene"]["shots"]
    assert shots[0]["startFrame"]["id"] == queued[0]["id"] and shots[0]["endFrame"]["id"] == queued[1]["id"]
    assert shots[1]["continuesFromPrevious"] is True
    assert shots[1]["startFrame"] == shots[0]["endFrame"] and shots[1]["endFrame"]["id"] == only_end[0]["id"]
    # The flag on the first shot: no start frame; cleared again, its own START_FRAME job.
    await alice.data(UPDATE_SHOT, {"id": first, "i": {"continuesFromPrevious": True}})
    shots = (await alice.data(SHOT_FRAMES, {"s": film.scenes[1]}))["scene"]["shots"]
    assert shots[0]["startFrame"] is None
    await alice.data(UPDATE_SHOT, {"id": first, "i": {"continuesFromPrevious": False}})
    shots = (await alice.data(SHOT_FRAMES, {"s": film.scenes[1]}))["scene"]["shots"]
    assert shots[0]["startFrame"]["id"] == queued[0]["id"]


@pytest.mark.parametrize("flag", [None, False])
async def test_create_shot_continues_from_previous_null_is_omitted(alice: Client, flag: bool | None) -> None:
    film = await new_film(alice)
    await film.scene(1)
    create = "mutation($i: CreateShotInput!) { createShot(input: $i) { continuesFromPrevious updatedAt } }"
    made = await alice.data(create, {"i": {"sceneId": film.scenes[1], "shotLabel": "1A", "shotOrder": 1,
                                           "durationSeconds": 3, "continuesFromPrevious": flag}})
    assert made["createShot"]["continuesFromPrevious"] is False


async def test_add_asset_to_scene_costs_the_same_for_one_shot_and_for_ten(alice: Client, statements: Any) -> None:
    counts = []
    for shots in (1, 10):
        film = await new_film(alice, f"{shots} shots")
        await film.asset("Mara")
        await film.asset("Pier", "LOCATION")
        await alice.data("mutation($b: UUID!, $ids: [UUID!]) { lockProjectAssets(branchId: $b, ids: $ids) { id } }",
                         {"b": film.branch_id, "ids": [film.assets["Mara"]]})
        await film.scene(1)
        await film.scene(2)
        await alice.data(INHERIT, {"s": film.scenes[1]})
        await alice.data(INHERIT, {"s": film.scenes[2]})
        ids = [await film.shot(2, f"2{chr(65 + n)}", n + 1) for n in range(shots)]
        statements.take()
        await alice.data(ADD, {"i": {"sceneId": film.scenes[2], "projectAssetId": film.assets["Pier"],
                                     "shots": [{"shotId": i} for i in ids]}})
        counts.append(statements.take())
        cast = (await alice.data(SHOT_CASTS, {"s": film.scenes[2]}))["scene"]["shots"]
        assert len(cast) == shots and all(len(s["assetAssignments"]) == 2 for s in cast)
    assert counts == [15, 15]  # the write and the answer's loader reads, whatever the shot count
