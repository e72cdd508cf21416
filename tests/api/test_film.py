"""Projects, branches, scenes, shots, master assets and stage locks over the API."""

from __future__ import annotations

from typing import Any

from tests.support import Client
from tests.support.film import new_film

MISSING = "00000000-0000-4000-8000-00000000beef"


async def test_viewer_lists_projects_newest_first(alice: Client) -> None:
    for title in ("one", "two", "three"):
        await new_film(alice, title)
    data = await alice.data("{ viewer { projects { title } } }")
    assert [p["title"] for p in data["viewer"]["projects"]] == ["three", "two", "one"]


async def test_scenes_shots_and_assets_come_back_in_spec_order(alice: Client) -> None:
    film = await new_film(alice)
    for n in (3, 1, 2):
        await film.scene(n)
    await film.shot(1, "1B", 2)
    await film.shot(1, "1A", 1)
    await film.shot(1, "1C", 1)
    for name in ("bob", "Alice", "carl"):
        await film.asset(name)
    q = """query($b: UUID!) { branch(id: $b) { scenes { sceneNumber shots { shotLabel shotOrder } priorScene { sceneNumber } }
           assets { name version locked } lockedVisualStyleCapsuleId } }"""
    data = (await alice.data(q, {"b": film.branch_id}))["branch"]
    assert [s["sceneNumber"] for s in data["scenes"]] == [1, 2, 3]
    assert [s["shotLabel"] for s in data["scenes"][0]["shots"]] == ["1A", "1C", "1B"]
    assert [s["priorScene"] and s["priorScene"]["sceneNumber"] for s in data["scenes"]] == [None, 1, 2]
    assert [a["name"] for a in data["assets"]] == ["Alice", "bob", "carl"]
    assert data["lockedVisualStyleCapsuleId"] is None
    await film.lock_style("capsule-a")
    await film.lock_style("capsule-b")
    data = (await alice.data(q, {"b": film.branch_id}))["branch"]
    assert data["lockedVisualStyleCapsuleId"] == "capsule-b"


async def test_asset_version_grows_only_when_description_or_image_change(alice: Client) -> None:
    film = await new_film(alice)
    asset = await film.asset("Mara", description="old")
    q = "mutation($id: UUID!, $i: UpdateProjectAssetInput!) { updateProjectAsset(id: $id, input: $i) { name description imageKeyUrl version } }"
    assert (await alice.data(q, {"id": asset, "i": {"name": "Mara K"}}))["updateProjectAsset"]["version"] == 1
    assert (await alice.data(q, {"id": asset, "i": {"description": "old"}}))["updateProjectAsset"]["version"] == 1
    assert (await alice.data(q, {"id": asset, "i": {"description": "new"}}))["updateProjectAsset"]["version"] == 2
    r = (await alice.data(q, {"id": asset, "i": {"imageKeyUrl": "https://x.example/a.png"}}))["updateProjectAsset"]
    assert r["version"] == 3
    r = (await alice.data(q, {"id": asset, "i": {"imageKeyUrl": None}}))["updateProjectAsset"]
    assert r["version"] == 4 and r["imageKeyUrl"] is None
    assert await alice.code(q, {"id": asset, "i": {"name": None}}) == "BAD_USER_INPUT"
    assert await alice.code(q, {"id": asset, "i": {"description": None}}) == "BAD_USER_INPUT"
    assert await alice.code(q, {"id": MISSING, "i": {"name": "x"}}) == "NOT_FOUND"


