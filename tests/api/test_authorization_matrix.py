"""The authorization matrix: user B against every object of user A, through every query root
that takes an id, every mutation and the subscription. B gets null / NOT_FOUND, and A's data
is unchanged. A new mutation, query root with an id or subscription without an entry here
fails its `test_every_..._has_an_entry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import graphql
import pytest

from gql.schema import schema_sdl
from tests.support import Client
from tests.support.film import new_film
from tests.support.subscriptions import BY_JOB, BY_PROJECT, EVENTS_BY_JOB, EVENTS_BY_PROJECT, connect

SCHEMA = graphql.build_schema(schema_sdl())

ALICE_SNAPSHOT = """
query($p: UUID!, $b: UUID!) {
  project(id: $p) { title activeBranch { id } branches { id name forkedFrom { id } } }
  branch(id: $b) {
    lockedVisualStyleCapsuleId
    assets { id name description imageKeyUrl locked version }
    scenes {
      id sceneNumber slug storyDay timeOfDay updatedAt stageLocks { stage status }
      assetInstances { id descriptionOverride imageKeyUrl statusTags carryForward effectiveDescription modificationCount
                       edited revisions(first: 10) { id number kind } }
      shots { id shotLabel shotOrder action continuesFromPrevious updatedAt framePrompt videoPrompt assetAssignments { id presenceType updatedAt } transformationEvents { id postDescription } }
    }
  }
}
"""


@dataclass
class Objects:
    project: str
    branch: str
    scene: str
    scene2: str
    shot: str
    asset: str
    instance: str
    instance2: str
    extra: dict[str, str]


# Mutation name -> (document, variables from A's objects). Every argument that names an object names A's.
MUTATIONS: dict[str, tuple[str, Any]] = {
    "createProject": ("", None),  # creates B's own project: nothing of A's is named
    "createScene": ("mutation($b: UUID!) { createScene(input: {branchId: $b, sceneNumber: 9, slug: \"x\"}) { id } }",
                    lambda o: {"b": o.branch}),
    "createShot": ("mutation($s: UUID!) { createShot(input: {sceneId: $s, shotLabel: \"Z\", shotOrder: 1, durationSeconds: 1}) { id } }",
                   lambda o: {"s": o.scene}),
    "createProjectAsset": ("mutation($b: UUID!) { createProjectAsset(input: {branchId: $b, name: \"X\", assetType: PROP, description: \"d\"}) { id } }",
                           lambda o: {"b": o.branch}),
    "updateProjectAsset": ("mutation($id: UUID!) { updateProjectAsset(id: $id, input: {description: \"hacked\"}) { id } }",
                           lambda o: {"id": o.asset}),
    "lockProjectAssets": ("mutation($b: UUID!) { lockProjectAssets(branchId: $b) { id } }", lambda o: {"b": o.branch}),
    "lockVisualStyle": ("mutation($b: UUID!) { lockVisualStyle(branchId: $b, capsuleId: \"evil\") { id } }",
                        lambda o: {"b": o.branch}),
    "setSceneStageStatus": ("mutation($s: UUID!) { setSceneStageStatus(sceneId: $s, stage: 9, status: DRAFT) { id } }",
                            lambda o: {"s": o.scene}),
    "inheritSceneAssets": ("mutation($s: UUID!) { inheritSceneAssets(sceneId: $s) { count } }", lambda o: {"s": o.scene2}),
    "createSceneAssetInstance": ("mutation($s: UUID!, $a: UUID!) { createSceneAssetInstance(input: {sceneId: $s, projectAssetId: $a}) { id } }",
                                 lambda o: {"s": o.scene2, "a": o.asset}),
    "updateSceneAssetInstance": ("mutation($id: UUID!) { updateSceneAssetInstance(id: $id, input: {statusTags: [\"hacked\"]}) { id } }",
                                 lambda o: {"id": o.instance}),
    "deleteSceneAssetInstance": ("mutation($id: UUID!) { deleteSceneAssetInstance(id: $id) { id } }", lambda o: {"id": o.instance}),
    "resyncSceneAssetInstance": ("mutation($id: UUID!) { resyncSceneAssetInstance(id: $id) { id } }", lambda o: {"id": o.instance}),
    "generateSceneAssetImage": ("mutation($id: UUID!) { generateSceneAssetImage(instanceId: $id, idempotencyKey: \"k\") { id } }",
                                lambda o: {"id": o.instance}),
    "createShotAssetAssignments": (
        "mutation($s: UUID!, $sh: UUID!, $i: UUID!) { createShotAssetAssignments(sceneId: $s, assignments: [{shotId: $sh, sceneAssetInstanceId: $i}]) { id } }",
        lambda o: {"s": o.scene, "sh": o.shot, "i": o.instance2}),
    "updateShotAssetAssignment": ("mutation($id: UUID!) { updateShotAssetAssignment(id: $id, presenceType: EXITS) { id } }",
                                  lambda o: {"id": o.extra["assignment"]}),
    "deleteShotAssetAssignment": ("mutation($id: UUID!) { deleteShotAssetAssignment(id: $id) { id } }",
                                  lambda o: {"id": o.extra["assignment"]}),
    "autoPopulateShotAssignments": ("mutation($s: UUID!) { autoPopulateShotAssignments(sceneId: $s) { created } }",
                                    lambda o: {"s": o.scene}),
    "recordTransformationEvent": (
        "mutation($sh: UUID!, $i: UUID!) { recordTransformationEvent(input: {shotId: $sh, sceneAssetInstanceId: $i, postDescription: \"hacked\"}) { id } }",
        lambda o: {"sh": o.shot, "i": o.instance}),
    "generateShotPrompts": ("mutation($s: UUID!) { generateShotPrompts(sceneId: $s) { id } }", lambda o: {"s": o.scene}),
    "revertSceneAssetInstance": ("mutation($id: UUID!) { revertSceneAssetInstance(id: $id, revision: 1) { id } }",
                                 lambda o: {"id": o.instance2}),
    "propagateSceneAssetInstance": ("mutation($id: UUID!) { propagateSceneAssetInstance(id: $id) { dryRun } }",
                                    lambda o: {"id": o.instance}),
    "generateShotFrames": ("mutation($sh: UUID!) { generateShotFrames(shotId: $sh) { id } }", lambda o: {"sh": o.shot}),
    "cancelImageJob": ("mutation($id: UUID!) { cancelImageJob(id: $id) { id } }", lambda o: {"id": o.extra["job"]}),
    "updateProject": ("mutation($id: UUID!) { updateProject(id: $id, input: {title: \"hacked\"}) { id } }",
                      lambda o: {"id": o.project}),
    "deleteProject": ("mutation($id: UUID!) { deleteProject(id: $id) { id } }", lambda o: {"id": o.project}),
    "updateScene": ("mutation($id: UUID!) { updateScene(id: $id, input: {slug: \"hacked\", storyDay: 9}) { id } }",
                    lambda o: {"id": o.scene}),
    "deleteScene": ("mutation($id: UUID!) { deleteScene(id: $id) { id } }", lambda o: {"id": o.scene}),
    "moveScene": ("mutation($id: UUID!) { moveScene(id: $id, sceneNumber: 2) { id } }", lambda o: {"id": o.scene}),
    "updateShot": ("mutation($id: UUID!) { updateShot(id: $id, input: {action: \"hacked\"}) { id } }",
                   lambda o: {"id": o.shot}),
    "deleteShot": ("mutation($id: UUID!) { deleteShot(id: $id) { id } }", lambda o: {"id": o.shot}),
    "reorderShots": ("mutation($s: UUID!, $sh: UUID!) { reorderShots(sceneId: $s, shotIds: [$sh]) { id } }",
                     lambda o: {"s": o.scene, "sh": o.shot}),
    "deleteProjectAsset": ("mutation($id: UUID!) { deleteProjectAsset(id: $id) { id } }", lambda o: {"id": o.asset}),
    "forkBranch": ("mutation($b: UUID!) { forkBranch(branchId: $b, name: \"stolen\") { id } }", lambda o: {"b": o.branch}),
    "setActiveBranch": ("mutation($p: UUID!, $b: UUID!) { setActiveBranch(projectId: $p, branchId: $b) { id } }",
                        lambda o: {"p": o.project, "b": o.branch}),
    "addAssetToScene": (
        "mutation($s: UUID!, $a: UUID!, $sh: UUID!) { addAssetToScene(input: {sceneId: $s, projectAssetId: $a, shots: [{shotId: $sh}]}) { id } }",
        lambda o: {"s": o.scene2, "a": o.asset, "sh": o.shot}),
}

QUERY_ROOTS: dict[str, Any] = {
    "project": lambda o: o.project,
    "branch": lambda o: o.branch,
    "scene": lambda o: o.scene,
    "sceneAssetInstance": lambda o: o.instance,
    "shot": lambda o: o.shot,
    "imageJob": lambda o: o.extra["job"],
}

# Subscription field -> its cases (document, variables from A's objects), over websockets.
SUBSCRIPTIONS: dict[str, list[tuple[str, Any]]] = {
    "imageJobUpdated": [
        (BY_PROJECT, lambda o: {"p": o.project}),
        (BY_JOB, lambda o: {"j": o.extra["job"]}),
    ],
    "imageJobEvents": [
        (EVENTS_BY_PROJECT, lambda o: {"p": o.project}),
        (EVENTS_BY_JOB, lambda o: {"j": o.extra["job"]}),
    ],
}


async def _alices_film(alice: Client, base_url: str) -> Objects:
    film = await new_film(alice, "Alice's film")
    asset = await film.asset("Mara", "CHARACTER")
    await film.asset("Pier", "LOCATION")
    await film.lock_assets()
    await film.lock_style()
    scene = await film.scene(1)
    shot = await film.shot(1, "1A", 1)
    scene2 = await film.scene(2)
    data = await alice.data("mutation($s: UUID!) { inheritSceneAssets(sceneId: $s) { instances { id } } }", {"s": scene})
    instances = [i["id"] for i in data["inheritSceneAssets"]["instances"]]
    await alice.data("mutation($s: UUID!) { setSceneStageStatus(sceneId: $s, stage: 9, status: LOCKED) { id } }", {"s": scene})
    made = await alice.data(
        "mutation($s: UUID!, $sh: UUID!, $i: UUID!) { createShotAssetAssignments(sceneId: $s, assignments: [{shotId: $sh, sceneAssetInstanceId: $i}]) { id } }",
        {"s": scene, "sh": shot, "i": instances[0]},
    )
    assignment = made["createShotAssetAssignments"][0]["id"]
    job = await _completed_job(alice, base_url, instances[1])
    await alice.data("mutation($s: UUID!) { setSceneStageStatus(sceneId: $s, stage: 9, status: LOCKED) { id } }", {"s": scene})
    return Objects(project=film.project_id, branch=film.branch_id, scene=scene, scene2=scene2, shot=shot, asset=asset,
                   instance=instances[0], instance2=instances[1], extra={"assignment": assignment, "job": job})


async def _completed_job(alice: Client, base_url: str, instance: str) -> str:
    """A's image job, finished before the snapshot (completion changes the instance)."""
    queued = await alice.data("mutation($id: UUID!) { generateSceneAssetImage(instanceId: $id) { id } }", {"id": instance})
    job = queued["generateSceneAssetImage"]["id"]
    async with connect(base_url, alice.token) as socket:
        op = await socket.subscribe(BY_JOB, {"j": job})
        while (await op.job())["status"] not in ("COMPLETED", "FAILED"):
            pass
    return str(job)


