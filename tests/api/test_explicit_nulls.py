"""Explicit nulls, table by table (docs/errors.md, Explicit nulls): frontends build inputs from forms
and send `null` for an empty field.

- In a create input, and for an optional argument, `null` answers exactly as leaving the
  field out (each row sends both and compares).
- In an update input, `null` clears a field that may be empty, and is BAD_USER_INPUT naming
  the field (nothing changed) for one that must hold a value.
The last test checks that the tables cover every nullable input field and every optional
argument of the served schema."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import graphql
import pytest

from gql.schema import schema_sdl
from tests.support import Client
from tests.support.film import Film, film_with_instances
from tests.support.subscriptions import connect

_numbers = itertools.count(10)


@dataclass
class Scene1:
    client: Client
    film: Film
    instances: dict[str, str]

    async def shot(self) -> str:
        n = next(_numbers)
        return await self.film.shot(1, f"N{n}", n)

    async def new_asset(self, lock: bool = True) -> str:
        asset = await self.film.asset(f"Prop {next(_numbers)}", "PROP", "A prop")
        if lock:
            await self.client.data("mutation($b: UUID!, $i: [UUID!]) { lockProjectAssets(branchId: $b, ids: $i) { id } }",
                                   {"b": self.film.branch_id, "i": [asset]})
        return asset


@pytest.fixture
async def scene1(alice: Client) -> Scene1:
    film, instances = await film_with_instances(alice)
    return Scene1(alice, film, instances)


# --- create inputs: null is the same as leaving the field out ---------------------------------

# (input type, field) -> (document, a fresh valid input without the field, fields of the answer)
Build = Callable[[Scene1], Awaitable[dict[str, Any]]]


async def _scene_input(s: Scene1) -> dict[str, Any]:
    n = next(_numbers)
    return {"branchId": s.film.branch_id, "sceneNumber": n, "slug": f"scene-{n}"}


async def _shot_input(s: Scene1) -> dict[str, Any]:
    n = next(_numbers)
    return {"sceneId": s.film.scenes[1], "shotLabel": f"S{n}", "shotOrder": n, "durationSeconds": 3}


async def _asset_input(s: Scene1) -> dict[str, Any]:
    return {"branchId": s.film.branch_id, "name": f"Asset {next(_numbers)}", "assetType": "PROP", "description": "A prop"}


async def _instance_input(s: Scene1) -> dict[str, Any]:
    return {"sceneId": s.film.scenes[1], "projectAssetId": await s.new_asset()}


async def _added_asset_input(s: Scene1) -> dict[str, Any]:
    return {"sceneId": s.film.scenes[1], "projectAssetId": await s.new_asset(lock=False)}


async def _event_input(s: Scene1) -> dict[str, Any]:
    return {"shotId": await s.shot(), "sceneAssetInstanceId": s.instances["Mara"], "postDescription": "Soaked"}


CREATES: dict[str, tuple[str, Build, list[str]]] = {
    "CreateSceneInput": (
        "mutation($i: CreateSceneInput!) { createScene(input: $i) { scriptExcerpt endStateSummary status storyDay timeOfDay } }",
        _scene_input, ["scriptExcerpt", "endStateSummary", "storyDay", "timeOfDay"]),
    "CreateShotInput": (
        "mutation($i: CreateShotInput!) { createShot(input: $i) { setting action camera framePrompt continuesFromPrevious } }",
        _shot_input, ["setting", "action", "camera", "continuesFromPrevious"]),
    "AddAssetToSceneInput": (
        "mutation($i: AddAssetToSceneInput!) { addAssetToScene(input: $i) "
        "{ descriptionOverride statusTags carryForward effectiveDescription inheritedFrom { id } shotAssignments { id } } }",
        _added_asset_input, ["inheritFrom", "descriptionOverride", "statusTags"]),
    "CreateProjectAssetInput": (
        "mutation($i: CreateProjectAssetInput!) { createProjectAsset(input: $i) "
        "{ imageKeyUrl visualStyleCapsuleId locked version } }",
        _asset_input, ["imageKeyUrl", "visualStyleCapsuleId"]),
    "CreateSceneAssetInstanceInput": (
        "mutation($i: CreateSceneAssetInstanceInput!) { createSceneAssetInstance(input: $i) "
        "{ descriptionOverride statusTags carryForward effectiveDescription inheritedFrom { id } modificationCount } }",
        _instance_input, ["descriptionOverride", "statusTags", "carryForward", "inheritedFromInstanceId"]),
    "TransformationEventInput": (
        "mutation($i: TransformationEventInput!) { recordTransformationEvent(input: $i) "
        "{ postDescription postImageKeyUrl } }",
        _event_input, ["postImageKeyUrl"]),
}
CREATE_ROWS = [(type_, field) for type_, (_, _, fields) in CREATES.items() for field in fields]


@pytest.mark.parametrize(("input_type", "field"), CREATE_ROWS, ids=[f"{t}.{f}" for t, f in CREATE_ROWS])
async def test_null_in_a_create_input_is_the_same_as_leaving_it_out(scene1: Scene1, input_type: str, field: str) -> None:
    document, build, _ = CREATES[input_type]
    left_out = await scene1.client.data(document, {"i": await build(scene1)})
    sent_null = await scene1.client.data(document, {"i": {**await build(scene1), field: None}})
    assert sent_null == left_out
    # As a literal too, the way a hand-written document sends it.
    literal = document.replace("($i: " + input_type + "!)", "")
    given = ", ".join(f"{k}: {_literal(k, v)}" for k, v in (await build(scene1)).items())
    as_literal = await scene1.client.data(literal.replace("$i", "{" + given + f", {field}: null" + "}"))
    assert as_literal == left_out


def _literal(key: str, value: Any) -> str:
    if key == "assetType":
        return str(value)  # an enum value
    return json.dumps(value)  # strings and numbers read the same in GraphQL


# --- optional arguments: null is the same as leaving the argument out -------------------------


async def _lock_ids(s: Scene1, ids: str) -> Any:
    asset = await s.new_asset(lock=False)
    await s.client.data(f"mutation($b: UUID!) {{ lockProjectAssets(branchId: $b{ids}) {{ id }} }}", {"b": s.film.branch_id})
    return (await s.client.data("query($b: UUID!) { branch(id: $b) { assets { id locked } } }",
                                {"b": s.film.branch_id}))["branch"]["assets"], asset


async def test_lock_project_assets_with_ids_null_locks_them_all(scene1: Scene1) -> None:
    for ids in ("", ", ids: null"):
        assets, new = await _lock_ids(scene1, ids)
        assert any(a["id"] == new for a in assets) and all(a["locked"] for a in assets), ids


async def test_generate_scene_asset_image_with_idempotency_key_null_queues_a_new_job(scene1: Scene1) -> None:
    document = "mutation($i: UUID!) {{ generateSceneAssetImage(instanceId: $i{key}) {{ id idempotencyKey status }} }}"
    jobs = [
        (await scene1.client.data(document.format(key=key), {"i": scene1.instances["Mara"]}))["generateSceneAssetImage"]
        for key in ("", ", idempotencyKey: null", ", idempotencyKey: null")
    ]
    assert len({j["id"] for j in jobs}) == 3 and all(j["idempotencyKey"] for j in jobs)


async def test_update_instance_with_expected_modification_count_null_checks_nothing(scene1: Scene1) -> None:
    document = ("mutation($i: UUID!, $t: [String!]) { updateSceneAssetInstance(id: $i, input: {statusTags: $t}, "
                "expectedModificationCount: null) { modificationCount } }")
    for tags in (["a"], ["b"]):
        await scene1.client.data(document, {"i": scene1.instances["Mara"], "t": tags})
    data = await scene1.client.data(document, {"i": scene1.instances["Mara"], "t": ["c"]})
    assert data["updateSceneAssetInstance"]["modificationCount"] == 3


async def test_update_assignment_with_expected_updated_at_null_checks_nothing(scene1: Scene1) -> None:
    shot = await scene1.shot()
    created = await scene1.client.data(
        "mutation($s: UUID!, $a: [ShotAssignmentInput!]!) { createShotAssetAssignments(sceneId: $s, assignments: $a) { id } }",
        {"s": scene1.film.scenes[1], "a": [{"shotId": shot, "sceneAssetInstanceId": scene1.instances["Mara"]}]},
    )
    assignment = created["createShotAssetAssignments"][0]["id"]
    for presence in ("ENTERS", "EXITS"):
        data = await scene1.client.data(
            "mutation($i: UUID!, $p: PresenceType!, $e: DateTime) "
            "{ updateShotAssetAssignment(id: $i, presenceType: $p, expectedUpdatedAt: $e) { presenceType } }",
            {"i": assignment, "p": presence, "e": None},
        )
        assert data["updateShotAssetAssignment"]["presenceType"] == presence


async def test_image_job_updated_with_project_id_null_follows_the_job(server: Any, scene1: Scene1) -> None:
    job = (await scene1.client.data("mutation($i: UUID!) { generateSceneAssetImage(instanceId: $i) { id } }",
                                    {"i": scene1.instances["Mara"]}))["generateSceneAssetImage"]
    async with connect(server.base_url, scene1.client.token) as socket:
        for document, variables in (
            (f'subscription {{ imageJobUpdated(projectId: null, jobId: "{job["id"]}") {{ id status }} }}', None),
            ("subscription($p: UUID, $j: UUID) { imageJobUpdated(projectId: $p, jobId: $j) { id status } }",
             {"p": None, "j": job["id"]}),
        ):
            operation = await socket.subscribe(document, variables)
            assert (await operation.until(job["id"], "COMPLETED"))[-1]["status"] == "COMPLETED"
        # Both null is as if both were left out: one of the two is required.
        both = await socket.subscribe("subscription { imageJobUpdated(projectId: null, jobId: null) { id } }")
        assert await both.error_code() == "BAD_USER_INPUT"


async def test_image_job_events_with_nulls_replays_the_job(server: Any, scene1: Scene1) -> None:
    job = (await scene1.client.data("mutation($i: UUID!) { generateSceneAssetImage(instanceId: $i) { id } }",
                                    {"i": scene1.instances["Mara"]}))["generateSceneAssetImage"]
    async with connect(server.base_url, scene1.client.token) as socket:
        operation = await socket.subscribe(
            "subscription($p: UUID, $j: UUID, $a: String) { imageJobEvents(projectId: $p, jobId: $j, after: $a) "
            "{ status } }", {"p": None, "j": job["id"], "a": None})
        # after: null is no cursor: every stored event of the job, to the end.
        statuses = [e["status"] for e in await operation.events_until(lambda seen: seen and seen[-1]["status"] == "COMPLETED")]
        assert statuses == ["QUEUED", "PROCESSING", "COMPLETED"]
        both = await socket.subscribe("subscription { imageJobEvents(projectId: null, jobId: null) { cursor } }")
        assert await both.error_code() == "BAD_USER_INPUT"


async def test_revert_with_expectation_and_reason_null_checks_nothing_and_gives_no_reason(scene1: Scene1) -> None:
    mara = scene1.instances["Mara"]
    for tags in (["a"], ["b"]):
        await scene1.client.data("mutation($i: UUID!, $t: [String!]) { updateSceneAssetInstance(id: $i, input: {statusTags: $t}) { id } }",
                                 {"i": mara, "t": tags})
    data = await scene1.client.data(
        "mutation($i: UUID!, $n: Int, $r: String) { revertSceneAssetInstance(id: $i, revision: 2, "
        "expectedModificationCount: $n, reason: $r) { statusTags modificationReason } }",
        {"i": mara, "n": None, "r": None},
    )
    assert data["revertSceneAssetInstance"] == {"statusTags": ["a"], "modificationReason": None}
    history = await scene1.client.data(
        "query($i: UUID!) { sceneAssetInstance(id: $i) { revisions(first: null, beforeNumber: null) { kind reason } } }",
        {"i": mara})
    assert history["sceneAssetInstance"]["revisions"][0] == {"kind": "REVERTED", "reason": None}


async def test_propagate_with_dry_run_null_propagates(scene1: Scene1) -> None:
    data = await scene1.client.data(
        "mutation($i: UUID!) { propagateSceneAssetInstance(id: $i, dryRun: null) { dryRun unchangedCount } }",
        {"i": scene1.instances["Mara"]})
    assert data["propagateSceneAssetInstance"] == {"dryRun": False, "unchangedCount": 0}


OPTIONAL_ARGUMENTS = {
    "Mutation.revertSceneAssetInstance.expectedModificationCount", "Mutation.revertSceneAssetInstance.reason",
    "Mutation.propagateSceneAssetInstance.dryRun",
    "Mutation.lockProjectAssets.ids", "Mutation.generateSceneAssetImage.idempotencyKey",
    "Mutation.updateSceneAssetInstance.expectedModificationCount", "Mutation.updateShotAssetAssignment.expectedUpdatedAt",
    "Subscription.imageJobUpdated.projectId", "Subscription.imageJobUpdated.jobId",
    "Subscription.imageJobEvents.projectId", "Subscription.imageJobEvents.jobId", "Subscription.imageJobEvents.after",
    "Mutation.updateScene.expectedUpdatedAt", "Mutation.updateShot.expectedUpdatedAt",
}


@pytest.mark.parametrize("kind", ["Scene", "Shot"])
async def test_update_scene_or_shot_with_expected_updated_at_null_checks_nothing(scene1: Scene1, kind: str) -> None:
    target = scene1.film.scenes[1] if kind == "Scene" else await _the_shot(scene1)
    field, values = ("slug", ["a", "b"]) if kind == "Scene" else ("action", ["a", "b"])
    for value in values:
        data = await scene1.client.data(
            f"mutation($i: UUID!, $in: Update{kind}Input!, $e: DateTime) "
            f"{{ update{kind}(id: $i, input: $in, expectedUpdatedAt: $e) {{ {field} }} }}",
            {"i": target, "in": {field: value}, "e": None},
        )
        assert data[f"update{kind}"][field] == value


# --- update inputs: null clears, or is refused naming the field --------------------------------

ASSET = "query($i: UUID!) { branch(id: $i) { assets { id name description imageKeyUrl version } } }"
INSTANCE = ("query($i: UUID!) { sceneAssetInstance(id: $i) { descriptionOverride imageKeyUrl statusTags carryForward "
            "effectiveDescription modificationReason } }")


async def _asset_state(s: Scene1) -> dict[str, Any]:
    assets = (await s.client.data(ASSET, {"i": s.film.branch_id}))["branch"]["assets"]
    return next(a for a in assets if a["id"] == s.film.assets["Mara"])


async def _update_asset(s: Scene1, field: str, value: Any) -> dict[str, Any]:
    return await s.client.post(
        "mutation($i: UUID!, $in: UpdateProjectAssetInput!) { updateProjectAsset(id: $i, input: $in) { id } }",
        {"i": s.film.assets["Mara"], "in": {field: value}},
    )


async def _instance_state(s: Scene1) -> dict[str, Any]:
    return (await s.client.data(INSTANCE, {"i": s.instances["Mara"]}))["sceneAssetInstance"]


async def _update_instance(s: Scene1, field: str, value: Any) -> dict[str, Any]:
    return await s.client.post(
        "mutation($i: UUID!, $in: UpdateSceneAssetInstanceInput!) { updateSceneAssetInstance(id: $i, input: $in) { id } }",
        {"i": s.instances["Mara"], "in": {field: value}},
    )


SCENE = "query($i: UUID!) { scene(id: $i) { slug scriptExcerpt endStateSummary storyDay timeOfDay } }"
SHOT = "query($i: UUID!) { shot(id: $i) { shotLabel durationSeconds setting action camera continuesFromPrevious } }"


async def _scene_state(s: Scene1) -> dict[str, Any]:
    return (await s.client.data(SCENE, {"i": s.film.scenes[1]}))["scene"]


async def _update_scene(s: Scene1, field: str, value: Any) -> dict[str, Any]:
    return await s.client.post(
        "mutation($i: UUID!, $in: UpdateSceneInput!) { updateScene(id: $i, input: $in) { id } }",
        {"i": s.film.scenes[1], "in": {field: value}},
    )


async def _the_shot(s: Scene1) -> str:
    """One shot per test, made on first use."""
    if "U" not in s.film.shots:
        await s.film.shot(1, "U", 99, setting="Pier", action="Waves", camera="Wide")
    return s.film.shots["U"]


async def _shot_state(s: Scene1) -> dict[str, Any]:
    return (await s.client.data(SHOT, {"i": await _the_shot(s)}))["shot"]


async def _update_shot(s: Scene1, field: str, value: Any) -> dict[str, Any]:
    return await s.client.post(
        "mutation($i: UUID!, $in: UpdateShotInput!) { updateShot(id: $i, input: $in) { id } }",
        {"i": await _the_shot(s), "in": {field: value}},
    )


async def _project_state(s: Scene1) -> dict[str, Any]:
    return (await s.client.data("query($i: UUID!) { project(id: $i) { title } }", {"i": s.film.project_id}))["project"]


async def _update_project(s: Scene1, field: str, value: Any) -> dict[str, Any]:
    return await s.client.post(
        "mutation($i: UUID!, $in: UpdateProjectInput!) { updateProject(id: $i, input: $in) { id } }",
        {"i": s.film.project_id, "in": {field: value}},
    )


# (input type, field) -> (state reader, update, a value to set first, the state's key, the cleared value)
UPDATES: dict[tuple[str, str], tuple[Any, Any, Any, str, Any]] = {
    ("UpdateProjectAssetInput", "imageKeyUrl"): (_asset_state, _update_asset, "https://img.example/a.png", "imageKeyUrl", None),
    ("UpdateSceneAssetInstanceInput", "descriptionOverride"): (_instance_state, _update_instance, "Soaked", "descriptionOverride", None),
    ("UpdateSceneAssetInstanceInput", "imageKeyUrl"): (_instance_state, _update_instance, "https://img.example/i.png", "imageKeyUrl", None),
    ("UpdateSceneAssetInstanceInput", "modificationReason"): (_instance_state, _update_instance, "the storm", "modificationReason", None),
    ("UpdateSceneInput", "scriptExcerpt"): (_scene_state, _update_scene, "EXT. PIER", "scriptExcerpt", ""),
    ("UpdateSceneInput", "endStateSummary"): (_scene_state, _update_scene, "Wet", "endStateSummary", None),
    ("UpdateSceneInput", "storyDay"): (_scene_state, _update_scene, 4, "storyDay", None),
    ("UpdateSceneInput", "timeOfDay"): (_scene_state, _update_scene, "NIGHT", "timeOfDay", None),
    ("UpdateShotInput", "setting"): (_shot_state, _update_shot, "Harbour", "setting", None),
    ("UpdateShotInput", "action"): (_shot_state, _update_shot, "She runs", "action", None),
    ("UpdateShotInput", "camera"): (_shot_state, _update_shot, "Close", "camera", None),
}
REQUIRED_ON_UPDATE: dict[tuple[str, str], tuple[Any, Any]] = {
    ("UpdateProjectAssetInput", "name"): (_asset_state, _update_asset),
    ("UpdateProjectAssetInput", "description"): (_asset_state, _update_asset),
    ("UpdateSceneAssetInstanceInput", "statusTags"): (_instance_state, _update_instance),
    ("UpdateSceneAssetInstanceInput", "carryForward"): (_instance_state, _update_instance),
    ("UpdateProjectInput", "title"): (_project_state, _update_project),
    ("UpdateSceneInput", "slug"): (_scene_state, _update_scene),
    ("UpdateShotInput", "shotLabel"): (_shot_state, _update_shot),
    ("UpdateShotInput", "durationSeconds"): (_shot_state, _update_shot),
    ("UpdateShotInput", "continuesFromPrevious"): (_shot_state, _update_shot),
}


@pytest.mark.parametrize(("input_type", "field"), list(UPDATES), ids=[f"{t}.{f}" for t, f in UPDATES])
async def test_null_in_an_update_input_clears_the_field(scene1: Scene1, input_type: str, field: str) -> None:
    read, update, value, key, cleared = UPDATES[(input_type, field)]
    if field == "modificationReason":
        # A reason goes with a change; null means the change has none.
        body = await scene1.client.post(
            "mutation($i: UUID!) { updateSceneAssetInstance(id: $i, input: {statusTags: [\"b\"], modificationReason: \"the storm\"}) { id } }",
            {"i": scene1.instances["Mara"]})
        assert "errors" not in body and (await read(scene1))[key] == value
        body = await scene1.client.post(
            "mutation($i: UUID!) { updateSceneAssetInstance(id: $i, input: {statusTags: [\"c\"], modificationReason: null}) { id } }",
            {"i": scene1.instances["Mara"]})
        assert "errors" not in body, body
        assert (await read(scene1))[key] == cleared
        return
    assert "errors" not in await update(scene1, field, value)
    assert (await read(scene1))[key] == value
    body = await update(scene1, field, None)
    assert "errors" not in body, body
    assert (await read(scene1))[key] == cleared


@pytest.mark.parametrize(("input_type", "field"), list(REQUIRED_ON_UPDATE), ids=[f"{t}.{f}" for t, f in REQUIRED_ON_UPDATE])
async def test_null_for_an_update_field_that_needs_a_value_is_refused_naming_it(
    scene1: Scene1, input_type: str, field: str
) -> None:
    read, update = REQUIRED_ON_UPDATE[(input_type, field)]
    before = await read(scene1)
    body = await update(scene1, field, None)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and field in error["message"], error
    assert await read(scene1) == before


# --- the tables cover the served schema ----------------------------------------------------------


def test_the_tables_cover_every_nullable_input_field_and_optional_argument() -> None:
    schema = graphql.build_schema(schema_sdl())
    fields = {
        (name, field)
        for name, type_ in schema.type_map.items()
        if isinstance(type_, graphql.GraphQLInputObjectType)
        for field, definition in type_.fields.items()
        if not isinstance(definition.type, graphql.GraphQLNonNull)
    }
    covered = set(CREATE_ROWS) | set(UPDATES) | set(REQUIRED_ON_UPDATE)
    assert fields - covered == set(), "a nullable input field has no explicit-null row"
    assert covered - fields == set()
    arguments = {
        f"{root.name}.{field}.{arg}"
        for root in (schema.query_type, schema.mutation_type, schema.subscription_type) if root is not None
        for field, definition in root.fields.items()
        for arg, argument in definition.args.items()
        if not isinstance(argument.type, graphql.GraphQLNonNull)
    }
    assert arguments == OPTIONAL_ARGUMENTS