async def test_lock_project_assets_all_or_some(alice: Client) -> None:
    film = await new_film(alice)
    a, b = await film.asset("a"), await film.asset("b")
    q = "mutation($b: UUID!, $ids: [UUID!]) { lockProjectAssets(branchId: $b, ids: $ids) { id locked } }"
    assert (await alice.data(q, {"b": film.branch_id, "ids": [b]}))["lockProjectAssets"] == [{"id": b, "locked": True}]
    assert (await alice.data(q, {"b": film.branch_id}))["lockProjectAssets"] == [{"id": a, "locked": True}, {"id": b, "locked": True}]
    other = await new_film(alice)
    foreign = await other.asset("c")
    assert await alice.code(q, {"b": film.branch_id, "ids": [a, foreign]}) == "BAD_USER_INPUT"
    assert await alice.code(q, {"b": film.branch_id, "ids": [MISSING, foreign]}) == "NOT_FOUND"
    unlocked = (await alice.data("query($b: UUID!) { branch(id: $b) { assets { locked } } }", {"b": other.branch_id}))
    assert unlocked["branch"]["assets"] == [{"locked": False}]


async def test_duplicates_are_conflicts(alice: Client) -> None:
    film = await new_film(alice)
    await film.scene(1)
    await film.shot(1, "1A", 1)
    await film.asset("Mara")
    scene = "mutation($i: CreateSceneInput!) { createScene(input: $i) { id } }"
    assert await alice.code(scene, {"i": {"branchId": film.branch_id, "sceneNumber": 1, "slug": "x"}}) == "CONFLICT"
    shot = "mutation($i: CreateShotInput!) { createShot(input: $i) { id } }"
    assert await alice.code(shot, {"i": {"sceneId": film.scenes[1], "shotLabel": "1A", "shotOrder": 2, "durationSeconds": 3}}) == "CONFLICT"
    asset = "mutation($i: CreateProjectAssetInput!) { createProjectAsset(input: $i) { id } }"
    given = {"branchId": film.branch_id, "name": "MARA", "assetType": "PROP", "description": "d"}
    assert await alice.code(asset, {"i": given}) == "CONFLICT"


async def test_input_limits_are_bad_user_input(alice: Client) -> None:
    film = await new_film(alice)
    await film.scene(1)
    project = "mutation($t: String!) { createProject(input: {title: $t}) { id } }"
    for title in ("", "   ", "t" * 201, "nul\x00"):
        assert await alice.code(project, {"t": title}) == "BAD_USER_INPUT", title
    scene = "mutation($i: CreateSceneInput!) { createScene(input: $i) { id } }"
    base: dict[str, Any] = {"branchId": film.branch_id, "sceneNumber": 2, "slug": "ok"}
    for bad in ({"sceneNumber": 0}, {"sceneNumber": -3}, {"slug": "s" * 201}, {"scriptExcerpt": "x" * 10_001},
                {"sceneNumber": 2**40}, {"branchId": "not-a-uuid"}):
        assert await alice.code(scene, {"i": {**base, **bad}}) == "BAD_USER_INPUT", bad
    shot = "mutation($i: CreateShotInput!) { createShot(input: $i) { id } }"
    shot_base: dict[str, Any] = {"sceneId": film.scenes[1], "shotLabel": "1A", "shotOrder": 1, "durationSeconds": 3}
    for bad in ({"durationSeconds": 0}, {"shotOrder": 0}, {"shotLabel": ""}, {"camera": "c" * 10_001}):
        assert await alice.code(shot, {"i": {**shot_base, **bad}}) == "BAD_USER_INPUT", bad
    asset = "mutation($i: CreateProjectAssetInput!) { createProjectAsset(input: $i) { id } }"
    asset_base: dict[str, Any] = {"branchId": film.branch_id, "name": "A", "assetType": "PROP", "description": "d"}
    for bad in ({"imageKeyUrl": "javascript:alert(1)"}, {"imageKeyUrl": "https://x/" + "a" * 2048},
                {"assetType": "ANIMAL"}, {"description": "d" * 10_001}):
        assert await alice.code(asset, {"i": {**asset_base, **bad}}) == "BAD_USER_INPUT", bad
    # A malformed UUID literal in the document itself is BAD_USER_INPUT too.
    assert await alice.code('{ scene(id: "nope") { id } }') == "BAD_USER_INPUT"
    data = await alice.data("query($b: UUID!) { branch(id: $b) { scenes { sceneNumber } assets { id } } }", {"b": film.branch_id})
    assert data["branch"] == {"scenes": [{"sceneNumber": 1}], "assets": []}


