"""Scene asset instances over the API: docs/instances.md."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support import Client
from tests.support.film import Film, bulk_film, new_film

INSTANCE_FIELDS = """
id descriptionOverride imageKeyUrl statusTags carryForward effectiveDescription
modificationCount lastModifiedField modificationReason isOutdated
inheritedFrom { id } projectAsset { id name } scene { sceneNumber }
"""
INHERIT = f"""
mutation($s: UUID!) {{
  inheritSceneAssets(sceneId: $s) {{ source count priorScene {{ id }} instances {{ {INSTANCE_FIELDS} }} }}
}}
"""
CREATE = f"""
mutation($i: CreateSceneAssetInstanceInput!) {{ createSceneAssetInstance(input: $i) {{ {INSTANCE_FIELDS} }} }}
"""
UPDATE = f"""
mutation($id: UUID!, $i: UpdateSceneAssetInstanceInput!, $n: Int) {{
  updateSceneAssetInstance(id: $id, input: $i, expectedModificationCount: $n) {{ {INSTANCE_FIELDS} }}
}}
"""
DELETE = "mutation($id: UUID!) { deleteSceneAssetInstance(id: $id) { id } }"
RESYNC = f"mutation($id: UUID!) {{ resyncSceneAssetInstance(id: $id) {{ {INSTANCE_FIELDS} }} }}"
INSTANCE = f"query($id: UUID!) {{ sceneAssetInstance(id: $id) {{ {INSTANCE_FIELDS} }} }}"
SCENE_INSTANCES = f"query($id: UUID!) {{ scene(id: $id) {{ assetInstances {{ {INSTANCE_FIELDS} }} }} }}"
UPDATE_ASSET = """
mutation($id: UUID!, $i: UpdateProjectAssetInput!) { updateProjectAsset(id: $id, input: $i) { version } }
"""
STAGE = """
mutation($s: UUID!, $n: Int!, $st: StageStatus!) {
  setSceneStageStatus(sceneId: $s, stage: $n, status: $st) { stageLocks { stage status } }
}
"""
LOCKS = "query($s: UUID!) { scene(id: $s) { stageLocks { stage status } } }"


async def three_scene_film(client: Client) -> Film:
    film = await new_film(client)
    await film.asset("Mara", "CHARACTER", "An old keeper", image="https://img.example/mara.png")
    await film.asset("lighthouse", "LOCATION", "A white tower")
    await film.asset("Anchor", "PROP", "A rusty anchor")
    await film.asset("Unlocked", "PROP", "Never locked")
    # Lock all but the last one.
    ids = [film.assets[n] for n in ("Mara", "lighthouse", "Anchor")]
    await client.data(
        "mutation($b: UUID!, $ids: [UUID!]) { lockProjectAssets(branchId: $b, ids: $ids) { id } }",
        {"b": film.branch_id, "ids": ids},
    )
    for n in (1, 2, 3):
        await film.scene(n, endStateSummary=f"end of {n}")
    return film


async def inherit(client: Client, scene_id: str) -> dict[str, Any]:
    return (await client.data(INHERIT, {"s": scene_id}))["inheritSceneAssets"]


async def test_scene_one_bootstraps_from_locked_assets_only_without_links(alice: Client) -> None:
    film = await three_scene_film(alice)
    result = await inherit(alice, film.scenes[1])
    assert result["source"] == "BOOTSTRAP"
    assert result["count"] == 3
    assert result["priorScene"] is None
    names = [i["projectAsset"]["name"] for i in result["instances"]]
    assert names == ["Mara", "lighthouse", "Anchor"]  # CHARACTER, LOCATION, PROP
    mara = result["instances"][0]
    assert mara["inheritedFrom"] is None
    assert mara["effectiveDescription"] == "An old keeper"
    assert mara["imageKeyUrl"] == "https://img.example/mara.png"
    assert mara["statusTags"] == [] and mara["carryForward"] is True
    assert mara["modificationCount"] == 0 and mara["lastModifiedField"] is None


async def test_next_scene_inherits_state_and_links_each_instance(alice: Client) -> None:
    film = await three_scene_film(alice)
    first = {i["projectAsset"]["name"]: i for i in (await inherit(alice, film.scenes[1]))["instances"]}
    await alice.data(
        UPDATE,
        {"id": first["Mara"]["id"], "i": {"descriptionOverride": "  Mud-covered keeper ", "statusTags": ["muddy", "torn_shirt"]}},
    )
    await alice.data(
        UPDATE,
        {"id": first["Anchor"]["id"], "i": {"descriptionOverride": "Bent anchor", "statusTags": ["bent"], "carryForward": False}},
    )
    second = await inherit(alice, film.scenes[2])
    assert second["source"] == "PRIOR_SCENE" and second["priorScene"]["id"] == film.scenes[1]
    by_name = {i["projectAsset"]["name"]: i for i in second["instances"]}
    mara = by_name["Mara"]
    assert mara["inheritedFrom"]["id"] == first["Mara"]["id"]
    assert mara["descriptionOverride"] == "Mud-covered keeper"
    assert mara["effectiveDescription"] == "Mud-covered keeper"
    assert mara["statusTags"] == ["muddy", "torn_shirt"]
    assert mara["carryForward"] is True
    assert mara["modificationCount"] == 0
    anchor = by_name["Anchor"]
    assert anchor["inheritedFrom"]["id"] == first["Anchor"]["id"]
    assert anchor["descriptionOverride"] is None
    assert anchor["effectiveDescription"] == "A rusty anchor"
    assert anchor["statusTags"] == []
    assert anchor["carryForward"] is False


async def test_chain_walks_back_to_scene_one(alice: Client) -> None:
    film = await three_scene_film(alice)
    for n in (1, 2, 3):
        await inherit(alice, film.scenes[n])
    data = await alice.data(
        "query($id: UUID!) { scene(id: $id) { assetInstances { id chain { id scene { sceneNumber } } } } }",
        {"id": film.scenes[3]},
    )
    for instance in data["scene"]["assetInstances"]:
        chain = instance["chain"]
        assert [c["scene"]["sceneNumber"] for c in chain] == [1, 2, 3]
        assert chain[-1]["id"] == instance["id"]


async def test_inheriting_twice_is_scene_not_empty_and_changes_nothing(alice: Client) -> None:
    film = await three_scene_film(alice)
    await inherit(alice, film.scenes[1])
    assert await alice.code(INHERIT, {"s": film.scenes[1]}) == "SCENE_NOT_EMPTY"
    data = await alice.data(SCENE_INSTANCES, {"id": film.scenes[1]})
    assert len(data["scene"]["assetInstances"]) == 3


async def test_prior_scene_without_instances_gives_count_zero(alice: Client) -> None:
    film = await three_scene_film(alice)
    result = await inherit(alice, film.scenes[2])
    assert result == {"source": "PRIOR_SCENE", "count": 0, "priorScene": {"id": film.scenes[1]}, "instances": []}
    # Nothing inserted, so inheriting again also succeeds.
    assert (await inherit(alice, film.scenes[2]))["count"] == 0


async def test_manual_create_checks_time_branch_asset_and_duplicates(alice: Client) -> None:
    film = await three_scene_film(alice)
    first = {i["projectAsset"]["name"]: i for i in (await inherit(alice, film.scenes[1]))["instances"]}
    unlocked = film.assets["Unlocked"]
    created = await alice.data(
        CREATE,
        {"i": {"sceneId": film.scenes[2], "projectAssetId": film.assets["Mara"],
               "inheritedFromInstanceId": first["Mara"]["id"], "statusTags": ["wet", "WET", " cold "]}},
    )
    inst = created["createSceneAssetInstance"]
    assert inst["inheritedFrom"]["id"] == first["Mara"]["id"]
    assert inst["statusTags"] == ["wet", "cold"]
    assert inst["carryForward"] is True
    # Same or later scene as source: paradox.
    assert await alice.code(CREATE, {"i": {"sceneId": film.scenes[1], "projectAssetId": unlocked,
                                            "inheritedFromInstanceId": inst["id"]}}) == "BAD_USER_INPUT"
    paradox = {"sceneId": film.scenes[1], "projectAssetId": film.assets["Mara"], "inheritedFromInstanceId": inst["id"]}
    assert await alice.code(CREATE, {"i": paradox}) == "TEMPORAL_PARADOX"
    same = {"sceneId": film.scenes[3], "projectAssetId": film.assets["Mara"], "inheritedFromInstanceId": inst["id"]}
    await alice.data(CREATE, {"i": same})
    same_scene = {"sceneId": film.scenes[3], "projectAssetId": film.assets["Anchor"],
                  "inheritedFromInstanceId": first["Mara"]["id"]}
    assert await alice.code(CREATE, {"i": same_scene}) == "BAD_USER_INPUT"
    # A second instance of an asset in a scene.
    assert await alice.code(CREATE, {"i": {"sceneId": film.scenes[2], "projectAssetId": film.assets["Mara"]}}) == "CONFLICT"
    # An asset of another branch (another project here).
    other = await new_film(alice, "Other")
    foreign_asset = await other.asset("Stranger")
    assert await alice.code(CREATE, {"i": {"sceneId": film.scenes[2], "projectAssetId": foreign_asset}}) == "BAD_USER_INPUT"
    # Missing objects.
    missing = "00000000-0000-4000-8000-00000000dead"
    assert await alice.code(CREATE, {"i": {"sceneId": missing, "projectAssetId": unlocked}}) == "NOT_FOUND"
    assert await alice.code(CREATE, {"i": {"sceneId": film.scenes[2], "projectAssetId": unlocked,
                                            "inheritedFromInstanceId": missing}}) == "NOT_FOUND"


async def test_updates_track_only_real_changes_and_name_the_first(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    upd = lambda i, n=None: alice.data(UPDATE, {"id": mara["id"], "i": i, "n": n})  # noqa: E731
    r = (await upd({"statusTags": ["muddy"], "carryForward": False, "modificationReason": "fell"}))["updateSceneAssetInstance"]
    assert (r["modificationCount"], r["lastModifiedField"], r["modificationReason"]) == (1, "status_tags", "fell")
    # Same values again: no change at all.
    r = (await upd({"statusTags": ["muddy"], "carryForward": False}))["updateSceneAssetInstance"]
    assert (r["modificationCount"], r["lastModifiedField"], r["modificationReason"]) == (1, "status_tags", "fell")
    # Override and tags: the override is named (first in order); no reason given -> null.
    r = (await upd({"descriptionOverride": "Soaked", "statusTags": ["muddy", "wet"]}))["updateSceneAssetInstance"]
    assert (r["modificationCount"], r["lastModifiedField"], r["modificationReason"]) == (2, "description_override", None)
    assert r["effectiveDescription"] == "Soaked"
    # Clearing the override with null and with "".
    r = (await upd({"descriptionOverride": None}))["updateSceneAssetInstance"]
    assert r["descriptionOverride"] is None and r["effectiveDescription"] == "An old keeper"
    await upd({"descriptionOverride": "again"})
    r = (await upd({"descriptionOverride": "  "}))["updateSceneAssetInstance"]
    assert r["descriptionOverride"] is None and r["modificationCount"] == 5
    # Image: own, then cleared.
    r = (await upd({"imageKeyUrl": "https://img.example/own.png"}))["updateSceneAssetInstance"]
    assert r["imageKeyUrl"] == "https://img.example/own.png" and r["lastModifiedField"] == "image_key_url"
    r = (await upd({"imageKeyUrl": None}))["updateSceneAssetInstance"]
    assert r["imageKeyUrl"] is None
    # Optimistic concurrency.
    assert await alice.code(UPDATE, {"id": mara["id"], "i": {"carryForward": True}, "n": 3}) == "CONFLICT"
    r = (await upd({"carryForward": True}, 7))["updateSceneAssetInstance"]
    assert r["modificationCount"] == 8 and r["lastModifiedField"] == "carry_forward"


async def test_bad_updates_change_nothing(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    bad_inputs = [
        {"statusTags": [" "]},
        {"statusTags": ["x" * 65]},
        {"statusTags": [f"t{i}" for i in range(33)]},
        {"statusTags": None},
        {"carryForward": None},
        {"descriptionOverride": "a" * 10_001},
        {"descriptionOverride": "nul\x00"},
        {"imageKeyUrl": "ftp://example.com/x.png"},
        {"imageKeyUrl": "/relative.png"},
        {"modificationReason": "r" * 10_001},
        {"descriptionOverride": "ok", "statusTags": [""]},
    ]
    for given in bad_inputs:
        assert await alice.code(UPDATE, {"id": mara["id"], "i": given}) == "BAD_USER_INPUT", given
    after = (await alice.data(INSTANCE, {"id": mara["id"]}))["sceneAssetInstance"]
    assert after == {**mara, "scene": {"sceneNumber": 1}}
    # 32 distinct tags after dropping duplicates is fine.
    tags = [f"t{i}" for i in range(32)] + ["T0"]
    r = await alice.data(UPDATE, {"id": mara["id"], "i": {"statusTags": tags}})
    assert r["updateSceneAssetInstance"]["statusTags"] == tags[:32]


async def test_outdated_and_resync_keep_scene_edits(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara, lighthouse, _ = (await inherit(alice, film.scenes[1]))["instances"]
    await alice.data(UPDATE, {"id": mara["id"], "i": {"descriptionOverride": "Muddy keeper", "statusTags": ["muddy"]}})
    await alice.data(UPDATE_ASSET, {"id": film.assets["Mara"], "i": {"description": "A keeper, now older", "imageKeyUrl": "https://img.example/mara2.png"}})
    await alice.data(UPDATE_ASSET, {"id": film.assets["lighthouse"], "i": {"description": "A red tower"}})
    before = (await alice.data(INSTANCE, {"id": mara["id"]}))["sceneAssetInstance"]
    assert before["isOutdated"] is True
    assert before["effectiveDescription"] == "Muddy keeper"  # nothing follows by itself
    assert before["imageKeyUrl"] == "https://img.example/mara.png"
    r = (await alice.data(RESYNC, {"id": mara["id"]}))["resyncSceneAssetInstance"]
    assert r["isOutdated"] is False
    assert r["effectiveDescription"] == "Muddy keeper"  # the override still wins
    assert r["statusTags"] == ["muddy"]
    assert r["imageKeyUrl"] == "https://img.example/mara2.png"
    r = (await alice.data(RESYNC, {"id": lighthouse["id"]}))["resyncSceneAssetInstance"]
    assert r["effectiveDescription"] == "A red tower" and r["isOutdated"] is False
    assert r["modificationCount"] == 0  # neither image nor tags nor override changed


async def test_resync_keeps_an_own_image(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    await alice.data(UPDATE, {"id": mara["id"], "i": {"imageKeyUrl": "https://img.example/own.png"}})
    await alice.data(UPDATE_ASSET, {"id": film.assets["Mara"], "i": {"imageKeyUrl": "https://img.example/new.png"}})
    r = (await alice.data(RESYNC, {"id": mara["id"]}))["resyncSceneAssetInstance"]
    assert r["imageKeyUrl"] == "https://img.example/own.png"


async def test_delete_relinks_descendants_to_the_predecessor(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara1 = (await inherit(alice, film.scenes[1]))["instances"][0]
    mara2 = (await inherit(alice, film.scenes[2]))["instances"][0]
    mara3 = (await inherit(alice, film.scenes[3]))["instances"][0]
    assert (await alice.data(DELETE, {"id": mara2["id"]}))["deleteSceneAssetInstance"]["id"] == mara2["id"]
    after = (await alice.data(INSTANCE, {"id": mara3["id"]}))["sceneAssetInstance"]
    assert after["inheritedFrom"] == {"id": mara1["id"]} and after["modificationCount"] == 0
    # With no predecessor left, the chain starts at the next instance.
    await alice.data(DELETE, {"id": mara1["id"]})
    assert (await alice.data(INSTANCE, {"id": mara3["id"]}))["sceneAssetInstance"]["inheritedFrom"] is None
    assert (await alice.data(INSTANCE, {"id": mara1["id"]}))["sceneAssetInstance"] is None
    assert await alice.code(DELETE, {"id": mara1["id"]}) == "NOT_FOUND"


async def test_local_context_reads_the_prior_scenes_end_state(alice: Client) -> None:
    film = await three_scene_film(alice)
    await inherit(alice, film.scenes[1])
    second = (await inherit(alice, film.scenes[2]))["instances"]
    await alice.data(UPDATE, {"id": second[0]["id"], "i": {"statusTags": ["wet"], "descriptionOverride": "Wet keeper"}})
    q = """query($id: UUID!) { scene(id: $id) { localContext { sceneId sceneScript previousSceneEndState
           sceneAssets { name type description statusTags imageKeyUrl } } } }"""
    ctx = (await alice.data(q, {"id": film.scenes[2]}))["scene"]["localContext"]
    assert ctx["sceneId"] == film.scenes[2]
    assert ctx["previousSceneEndState"] == "end of 1"
    assert ctx["sceneAssets"][0] == {
        "name": "Mara", "type": "CHARACTER", "description": "Wet keeper",
        "statusTags": ["wet"], "imageKeyUrl": "https://img.example/mara.png",
    }
    first = (await alice.data(q, {"id": film.scenes[1]}))["scene"]["localContext"]
    assert first["previousSceneEndState"] is None


async def test_another_users_instances_are_invisible_and_untouchable(alice: Client, bob: Client) -> None:
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    assert (await bob.data(INSTANCE, {"id": mara["id"]}))["sceneAssetInstance"] is None
    assert (await bob.data(SCENE_INSTANCES, {"id": film.scenes[1]}))["scene"] is None
    assert await bob.code(INHERIT, {"s": film.scenes[2]}) == "NOT_FOUND"
    assert await bob.code(UPDATE, {"id": mara["id"], "i": {"statusTags": ["x"]}}) == "NOT_FOUND"
    assert await bob.code(RESYNC, {"id": mara["id"]}) == "NOT_FOUND"
    assert await bob.code(DELETE, {"id": mara["id"]}) == "NOT_FOUND"
    assert await bob.code(CREATE, {"i": {"sceneId": film.scenes[2], "projectAssetId": film.assets["Mara"]}}) == "NOT_FOUND"
    bobs = await new_film(bob)
    await bobs.scene(5)
    bob_asset = await bobs.asset("B")
    # Bob's own scene, Alice's instance as source: answered like a missing one.
    assert await bob.code(CREATE, {"i": {"sceneId": bobs.scenes[5], "projectAssetId": bob_asset,
                                          "inheritedFromInstanceId": mara["id"]}}) == "NOT_FOUND"
    after = (await alice.data(INSTANCE, {"id": mara["id"]}))["sceneAssetInstance"]
    assert after == {**mara, "scene": {"sceneNumber": 1}}
    assert (await inherit(alice, film.scenes[2]))["count"] == 3


async def test_instance_changes_outdate_locked_frame_stages(alice: Client) -> None:
    film = await three_scene_film(alice)
    scene = film.scenes[1]
    for stage, status in ((8, "LOCKED"), (9, "LOCKED"), (10, "DRAFT"), (12, "LOCKED")):
        await alice.data(STAGE, {"s": scene, "n": stage, "st": status})
    mara = (await inherit(alice, scene))["instances"][0]  # legacy fallback: inherit invalidates
    locks = (await alice.data(LOCKS, {"s": scene}))["scene"]["stageLocks"]
    assert locks == [{"stage": 8, "status": "LOCKED"}, {"stage": 9, "status": "OUTDATED"},
                     {"stage": 10, "status": "DRAFT"}, {"stage": 12, "status": "OUTDATED"}]
    await alice.data(STAGE, {"s": scene, "n": 9, "st": "LOCKED"})
    await alice.data(UPDATE, {"id": mara["id"], "i": {"carryForward": False}})  # not visible in frames
    assert (await alice.data(LOCKS, {"s": scene}))["scene"]["stageLocks"][1]["status"] == "LOCKED"
    await alice.data(UPDATE, {"id": mara["id"], "i": {"statusTags": ["muddy"]}})
    assert (await alice.data(LOCKS, {"s": scene}))["scene"]["stageLocks"][1]["status"] == "OUTDATED"


async def test_inheriting_500_assets_costs_a_constant_number_of_statements(alice: Client, statements: Any, server: Any) -> None:
    from sqlalchemy import text

    async def film_of(size: int) -> Film:
        film = await new_film(alice)
        async with server.state.db.transaction(None) as conn:
            await conn.execute(
                text("""insert into project_assets (project_id, branch_id, name, asset_type, description, locked)
                        select p.id, p.active_branch_id, 'asset ' || g, 'prop', 'd ' || g, true
                          from projects p, generate_series(1, :n) g where p.id = :p"""),
                {"n": size, "p": film.project_id},
            )
        await film.scene(1)
        await film.scene(2)
        return film

    counts = []
    for size in (5, 500):
        film = await film_of(size)
        statements.take()
        assert (await inherit(alice, film.scenes[1]))["count"] == size
        assert (await inherit(alice, film.scenes[2]))["count"] == size
        counts.append(statements.take())
    assert counts[0] == counts[1], counts


async def test_concurrent_inherits_give_one_success(alice: Client) -> None:
    film = await three_scene_film(alice)
    results = await asyncio.gather(*(alice.post(INHERIT, {"s": film.scenes[1]}) for _ in range(8)))
    successes = [r for r in results if not r.get("errors")]
    codes = sorted(r["errors"][0]["extensions"]["code"] for r in results if r.get("errors"))
    assert len(successes) == 1 and successes[0]["data"]["inheritSceneAssets"]["count"] == 3
    assert codes == ["SCENE_NOT_EMPTY"] * 7
    data = await alice.data(SCENE_INSTANCES, {"id": film.scenes[1]})
    assert len(data["scene"]["assetInstances"]) == 3


async def test_racing_edits_with_the_same_expectation_one_wins(alice: Client) -> None:
    film = await three_scene_film(alice)
    mara = (await inherit(alice, film.scenes[1]))["instances"][0]
    for round_ in range(5):
        expected = round_
        results = await asyncio.gather(*(
            alice.post(UPDATE, {"id": mara["id"], "i": {"statusTags": [f"edit-{round_}-{n}"]}, "n": expected})
            for n in range(4)))
        winners = [r for r in results if not r.get("errors")]
        assert len(winners) == 1, results
        assert sorted(r["errors"][0]["extensions"]["code"] for r in results if r.get("errors")) == ["CONFLICT"] * 3
    after = (await alice.data(INSTANCE, {"id": mara["id"]}))["sceneAssetInstance"]
    assert after["modificationCount"] == 5


async def test_chains_of_a_whole_scene_cost_one_recursive_statement(
    alice: Client, server: Any, database_url: str
) -> None:
    from sqlalchemy import event

    # 40 scenes of 25 instances each, every one inheriting from the prior scene's.
    film = await bulk_film(database_url, str(alice.user_id), scenes=40, assets=25, shots=0)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = server.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        data = await alice.data(
            "query($id: UUID!) { scene(id: $id) { assetInstances { id chain { id scene { sceneNumber } } } } }",
            {"id": film.scenes[40]})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    chains = [i["chain"] for i in data["scene"]["assetInstances"]]
    assert len(chains) == 25 and all(len(c) == 40 for c in chains)
    assert all([link["scene"]["sceneNumber"] for link in c] == list(range(1, 41)) for c in chains)
    assert sum("recursive" in s.lower() for s in seen) == 1