def test_every_mutation_has_an_entry() -> None:
    assert SCHEMA.mutation_type is not None
    missing = set(SCHEMA.mutation_type.fields) - set(MUTATIONS)
    assert not missing, f"add these mutations to the authorization matrix: {sorted(missing)}"


def test_every_query_root_that_takes_an_id_has_an_entry() -> None:
    with_ids = {name for name, field in SCHEMA.query_type.fields.items() if "id" in field.args}
    assert with_ids - set(QUERY_ROOTS) == set(), f"add these query roots to the matrix: {sorted(with_ids - set(QUERY_ROOTS))}"


def test_every_subscription_has_an_entry() -> None:
    assert SCHEMA.subscription_type is not None
    missing = set(SCHEMA.subscription_type.fields) - set(SUBSCRIPTIONS)
    assert not missing, f"add these subscriptions to the authorization matrix: {sorted(missing)}"


@pytest.fixture(scope="module")
async def matrix(make_client: Any, server: Any) -> dict[str, Any]:
    alice, bob = make_client(), make_client()
    objects = await _alices_film(alice, server.base_url)
    before = await alice.data(ALICE_SNAPSHOT, {"p": objects.project, "b": objects.branch})
    return {"alice": alice, "bob": bob, "objects": objects, "before": before, "base_url": server.base_url}


