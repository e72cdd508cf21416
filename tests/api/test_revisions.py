"""Revision history over the API (docs/revisions.md): every write path's revisions, the lists,
revert, diffs against the source, and forward propagation."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from services.core.errors import NotFound
from tests.api.test_instances import (
    CREATE,
    DELETE,
    INHERIT,
    LOCKS,
    RESYNC,
    STAGE,
    UPDATE,
    UPDATE_ASSET,
    inherit,
    three_scene_film,
)
from tests.support import Client
from tests.support.film import Film, film_with_instances, new_film

STATE = "descriptionOverride effectiveDescription statusTags imageKeyUrl imageIsOwn carryForward baseVersion"
REVISION = f"""
id number kind sceneAssetInstanceId sceneId projectAssetId changedFields reason actorUserId createdAt
before {{ {STATE} }} after {{ {STATE} }}
"""
HISTORY = f"""
query($id: UUID!, $first: Int, $before: Int) {{
  sceneAssetInstance(id: $id) {{
    id edited modificationCount lastModifiedField modificationReason
    revisions(first: $first, beforeNumber: $before) {{ {REVISION} }}
  }}
}}
"""
ASSET_HISTORY = f"""
query($id: UUID!, $first: Int) {{
  branch(id: $id) {{ assets {{ name revisions(first: $first) {{ {REVISION} }} }} }}
}}
"""
REVERT = """
mutation($id: UUID!, $r: Int!, $n: Int, $reason: String) {
  revertSceneAssetInstance(id: $id, revision: $r, expectedModificationCount: $n, reason: $reason) {
    id descriptionOverride effectiveDescription statusTags imageKeyUrl carryForward edited
    modificationCount lastModifiedField modificationReason
  }
}
"""
PROPAGATE = """
mutation($id: UUID!, $dry: Boolean) {
  propagateSceneAssetInstance(id: $id, dryRun: $dry) {
    dryRun unchangedCount
    updated { id scene { sceneNumber } projectAsset { name } statusTags descriptionOverride carryForward }
    stoppedAt { id scene { sceneNumber } }
  }
}
"""
DIFF = """
query($id: UUID!) {
  sceneAssetInstance(id: $id) {
    diffFromSource {
      sourceInstanceId unchanged tagsAdded tagsRemoved descriptionChanged
      previousEffectiveDescription imageChanged carryForwardChanged
    }
  }
}
"""
CHAIN_STATES = """
query($id: UUID!) {
  branch(id: $id) {
    scenes {
      sceneNumber
      assetInstances {
        id projectAsset { name } descriptionOverride effectiveDescription statusTags imageKeyUrl
        carryForward edited modificationCount
      }
    }
  }
}
"""


async def history(client: Client, instance_id: str, first: int | None = None, before: int | None = None) -> dict[str, Any]:
    data = await client.data(HISTORY, {"id": instance_id, "first": first, "before": before})
    return data["sceneAssetInstance"]  # type: ignore[no-any-return]


def state(
    *, override: str | None = None, effective: str, tags: list[str] | None = None,
    image: str | None = None, own: bool = False, carry: bool = True, version: int = 1,
) -> dict[str, Any]:
    return {
        "descriptionOverride": override, "effectiveDescription": effective, "statusTags": tags or [],
        "imageKeyUrl": image, "imageIsOwn": own, "carryForward": carry, "baseVersion": version,
    }


MARA = "https://img.example/mara.png"


# -- every write path ---------------------------------------------------------------------


async def test_inheriting_records_bootstrapped_then_inherited_revisions_of_the_actor(alice: Client) -> None:
    film = await three_scene_film(alice)
    first = (await inherit(alice, film.scenes[1]))["instances"][0]
    second = (await inherit(alice, film.scenes[2]))["instances"][0]
    for instance, kind, scene in ((first, "BOOTSTRAPPED", 1), (second, "INHERITED", 2)):
        seen = await history(alice, instance["id"])
        assert seen["edited"] is False
        [revision] = seen["revisions"]
        assert revision["number"] == 1 and revision["kind"] == kind
        assert revision["changedFields"] == [] and revision["before"] is None and revision["reason"] is None
        assert revision["after"] == state(effective="An old keeper", image=MARA)
        assert revision["actorUserId"] == alice.user_id
        assert revision["sceneAssetInstanceId"] == instance["id"]
        assert revision["sceneId"] == film.scenes[scene]
        assert revision["projectAssetId"] == film.assets["Mara"]


async def test_create_records_created_and_is_edited_only_when_its_override_or_tags_made_a_difference(alice: Client) -> None:
    film = await three_scene_film(alice)
    plain = (await alice.data(CREATE, {"i": {"sceneId": film.scenes[1], "projectAssetId": film.assets["Unlocked"],
                                             "descriptionOverride": " ", "statusTags": []}}))["createSceneAssetInstance"]
    given = (await alice.data(CREATE, {"i": {"sceneId": film.scenes[2], "projectAssetId": film.assets["Unlocked"],
                                             "statusTags": ["torn"]}}))["createSceneAssetInstance"]
    seen = await history(alice, plain["id"])
    assert seen["edited"] is False
    assert [(r["number"], r["kind"], r["before"]) for r in seen["revisions"]] == [(1, "CREATED", None)]
    assert seen["revisions"][0]["after"] == state(effective="Never locked")
    seen = await history(alice, given["id"])
    assert seen["edited"] is True
    assert seen["revisions"][0]["after"]["statusTags"] == ["torn"]
    assert seen["revisions"][0]["actorUserId"] == alice.user_id


async def test_an_update_records_its_changed_fields_states_and_reason_and_a_no_op_records_nothing(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    await alice.data(UPDATE, {"id": mara["id"], "i": {
        "descriptionOverride": "Mud-covered keeper", "statusTags": ["muddy"],
        "imageKeyUrl": "https://img.example/own.png", "modificationReason": "falls off the pier"}})
    # The same values again, and an input that changes nothing at all: no revision.
    await alice.data(UPDATE, {"id": mara["id"], "i": {"statusTags": ["muddy"], "modificationReason": "again"}})
    await alice.data(UPDATE, {"id": mara["id"], "i": {}})
    await alice.data(UPDATE, {"id": mara["id"], "i": {"carryForward": False}})
    seen = await history(alice, mara["id"])
    assert seen["edited"] is True
    assert [r["number"] for r in seen["revisions"]] == [3, 2, 1]  # newest first
    newest, edit, _ = seen["revisions"]
    assert edit["kind"] == "UPDATED"
    assert edit["changedFields"] == [
        "description_override", "effective_description", "status_tags", "image_key_url", "image_is_own"]
    assert edit["before"] == state(effective="An old keeper", image=MARA)
    assert edit["after"] == state(override="Mud-covered keeper", effective="Mud-covered keeper", tags=["muddy"],
                                  image="https://img.example/own.png", own=True)
    assert edit["reason"] == "falls off the pier" and edit["actorUserId"] == alice.user_id
    assert newest["changedFields"] == ["carry_forward"] and newest["reason"] is None
    assert newest["before"] == edit["after"] and newest["after"]["carryForward"] is False


async def test_resync_records_resynced_without_a_reason_and_marks_the_instance_edited(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    await alice.data(UPDATE_ASSET, {"id": film.assets["Mara"], "i": {"description": "Older keeper",
                                                                     "imageKeyUrl": "https://img.example/m2.png"}})
    await alice.data(RESYNC, {"id": mara["id"]})
    await alice.data(RESYNC, {"id": mara["id"]})  # nothing left to follow: no revision
    seen = await history(alice, mara["id"])
    assert seen["edited"] is True
    resynced, _ = seen["revisions"]
    assert (resynced["number"], resynced["kind"], resynced["reason"]) == (2, "RESYNCED", None)
    assert resynced["changedFields"] == ["effective_description", "image_key_url", "base_version"]
    assert resynced["after"] == state(effective="Older keeper", image="https://img.example/m2.png", version=2)


async def test_the_workers_image_records_image_generated_with_no_actor(alice: Client) -> None:
    _, instances = await film_with_instances(alice)
    mara = instances["Mara"]
    queued = await alice.data("mutation($id: UUID!) { generateSceneAssetImage(instanceId: $id) { id } }", {"id": mara})
    job = queued["generateSceneAssetImage"]["id"]
    for _ in range(300):
        status = (await alice.data("query($id: UUID!) { imageJob(id: $id) { status imageUrl } }", {"id": job}))["imageJob"]
        if status["status"] in ("COMPLETED", "FAILED"):
            break
        await asyncio.sleep(0.05)
    assert status["status"] == "COMPLETED"
    seen = await history(alice, mara)
    assert seen["edited"] is True
    generated = seen["revisions"][0]
    assert (generated["number"], generated["kind"], generated["actorUserId"], generated["reason"]) == (
        2, "IMAGE_GENERATED", None, None)
    assert generated["changedFields"] == ["image_key_url", "image_is_own"]
    assert generated["after"]["imageKeyUrl"] == status["imageUrl"] and generated["after"]["imageIsOwn"] is True


async def test_delete_records_deleted_with_the_last_state_and_the_history_outlives_the_instance(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    await alice.data(UPDATE, {"id": mara["id"], "i": {"statusTags": ["muddy"]}})
    await alice.data(DELETE, {"id": mara["id"]})
    assets = (await alice.data(ASSET_HISTORY, {"id": film.branch_id}))["branch"]["assets"]
    revisions = next(a for a in assets if a["name"] == "Mara")["revisions"]
    assert [(r["number"], r["kind"]) for r in revisions] == [(3, "DELETED"), (2, "UPDATED"), (1, "BOOTSTRAPPED")]
    deleted = revisions[0]
    assert deleted["after"] is None and deleted["changedFields"] == []
    assert deleted["before"] == state(effective="An old keeper", tags=["muddy"], image=MARA)
    assert deleted["actorUserId"] == alice.user_id and deleted["sceneAssetInstanceId"] == mara["id"]


async def _as(server: Any, uid: str | None, sql: str, **params: Any) -> Any:
    async with server.state.db.transaction(uid) as conn:
        result = await conn.execute(text(sql), params)
        return result.all() if result.returns_rows else []


async def test_deleting_a_scene_or_an_asset_records_deleted_for_every_instance_it_takes(alice: Client, server: Any) -> None:
    film = await three_scene_film(alice)
    await inherit(alice, film.scenes[1])
    await inherit(alice, film.scenes[2])
    # The cascades themselves, as the owner under row-level security.
    await _as(server, alice.user_id, "delete from scenes where id = :s", s=film.scenes[1])
    await _as(server, alice.user_id, "delete from project_assets where id = :a", a=film.assets["Anchor"])
    rows = await _as(server, None, """
        select r.scene_id, r.project_asset_id, r.number, r.actor_user_id, r.before is not null
          from instance_revisions r
         where r.project_id = :p and r.kind = 'deleted'""", p=film.project_id)
    names = {uuid.UUID(i): n for n, i in film.assets.items()}
    scenes = {uuid.UUID(i): n for n, i in film.scenes.items()}
    actor = uuid.UUID(alice.user_id)
    assert sorted((scenes[r[0]], names[r[1]], r[2], r[3], r[4]) for r in rows) == [
        (1, "Anchor", 2, actor, True),  # scene 1 went with its three instances
        (1, "Mara", 2, actor, True),
        (1, "lighthouse", 2, actor, True),
        (2, "Anchor", 2, actor, True),  # the asset took its scene-2 instance
    ]


async def test_deleting_a_project_writes_no_revision_and_removes_them_all(alice: Client, server: Any) -> None:
    for kind in (None, "none"):
        film = await three_scene_film(alice)
        await inherit(alice, film.scenes[1])
        async with server.state.db.transaction(alice.user_id, revision_kind=kind) as conn:
            await conn.execute(text("delete from projects where id = :p"), {"p": film.project_id})
        left = await _as(server, None, "select count(*) from instance_revisions where project_id = :p", p=film.project_id)
        assert left[0][0] == 0


async def test_a_fork_copies_revisions_then_records_one_forked_revision_each(alice: Client, server: Any) -> None:
    """The protocol a fork follows: copy ids chosen first, revisions copied, instance copies
    inserted under kind 'forked'."""
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    await alice.data(UPDATE, {"id": mara["id"], "i": {"statusTags": ["muddy"], "modificationReason": "fell"}})
    copy = uuid.uuid4()
    async with server.state.db.transaction(alice.user_id, revision_kind="forked") as conn:
        branch = (await conn.execute(text(
            "insert into branches (project_id, name) values (:p, 'fork') returning id"), {"p": film.project_id})).scalar()
        scene = (await conn.execute(text(
            "insert into scenes (project_id, branch_id, scene_number, slug) values (:p, :b, 1, 's') returning id"),
            {"p": film.project_id, "b": branch})).scalar()
        asset = (await conn.execute(text(
            "insert into project_assets (project_id, branch_id, name, asset_type, description) "
            "select project_id, :b, name, asset_type, description from project_assets where id = :a returning id"),
            {"b": branch, "a": film.assets["Mara"]})).scalar()
        copied = (await conn.execute(text(
            "select continuity_copy_instance_revisions(:b, array[cast(:src as uuid)], array[cast(:dst as uuid)], "
            "array[cast(:scene as uuid)], array[cast(:asset as uuid)])"),
            {"b": branch, "src": mara["id"], "dst": copy, "scene": scene, "asset": asset})).scalar()
        assert copied == 2
        await conn.execute(text("""
            insert into scene_asset_instances (id, project_id, branch_id, scene_id, project_asset_id,
                description_override, image_key_url, status_tags, carry_forward, effective_description,
                base_version, base_description, base_image_key_url, image_is_own, modification_count,
                last_modified_field, modification_reason, edited)
            select :dst, project_id, :b, :scene, :asset, description_override, image_key_url, status_tags,
                   carry_forward, effective_description, base_version, base_description, base_image_key_url,
                   image_is_own, modification_count, last_modified_field, modification_reason, edited
              from scene_asset_instances where id = :src"""),
            {"dst": copy, "b": branch, "scene": scene, "asset": asset, "src": mara["id"]})
    seen = await history(alice, str(copy))
    assert seen["edited"] is True
    assert [(r["number"], r["kind"], r["reason"]) for r in seen["revisions"]] == [
        (3, "FORKED", None), (2, "UPDATED", "fell"), (1, "BOOTSTRAPPED", None)]
    forked = seen["revisions"][0]
    assert forked["before"] == forked["after"] == state(effective="An old keeper", tags=["muddy"], image=MARA)
    assert forked["changedFields"] == [] and forked["sceneId"] == str(scene) and forked["projectAssetId"] == str(asset)
    original = await history(alice, mara["id"])
    assert seen["revisions"][1]["createdAt"] == original["revisions"][0]["createdAt"]
    # Someone else cannot copy into the fork.
    with pytest.raises(NotFound):  # the function's 42501, answered like a missing branch
        await _as(server, str(uuid.uuid4()), "select continuity_copy_instance_revisions(:b, array[cast(:src as uuid)], "
                  "array[gen_random_uuid()], array[cast(:scene as uuid)], array[cast(:asset as uuid)])",
                  b=branch, src=mara["id"], scene=scene, asset=asset)
    assert len((await history(alice, str(copy)))["revisions"]) == 3


# -- the lists --------------------------------------------------------------------------------


async def test_revisions_page_newest_first_below_a_number_and_refuse_a_page_size_outside_1_to_100(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    for n in range(4):
        await alice.data(UPDATE, {"id": mara["id"], "i": {"statusTags": [f"t{n}"]}})
    assert [r["number"] for r in (await history(alice, mara["id"]))["revisions"]] == [5, 4, 3, 2, 1]
    assert [r["number"] for r in (await history(alice, mara["id"], first=2))["revisions"]] == [5, 4]
    assert [r["number"] for r in (await history(alice, mara["id"], first=2, before=4))["revisions"]] == [3, 2]
    assert (await history(alice, mara["id"], before=1))["revisions"] == []
    for bad in (0, -1, 101):
        assert await alice.code(HISTORY, {"id": mara["id"], "first": bad}) == "BAD_USER_INPUT"
    assert await alice.code(ASSET_HISTORY, {"id": film.branch_id, "first": 101}) == "BAD_USER_INPUT"


async def test_asset_revisions_are_every_instance_of_the_asset_by_time_newest_first(alice: Client) -> None:
    film = await three_scene_film(alice)
    first = (await inherit(alice, film.scenes[1]))["instances"][0]
    second = (await inherit(alice, film.scenes[2]))["instances"][0]
    await alice.data(UPDATE, {"id": first["id"], "i": {"statusTags": ["a"]}})
    await alice.data(UPDATE, {"id": second["id"], "i": {"statusTags": ["b"]}})
    assets = (await alice.data(ASSET_HISTORY, {"id": film.branch_id}))["branch"]["assets"]
    mara = next(a for a in assets if a["name"] == "Mara")["revisions"]
    assert [(r["sceneId"], r["kind"]) for r in mara] == [
        (film.scenes[2], "UPDATED"), (film.scenes[1], "UPDATED"), (film.scenes[2], "INHERITED"),
        (film.scenes[1], "BOOTSTRAPPED")]
    times = [r["createdAt"] for r in mara]
    assert times == sorted(times, reverse=True)
    limited = (await alice.data(ASSET_HISTORY, {"id": film.branch_id, "first": 1}))["branch"]["assets"]
    # `first` keeps the newest: an empty answer must not pass for a limited one.
    assert next(a for a in limited if a["name"] == "Mara")["revisions"] == mara[:1]
    assert all(len(a["revisions"]) <= 1 for a in limited)


async def test_history_diffs_and_edited_of_a_whole_branch_cost_what_one_scene_costs(alice: Client, statements: Any) -> None:
    query = """query($id: UUID!) { branch(id: $id) {
        assets { revisions(first: 5) { number } }
        scenes { assetInstances { id edited revisions(first: 3) { number kind }
                  diffFromSource { unchanged tagsAdded } } } } }"""
    counts = []
    for scenes in (1, 8):
        film = await three_scene_film(alice)
        for n in range(4, scenes + 1):
            await film.scene(n)
        for n in range(1, scenes + 1):
            await inherit(alice, film.scenes[n])
        await alice.data(query, {"id": film.branch_id})
        statements.take()
        data = await alice.data(query, {"id": film.branch_id})
        counts.append(statements.take())
        assert len(data["branch"]["scenes"]) == max(scenes, 3)
    assert counts[0] == counts[1], counts


# -- revert -------------------------------------------------------------------------------


async def test_revert_to_revision_1_after_three_edits_restores_the_first_state(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    edits = [{"descriptionOverride": "Muddy keeper", "statusTags": ["muddy"]},
             {"imageKeyUrl": "https://img.example/own.png", "statusTags": ["muddy", "torn"]},
             {"carryForward": False, "descriptionOverride": "Soaked keeper"}]
    for edit in edits:
        await alice.data(UPDATE, {"id": mara["id"], "i": edit})
    reverted = (await alice.data(REVERT, {"id": mara["id"], "r": 1, "n": 3, "reason": "mud was a mistake"}))[
        "revertSceneAssetInstance"]
    assert reverted == {
        "id": mara["id"], "descriptionOverride": None, "effectiveDescription": "An old keeper", "statusTags": [],
        "imageKeyUrl": MARA, "carryForward": True, "edited": True, "modificationCount": 4,
        "lastModifiedField": "description_override", "modificationReason": "mud was a mistake",
    }
    newest = (await history(alice, mara["id"]))["revisions"][0]
    assert (newest["number"], newest["kind"], newest["reason"], newest["actorUserId"]) == (
        5, "REVERTED", "mud was a mistake", alice.user_id)
    assert newest["after"] == state(effective="An old keeper", image=MARA)
    assert newest["changedFields"] == [
        "description_override", "effective_description", "status_tags", "image_key_url", "image_is_own",
        "carry_forward"]
    # Reverting to where it already is changes nothing and records nothing.
    again = (await alice.data(REVERT, {"id": mara["id"], "r": 5}))["revertSceneAssetInstance"]
    assert again["modificationCount"] == 4
    assert len((await history(alice, mara["id"]))["revisions"]) == 5


async def test_revert_keeps_the_current_base_and_takes_an_image_only_when_it_was_the_instances_own(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    await alice.data(UPDATE, {"id": mara["id"], "i": {"imageKeyUrl": "https://img.example/own.png"}})  # revision 2
    await alice.data(UPDATE, {"id": mara["id"], "i": {"imageKeyUrl": None, "statusTags": ["x"]}})
    await alice.data(UPDATE_ASSET, {"id": film.assets["Mara"], "i": {"description": "Older", "imageKeyUrl": "https://img.example/m2.png"}})
    await alice.data(RESYNC, {"id": mara["id"]})
    own = (await alice.data(REVERT, {"id": mara["id"], "r": 2}))["revertSceneAssetInstance"]
    assert own["imageKeyUrl"] == "https://img.example/own.png" and own["effectiveDescription"] == "Older"
    first = (await alice.data(REVERT, {"id": mara["id"], "r": 1}))["revertSceneAssetInstance"]
    assert first["imageKeyUrl"] == "https://img.example/m2.png"  # the base image now, not revision 1's
    assert (await history(alice, mara["id"], first=1))["revisions"][0]["after"] == state(
        effective="Older", image="https://img.example/m2.png", version=2)


async def test_revert_to_a_missing_number_or_a_deletion_is_not_found_and_a_stale_expectation_conflicts(
    alice: Client, server: Any
) -> None:
    film = await three_scene_film(alice)
    mara, lighthouse, _ = (await inherit(alice, film.scenes[1]))["instances"]
    await alice.data(UPDATE, {"id": mara["id"], "i": {"statusTags": ["muddy"]}})
    before = await history(alice, mara["id"])
    for number in (0, 3, -1, 2**31 - 1):
        assert await alice.code(REVERT, {"id": mara["id"], "r": number}) == "NOT_FOUND"
    # A revision with no after-state (a deletion's) cannot be reverted to.
    await _as(server, None, """
        insert into instance_revisions (project_id, branch_id, scene_asset_instance_id, scene_id,
                                        project_asset_id, number, kind, before)
        select project_id, branch_id, id, scene_id, project_asset_id, 9, 'deleted', '{}' from scene_asset_instances
         where id = :id""", id=uuid.UUID(lighthouse["id"]))
    assert await alice.code(REVERT, {"id": lighthouse["id"], "r": 9}) == "NOT_FOUND"
    await alice.data(DELETE, {"id": mara["id"]})
    assert await alice.code(REVERT, {"id": mara["id"], "r": 3}) == "NOT_FOUND"
    other = (await inherit(alice, film.scenes[2]))["instances"][1]
    await alice.data(UPDATE, {"id": other["id"], "i": {"statusTags": ["wet"]}})
    assert await alice.code(REVERT, {"id": other["id"], "r": 1, "n": 0}) == "CONFLICT"
    assert await alice.code(REVERT, {"id": other["id"], "r": 7, "n": 0}) == "NOT_FOUND"  # NOT_FOUND first
    assert await alice.code(REVERT, {"id": other["id"], "r": 1, "reason": "x" * 10_001}) == "BAD_USER_INPUT"
    after = await history(alice, other["id"])
    assert after["revisions"][0]["kind"] == "UPDATED" and after["modificationCount"] == 1
    assert before["revisions"][0]["number"] == 2


async def test_revert_outdates_locked_frame_stages_of_its_scene(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    await alice.data(UPDATE, {"id": mara["id"], "i": {"statusTags": ["muddy"]}})
    await alice.data(STAGE, {"s": film.scenes[1], "n": 9, "st": "LOCKED"})
    await alice.data(REVERT, {"id": mara["id"], "r": 1})
    assert (await alice.data(LOCKS, {"s": film.scenes[1]}))["scene"]["stageLocks"] == [{"stage": 9, "status": "OUTDATED"}]


# -- diffs --------------------------------------------------------------------------------


async def test_diff_from_source_reports_tags_ignoring_case_descriptions_images_and_carry_forward(alice: Client) -> None:
    film = await three_scene_film(alice)
    first = (await inherit(alice, film.scenes[1]))["instances"][0]
    root = (await alice.data(DIFF, {"id": first["id"]}))["sceneAssetInstance"]["diffFromSource"]
    assert root == {"sourceInstanceId": None, "unchanged": True, "tagsAdded": [], "tagsRemoved": [],
                    "descriptionChanged": False, "previousEffectiveDescription": "An old keeper",
                    "imageChanged": False, "carryForwardChanged": False}
    await alice.data(UPDATE, {"id": first["id"], "i": {"statusTags": ["muddy", "Torn", "cold"]}})
    second = (await inherit(alice, film.scenes[2]))["instances"][0]
    same = (await alice.data(DIFF, {"id": second["id"]}))["sceneAssetInstance"]["diffFromSource"]
    assert same["unchanged"] is True and same["sourceInstanceId"] == first["id"]
    await alice.data(UPDATE, {"id": second["id"], "i": {
        "statusTags": ["wet", "MUDDY", "bloody"], "descriptionOverride": "Soaked keeper",
        "imageKeyUrl": "https://img.example/wet.png", "carryForward": False}})
    diff = (await alice.data(DIFF, {"id": second["id"]}))["sceneAssetInstance"]["diffFromSource"]
    assert diff == {"sourceInstanceId": first["id"], "unchanged": False, "tagsAdded": ["wet", "bloody"],
                    "tagsRemoved": ["Torn", "cold"], "descriptionChanged": True,
                    "previousEffectiveDescription": "An old keeper", "imageChanged": True,
                    "carryForwardChanged": True}
    # No source: the project asset (no tags, carry_forward true).
    await alice.data(UPDATE, {"id": first["id"], "i": {"carryForward": False}})
    alone = (await alice.data(DIFF, {"id": first["id"]}))["sceneAssetInstance"]["diffFromSource"]
    assert alone["sourceInstanceId"] is None and alone["tagsAdded"] == ["muddy", "Torn", "cold"]
    assert alone["carryForwardChanged"] is True and alone["descriptionChanged"] is False


# -- propagation ------------------------------------------------------------------------------


async def chain_film(client: Client, scenes: int, assets: tuple[str, ...] = ("Mara",)) -> tuple[Film, dict[str, list[str]]]:
    """Scenes 1..n, each inheriting from the one before: instance ids by asset name, scene order."""
    film = await new_film(client, "Chain")
    for name in assets:
        await film.asset(name, "CHARACTER", f"{name} as designed", image=f"https://img.example/{name}.png")
    await film.lock_assets()
    ids: dict[str, list[str]] = {name: [] for name in assets}
    for n in range(1, scenes + 1):
        await film.scene(n)
        for instance in (await client.data(INHERIT, {"s": film.scenes[n]}))["inheritSceneAssets"]["instances"]:
            ids[instance["projectAsset"]["name"]].append(instance["id"])
    return film, ids


async def states(client: Client, film: Film, name: str = "Mara") -> list[dict[str, Any]]:
    scenes = (await client.data(CHAIN_STATES, {"id": film.branch_id}))["branch"]["scenes"]
    return [next(i for i in s["assetInstances"] if i["projectAsset"]["name"] == name) for s in scenes]


async def test_propagation_updates_down_to_the_first_edited_scene_and_stops_there(alice: Client) -> None:
    film, ids = await chain_film(alice, 6)
    mara = ids["Mara"]
    await alice.data(UPDATE, {"id": mara[3], "i": {"statusTags": ["dry"]}})  # scene 4 is edited
    await alice.data(UPDATE, {"id": mara[0], "i": {"statusTags": ["muddy"], "descriptionOverride": "Muddy Mara"}})
    result = (await alice.data(PROPAGATE, {"id": mara[0]}))["propagateSceneAssetInstance"]
    assert result["dryRun"] is False and result["unchangedCount"] == 0
    assert [(u["scene"]["sceneNumber"], u["statusTags"], u["descriptionOverride"]) for u in result["updated"]] == [
        (2, ["muddy"], "Muddy Mara"), (3, ["muddy"], "Muddy Mara")]
    assert result["stoppedAt"] == [{"id": mara[3], "scene": {"sceneNumber": 4}}]
    after = await states(alice, film)
    assert [s["statusTags"] for s in after] == [["muddy"], ["muddy"], ["muddy"], ["dry"], [], []]
    assert [s["edited"] for s in after] == [True, False, False, True, False, False]  # propagation never edits
    assert [s["modificationCount"] for s in after] == [1, 1, 1, 1, 0, 0]
    propagated = (await history(alice, mara[2]))["revisions"][0]
    assert (propagated["number"], propagated["kind"], propagated["reason"], propagated["actorUserId"]) == (
        2, "PROPAGATED", None, alice.user_id)
    assert propagated["changedFields"] == ["description_override", "effective_description", "status_tags"]
    assert len((await history(alice, mara[4]))["revisions"]) == 1
    # Again: everything already equal.
    again = (await alice.data(PROPAGATE, {"id": mara[0]}))["propagateSceneAssetInstance"]
    assert again["updated"] == [] and again["unchangedCount"] == 2 and len(again["stoppedAt"]) == 1


async def test_turning_carry_forward_off_and_propagating_resets_every_later_scene_to_the_asset(alice: Client) -> None:
    film, ids = await chain_film(alice, 6)
    mara = ids["Mara"]
    await alice.data(UPDATE, {"id": mara[0], "i": {"statusTags": ["muddy"], "imageKeyUrl": "https://img.example/mud.png"}})
    await alice.data(PROPAGATE, {"id": mara[0]})
    assert [s["statusTags"] for s in await states(alice, film)] == [["muddy"]] * 6
    await alice.data(UPDATE, {"id": mara[1], "i": {"carryForward": False}})  # scene 2: she changes clothes
    result = (await alice.data(PROPAGATE, {"id": mara[1]}))["propagateSceneAssetInstance"]
    assert [u["scene"]["sceneNumber"] for u in result["updated"]] == [3, 4, 5, 6]
    after = await states(alice, film)
    assert [s["statusTags"] for s in after] == [["muddy"], ["muddy"], [], [], [], []]
    assert [s["imageKeyUrl"] for s in after[2:]] == ["https://img.example/Mara.png"] * 4
    assert [s["effectiveDescription"] for s in after[2:]] == ["Mara as designed"] * 4
    assert [s["carryForward"] for s in after] == [True, False, False, False, False, False]


async def test_a_dry_run_changes_nothing_and_reports_what_would_change(alice: Client) -> None:
    film, ids = await chain_film(alice, 6, ("Mara", "Tom"))
    mara = ids["Mara"]
    await alice.data(UPDATE, {"id": mara[3], "i": {"statusTags": ["dry"]}})
    await alice.data(UPDATE, {"id": mara[0], "i": {"statusTags": ["muddy"]}})
    before = await alice.data(CHAIN_STATES, {"id": film.branch_id})
    history_before = await history(alice, mara[1])
    dry = (await alice.data(PROPAGATE, {"id": mara[0], "dry": True}))["propagateSceneAssetInstance"]
    assert dry["dryRun"] is True
    assert [(u["scene"]["sceneNumber"], u["statusTags"]) for u in dry["updated"]] == [(2, []), (3, [])]  # as now
    assert await alice.data(CHAIN_STATES, {"id": film.branch_id}) == before
    assert await history(alice, mara[1]) == history_before
    real = (await alice.data(PROPAGATE, {"id": mara[0], "dry": None}))["propagateSceneAssetInstance"]
    assert real["dryRun"] is False
    assert [u["id"] for u in real["updated"]] == [u["id"] for u in dry["updated"]]
    assert real["stoppedAt"] == dry["stoppedAt"] and real["unchangedCount"] == dry["unchangedCount"]


async def test_propagation_outdates_locked_frame_stages_only_where_it_changed_what_frames_show(alice: Client) -> None:
    film, ids = await chain_film(alice, 3)
    mara = ids["Mara"]
    for n in (2, 3):
        await alice.data(STAGE, {"s": film.scenes[n], "n": 9, "st": "LOCKED"})
    await alice.data(UPDATE, {"id": mara[2], "i": {"carryForward": False}})  # scene 3 is edited: left alone
    await alice.data(UPDATE, {"id": mara[0], "i": {"statusTags": ["muddy"]}})
    await alice.data(PROPAGATE, {"id": mara[0]})
    assert (await alice.data(LOCKS, {"s": film.scenes[2]}))["scene"]["stageLocks"] == [{"stage": 9, "status": "OUTDATED"}]
    assert (await alice.data(LOCKS, {"s": film.scenes[3]}))["scene"]["stageLocks"] == [{"stage": 9, "status": "LOCKED"}]


async def test_propagation_costs_the_same_statements_over_6_and_60_scenes(alice: Client, statements: Any) -> None:
    counts = []
    for scenes in (6, 60):
        _, ids = await chain_film(alice, scenes)
        await alice.data(UPDATE, {"id": ids["Mara"][0], "i": {"statusTags": ["muddy"]}})
        statements.take()
        result = (await alice.data(PROPAGATE, {"id": ids["Mara"][0]}))["propagateSceneAssetInstance"]
        counts.append(statements.take())
        assert len(result["updated"]) == scenes - 1
    print("propagation statements (6, 60 scenes):", counts)
    assert counts[0] == counts[1], counts


async def test_concurrent_propagations_and_edits_of_one_chain_give_a_serial_result(alice: Client) -> None:
    film, ids = await chain_film(alice, 12)
    mara = ids["Mara"]
    await alice.data(UPDATE, {"id": mara[0], "i": {"statusTags": ["muddy"]}})
    # Two propagations from the same root: one of them runs second and finds nothing to do.
    both = await asyncio.gather(*(alice.post(PROPAGATE, {"id": mara[0]}) for _ in range(2)))
    assert all(not r.get("errors") for r in both), both
    sizes = sorted(len(r["data"]["propagateSceneAssetInstance"]["updated"]) for r in both)
    assert sizes == [0, 11]
    # Overlapping propagations and edits at once: no error reaches a client.
    await alice.data(UPDATE, {"id": mara[0], "i": {"statusTags": ["wet"]}})
    await alice.data(UPDATE, {"id": mara[4], "i": {"descriptionOverride": "Dry Mara"}})
    work = [
        alice.post(PROPAGATE, {"id": mara[0]}),
        alice.post(PROPAGATE, {"id": mara[4]}),
        alice.post(PROPAGATE, {"id": mara[2]}),
        alice.post(UPDATE, {"id": mara[8], "i": {"statusTags": ["bloody"]}}),
        alice.post(PROPAGATE, {"id": mara[0]}),
        alice.post(REVERT, {"id": mara[6], "r": 1}),
        alice.post(PROPAGATE, {"id": mara[4]}),
    ]
    results = await asyncio.gather(*work)
    assert all(not r.get("errors") for r in results), [r["errors"] for r in results if r.get("errors")]
    # Every instance's numbers are 1..n with no gap, and the chain is a fixpoint once the
    # edited roots are propagated again in scene order.
    for instance in mara:
        numbers = [r["number"] for r in (await history(alice, instance, first=100))["revisions"]]
        assert numbers == list(range(len(numbers), 0, -1)), (instance, numbers)
    for root in (mara[0], mara[4], mara[6], mara[8]):
        await alice.data(PROPAGATE, {"id": root})
    final = await states(alice, film)
    assert [s["statusTags"] for s in final] == [["wet"]] * 4 + [["muddy"]] * 2 + [[]] * 2 + [["bloody"]] * 4
    assert [s["effectiveDescription"] for s in final[4:6]] == ["Dry Mara"] * 2


async def test_propagating_a_missing_or_another_users_instance_is_not_found(alice: Client, bob: Client) -> None:
    _, ids = await chain_film(alice, 2)
    assert await bob.code(PROPAGATE, {"id": ids["Mara"][0]}) == "NOT_FOUND"
    assert await bob.code(PROPAGATE, {"id": ids["Mara"][0], "dry": True}) == "NOT_FOUND"
    assert await alice.code(PROPAGATE, {"id": str(uuid.uuid4())}) == "NOT_FOUND"
    assert await bob.code(REVERT, {"id": ids["Mara"][0], "r": 1}) == "NOT_FOUND"
    assert (await bob.data(HISTORY, {"id": ids["Mara"][0]}))["sceneAssetInstance"] is None


def test_a_revisions_list_costs_what_its_first_asks_for() -> None:
    from graphql import parse

    from gql.limits import LimitSettings, QueryLimits
    from gql.schema import create_schema
    from services.core.config import load_settings

    settings = load_settings()
    limits = QueryLimits(create_schema(settings)._schema, LimitSettings.of(settings))

    def cost(arguments: str) -> int:
        document = parse(f"query($n: Int) {{ sceneAssetInstance(id: \"x\") {{ revisions{arguments} {{ number }} }} }}")
        return limits.measure(document).cost

    assert cost("(first: 5)") == 1 + 5 * 2
    assert cost("") == cost("(first: null)") == 1 + 50 * 2
    assert cost("(first: $n)") == 1 + 100 * 2


async def test_concurrent_propagations_of_different_assets_through_the_same_locked_scenes_all_succeed(alice: Client) -> None:
    film, ids = await chain_film(alice, 8, ("Mara", "Tom", "Lamp"))
    for round_ in range(3):
        for n in range(2, 9):
            await alice.data(STAGE, {"s": film.scenes[n], "n": 9, "st": "LOCKED"})
        for name in ids:
            await alice.data(UPDATE, {"id": ids[name][0], "i": {"statusTags": [f"{name}-{round_}"]}})
        results = await asyncio.gather(*(alice.post(PROPAGATE, {"id": ids[name][0]}) for name in ids))
        assert all(not r.get("errors") for r in results), results
        assert [len(r["data"]["propagateSceneAssetInstance"]["updated"]) for r in results] == [7, 7, 7]
        locks = await asyncio.gather(*(alice.data(LOCKS, {"s": film.scenes[n]}) for n in range(2, 9)))
        assert all(lock["scene"]["stageLocks"] == [{"stage": 9, "status": "OUTDATED"}] for lock in locks)


async def test_a_propagation_that_moves_only_the_base_counts_and_names_the_first_changed_state_column(alice: Client) -> None:
    film, ids = await chain_film(alice, 3)
    mara = ids["Mara"]
    await alice.data(UPDATE, {"id": mara[0], "i": {"carryForward": False}})
    await alice.data(PROPAGATE, {"id": mara[0]})  # scenes 2-3 take carryForward false
    await alice.data(UPDATE_ASSET, {"id": film.assets["Mara"], "i": {"description": "Mara, older"}})
    result = (await alice.data(PROPAGATE, {"id": mara[0]}))["propagateSceneAssetInstance"]
    assert [u["scene"]["sceneNumber"] for u in result["updated"]] == [2, 3]
    seen = await history(alice, mara[1])
    assert (seen["modificationCount"], seen["lastModifiedField"], seen["modificationReason"]) == (
        2, "effective_description", None)
    assert seen["revisions"][0]["changedFields"] == ["effective_description", "base_version"]
    assert seen["edited"] is False


async def test_an_uncounted_change_of_the_state_records_no_stale_reason(alice: Client, server: Any) -> None:
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    await alice.data(UPDATE, {"id": mara["id"], "i": {"statusTags": ["muddy"], "modificationReason": "fell"}})
    # A write path outside the services that moves only the own-flag (not a tracked column).
    await _as(server, alice.user_id, "update scene_asset_instances set image_is_own = true where id = :i", i=mara["id"])
    seen = await history(alice, mara["id"])
    assert (seen["modificationCount"], seen["modificationReason"], seen["edited"]) == (1, "fell", True)
    newest = seen["revisions"][0]
    assert (newest["kind"], newest["changedFields"], newest["reason"]) == ("UPDATED", ["image_is_own"], None)


FORK_SCENES = """
mutation($b: UUID!, $n: String!) {
  forkBranch(branchId: $b, name: $n) { scenes { sceneNumber assetInstances { id projectAsset { name } } } }
}
"""


async def test_forkbranch_copies_each_instance_history_then_records_one_forked_revision(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara = next(i for i in (await inherit(alice, film.scenes[1]))["instances"] if i["projectAsset"]["name"] == "Mara")
    await alice.data(UPDATE, {"id": mara["id"], "i": {"statusTags": ["muddy"], "modificationReason": "fell"}})
    fork = (await alice.data(FORK_SCENES, {"b": film.branch_id, "n": "Alt"}))["forkBranch"]
    copy = next(i for i in fork["scenes"][0]["assetInstances"] if i["projectAsset"]["name"] == "Mara")
    seen = await history(alice, copy["id"])
    original = await history(alice, mara["id"])
    assert seen["edited"] is original["edited"] is True
    assert [(r["number"], r["kind"], r["reason"]) for r in seen["revisions"]] == [
        (3, "FORKED", None), (2, "UPDATED", "fell"), (1, "BOOTSTRAPPED", None)]
    assert seen["revisions"][0]["before"] == seen["revisions"][0]["after"]
    assert {r["sceneAssetInstanceId"] for r in seen["revisions"]} == {copy["id"]}
    assert [r["createdAt"] for r in seen["revisions"][1:]] == [r["createdAt"] for r in original["revisions"]]
    # The source's history is untouched by the fork.
    assert [r["kind"] for r in original["revisions"]] == ["UPDATED", "BOOTSTRAPPED"]