async def test_stage_status_changes(alice: Client) -> None:
    film = await new_film(alice)
    scene = await film.scene(1)
    q = "mutation($s: UUID!, $n: Int!, $st: StageStatus!) { setSceneStageStatus(sceneId: $s, stage: $n, status: $st) { stageLocks { stage status } } }"
    await alice.data(q, {"s": scene, "n": 10, "st": "LOCKED"})
    r = await alice.data(q, {"s": scene, "n": 9, "st": "DRAFT"})
    assert r["setSceneStageStatus"]["stageLocks"] == [{"stage": 9, "status": "DRAFT"}, {"stage": 10, "status": "LOCKED"}]
    for n in (0, 13):
        assert await alice.code(q, {"s": scene, "n": n, "st": "LOCKED"}) == "BAD_USER_INPUT"
    assert await alice.code(q, {"s": MISSING, "n": 9, "st": "LOCKED"}) == "NOT_FOUND"


async def test_another_users_objects_are_null_and_not_found(alice: Client, bob: Client) -> None:
    film = await new_film(alice)
    scene = await film.scene(1)
    shot = await film.shot(1, "1A", 1)
    asset = await film.asset("Mara")
    for root, ident in (("project", film.project_id), ("branch", film.branch_id), ("scene", scene), ("shot", shot)):
        assert (await bob.data(f'query($id: UUID!) {{ {root}(id: $id) {{ id }} }}', {"id": ident}))[root] is None
    assert (await bob.data("{ viewer { projects { id } } }"))["viewer"]["projects"] == []
    mutations: list[tuple[str, dict[str, Any]]] = [
        ("mutation($i: CreateSceneInput!) { createScene(input: $i) { id } }", {"i": {"branchId": film.branch_id, "sceneNumber": 2, "slug": "x"}}),
        ("mutation($i: CreateShotInput!) { createShot(input: $i) { id } }", {"i": {"sceneId": scene, "shotLabel": "Z", "shotOrder": 1, "durationSeconds": 1}}),
        ("mutation($i: CreateProjectAssetInput!) { createProjectAsset(input: $i) { id } }", {"i": {"branchId": film.branch_id, "name": "X", "assetType": "PROP", "description": "d"}}),
        ("mutation($id: UUID!) { updateProjectAsset(id: $id, input: {description: \"hacked\"}) { id } }", {"id": asset}),
        ("mutation($b: UUID!) { lockProjectAssets(branchId: $b) { id } }", {"b": film.branch_id}),
        ("mutation($b: UUID!) { lockVisualStyle(branchId: $b, capsuleId: \"x\") { id } }", {"b": film.branch_id}),
        ("mutation($s: UUID!) { setSceneStageStatus(sceneId: $s, stage: 9, status: LOCKED) { id } }", {"s": scene}),
    ]
    for query, variables in mutations:
        assert await bob.code(query, variables) == "NOT_FOUND", query
    data = await alice.data(
        "query($b: UUID!) { branch(id: $b) { scenes { id stageLocks { stage } shots { id } } assets { description locked } lockedVisualStyleCapsuleId } }",
        {"b": film.branch_id})
    assert data["branch"] == {
        "scenes": [{"id": scene, "stageLocks": [], "shots": [{"id": shot}]}],
        "assets": [{"description": "Mara, as designed", "locked": False}],
        "lockedVisualStyleCapsuleId": None,
    }


async def test_datetimes_are_utc_with_microseconds(alice: Client) -> None:
    film = await new_film(alice)
    data = await alice.data("query($id: UUID!) { project(id: $id) { createdAt } }", {"id": film.project_id})
    stamp = data["project"]["createdAt"]
    assert stamp.endswith("+00:00") and len(stamp.split(".")[1]) == len("123456+00:00")