@pytest.mark.parametrize("root", sorted(QUERY_ROOTS))
async def test_b_gets_null_for_a_query_root(matrix: dict[str, Any], root: str) -> None:
    ident = QUERY_ROOTS[root](matrix["objects"])
    data = await matrix["bob"].data(f"query($id: UUID!) {{ {root}(id: $id) {{ id }} }}", {"id": ident})
    assert data[root] is None


@pytest.mark.parametrize("name", sorted(n for n, (doc, _) in MUTATIONS.items() if doc))
async def test_b_gets_not_found_from_a_mutation(matrix: dict[str, Any], name: str) -> None:
    document, variables = MUTATIONS[name]
    error = await matrix["bob"].error(document, variables(matrix["objects"]))
    assert error["extensions"]["code"] == "NOT_FOUND", (name, error)
    after = await matrix["alice"].data(ALICE_SNAPSHOT, {"p": matrix["objects"].project, "b": matrix["objects"].branch})
    assert after == matrix["before"], name


@pytest.mark.parametrize("name", sorted(SUBSCRIPTIONS))
async def test_b_gets_not_found_from_a_subscription(matrix: dict[str, Any], name: str) -> None:
    async with connect(matrix["base_url"], matrix["bob"].token) as socket:
        for document, variables in SUBSCRIPTIONS[name]:
            op = await socket.subscribe(document, variables(matrix["objects"]))
            assert await op.error_code() == "NOT_FOUND", (name, variables(matrix["objects"]))
    after = await matrix["alice"].data(ALICE_SNAPSHOT, {"p": matrix["objects"].project, "b": matrix["objects"].branch})
    assert after == matrix["before"], name
