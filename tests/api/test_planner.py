"""The query planner answers exactly as the loader path does: every benchmark query and a
generated set of selections, for the owner and for another user."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bench.film import BenchFilm, standard_film
from tests.support import Client, asyncpg_dsn

QUERIES = Path(__file__).resolve().parents[2] / "bench" / "queries"
# The three paths (docs/planner.md): the fast path (the default), the planner inside graphql-core's
# execution, and the loaders (the reference).
PATHS: dict[str, dict[str, str]] = {
    "fast": {},
    "planned": {"x-continuity-planner": "planned"},
    "loaders": {"x-continuity-planner": "off"},
}


async def post_raw(
    client: Client, query: str, variables: dict[str, Any] | None, path: str, **extra: Any
) -> httpx.Response:
    # One request id for all three, so that errors (which carry it) compare byte for byte.
    headers = client.headers() | PATHS[path] | {"x-request-id": "planner-test"}
    body = {"query": query, "variables": variables, **extra}
    response = await client.http.post("/graphql", json=body, headers=headers)
    assert response.status_code < 500, response.text
    return response


async def post(client: Client, query: str, variables: dict[str, Any], planner: bool) -> dict[str, Any]:
    return (await post_raw(client, query, variables, "fast" if planner else "loaders")).json()


async def alike(
    client: Client, query: str, variables: dict[str, Any] | None, **extra: Any
) -> dict[str, Any]:
    """The answer of all three paths, which must be the same: status, media type, and the
    body byte for byte (the loaders' as JSON: Python formats a few numbers its own way)."""
    answers = {path: await post_raw(client, query, variables, path, **extra) for path in PATHS}
    fast, planned, loaded = answers["fast"], answers["planned"], answers["loaders"]
    for other in (planned, loaded):
        assert (fast.status_code, fast.headers["content-type"]) == (
            other.status_code, other.headers["content-type"]
        )
    assert fast.content == planned.content, (fast.text, planned.text)
    assert fast.json() == loaded.json(), (fast.text, loaded.text)
    return fast.json()  # type: ignore[no-any-return]


class FastCount:
    """How many requests the server's fast path answered since the last `take()`."""

    def __init__(self, fast_path: Any) -> None:
        self.fast_path = fast_path
        self.seen = fast_path.answered

    def take(self) -> int:
        answered, self.seen = self.fast_path.answered - self.seen, self.fast_path.answered
        return answered


@pytest.fixture
def fast(server: Any) -> FastCount:
    return FastCount(server.state.fast_path)


# What the generated film lacks, so every compiled field has something to show.
EXTRAS = """
update scenes set stage_locks = '{"10": {"status": "draft"}, "9": {"status": "locked"}}'
 where branch_id = $1 and scene_number = 2;
update shots sh set reference_image_order = (
    select jsonb_agg(jsonb_build_object(
        'position', n, 'scene_asset_instance_id', upper(i.id::text), 'project_asset_id', a.id,
        'asset_name', a.name, 'asset_type', a.asset_type, 'image_url', 'https://img.example.com/' || n)
        order by n)
      from (select i.*, row_number() over (order by i.id) as n from scene_asset_instances i
             where i.scene_id = sh.scene_id) i
      join project_assets a on a.id = i.project_asset_id)
 where sh.scene_id in (select id from scenes where branch_id = $1 and scene_number = 2);
insert into transformation_events (project_id, scene_id, shot_id, scene_asset_instance_id,
                                   post_description, post_image_key_url)
select i.project_id, i.scene_id, sh.id, i.id, 'Soaked through', null
  from scene_asset_instances i join shots sh on sh.scene_id = i.scene_id
 where i.branch_id = $1 and sh.shot_order = 1;
update scene_asset_instances i set status_tags = array['Muddy', 'wet'], modification_reason = 'rain'
 where i.scene_id in (select id from scenes where branch_id = $1 and scene_number = 3);
insert into stage_states (project_id, branch_id, stage_number, version, content)
select project_id, id, 5, v, jsonb_build_object('locked_visual_style_capsule_id', 'noir-' || v)
  from branches, generate_series(1, 2) v where id = $1;
update scenes set story_day = scene_number % 3 + 1,
                  time_of_day = (array['day', 'night', 'dawn', 'dusk'])[1 + scene_number % 4]
 where branch_id = $1 and scene_number <> 1;
update shots set continues_from_previous = shot_order > 1
 where scene_id in (select id from scenes where branch_id = $1 and scene_number = 2);
insert into image_generation_jobs (project_id, branch_id, job_type, status, prompt, width, height, scene_id,
                                   shot_id, idempotency_key)
select sh.project_id, $1, t, 'completed', 'frame', 1280, 720, sh.scene_id, sh.id, gen_random_uuid()::text
  from shots sh, unnest(array['start_frame', 'end_frame']) t
 where sh.scene_id in (select id from scenes where branch_id = $1 and scene_number = 2);
update scenes set assignments_initialized = false where branch_id = $1 and scene_number = 1;
delete from shot_asset_assignments where scene_id in (select id from scenes where branch_id = $1 and scene_number = 1);
delete from shot_asset_assignments where shot_id in (
    select sh.id from shots sh join scenes s on s.id = sh.scene_id
     where s.branch_id = $1 and s.scene_number = 4 and sh.shot_order = 2);
update project_assets set image_key_url = '' where branch_id = $1 and name like 'Harbour%';
update scene_asset_instances i
   set image_key_url = case when a.name like 'Lantern%' then 'https://img.example.com/own/' || i.id else '' end
  from project_assets a
 where a.id = i.project_asset_id
   and i.scene_id in (select id from scenes where branch_id = $1 and scene_number in (1, 2));
update transformation_events e set post_image_key_url = 'https://img.example.com/post/' || e.id
  from scene_asset_instances i join project_assets a on a.id = i.project_asset_id
 where i.id = e.scene_asset_instance_id and a.name not like 'Mara%'
   and e.scene_id in (select id from scenes where branch_id = $1 and scene_number in (1, 2));
update image_generation_jobs j set reference_images = sh.reference_image_order
  from shots sh where sh.id = j.shot_id and j.job_type = 'start_frame' and j.branch_id = $1;
insert into branches (project_id, name, forked_from_branch_id)
select project_id, 'fork', id from branches where id = $1;
update branches b set forked_from_branch_id = f.id
  from branches f where b.id = $1 and f.forked_from_branch_id = $1;
"""


@pytest.fixture
async def film(database_url: str, alice: Client) -> BenchFilm:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with conn.transaction():
            built = await standard_film(conn, str(alice.user_id), scenes=4, assets=5, shots=3)
            for statement in EXTRAS.split(";"):
                if statement.strip():
                    await conn.execute(statement, uuid.UUID(built.branch_id))
            built.extra["shot"] = str(
                await conn.fetchval("select id from shots where scene_id = $1 and shot_order = 1",
                                    uuid.UUID(built.scenes[2]))
            )
            built.extra["instance"] = str(
                await conn.fetchval("select id from scene_asset_instances where scene_id = $1 limit 1",
                                    uuid.UUID(built.scenes[3]))
            )
            return built
    finally:
        await conn.close()


@pytest.mark.parametrize("name", ["scene_page", "stage9_page", "continuity_page", "history_page", "continuity_report"])
async def test_benchmark_queries_answer_alike_on_all_three_paths(
    name: str, film: BenchFilm, alice: Client, bob: Client, fast: FastCount
) -> None:
    query = (QUERIES / f"{name}.graphql").read_text()
    by_branch = name in ("continuity_page", "history_page", "continuity_report")
    target = film.branch_id if by_branch else film.scenes[3]
    await alike(alice, query, {"id": target})
    theirs = await alike(bob, query, {"id": target})
    assert theirs["data"] == {"branch" if by_branch else "scene": None}
    if name in ("scene_page", "continuity_page", "continuity_report", "history_page"):
        # Compiled whole (arguments included): both answered by the fast path.
        assert fast.take() == 2


async def test_scene_page_is_one_statement_after_the_claims(
    film: BenchFilm, alice: Client, statements: Any, fast: FastCount
) -> None:
    query = (QUERIES / "scene_page.graphql").read_text()
    await post(alice, query, {"id": film.scenes[2]}, planner=True)
    statements.take()
    fast.take()
    body = await post(alice, query, {"id": film.scenes[2]}, planner=True)
    assert len(body["data"]["scene"]["assetInstances"]) == 5
    assert statements.take() == 2
    assert fast.take() == 1


async def test_the_continuity_report_is_one_statement_after_the_claims(
    film: BenchFilm, alice: Client, statements: Any
) -> None:
    # Warnings, messages, order, minSeverity and the warnings' scenes, shots and instances.
    query = (QUERIES / "continuity_report.graphql").read_text()
    await post(alice, query, {"id": film.branch_id}, planner=True)
    statements.take()
    body = await post(alice, query, {"id": film.branch_id}, planner=True)
    codes = {w["code"] for w in body["data"]["branch"]["continuityReport"]}
    assert {"UPSTREAM_CHANGED", "HANDOFF_MISMATCH", "STORY_DAY_REGRESSION"} <= codes and len(codes) >= 4, codes
    assert statements.take() == 2


# -- generated selections ---------------------------------------------------------------------

# Table-backed types and their fields as the contract names them: (field, type it returns or None
# for a leaf).
OBJECTS: dict[str, list[tuple[str, str | None]]] = {
    "Project": [("id", None), ("title", None), ("createdAt", None), ("activeBranch", "Branch"),
                ("branches", "Branch")],
    "Branch": [("id", None), ("name", None), ("project", "Project"), ("scenes", "Scene"),
               ("assets", "ProjectAsset"), ("lockedVisualStyleCapsuleId", None), ("forkedFrom", "Branch"),
               ("continuityReport", "ContinuityWarning")],
    "ProjectAsset": [("id", None), ("name", None), ("assetType", None), ("description", None),
                     ("imageKeyUrl", None), ("visualStyleCapsuleId", None), ("locked", None),
                     ("version", None), ("sceneInstances", "SceneAssetInstance"),
                     ("revisions", "InstanceRevision")],
    "Scene": [("id", None), ("branch", "Branch"), ("sceneNumber", None), ("slug", None),
              ("scriptExcerpt", None), ("status", None), ("endStateSummary", None),
              ("priorScene", "Scene"), ("assetInstances", "SceneAssetInstance"), ("shots", "Shot"),
              ("shotAssignments", "ShotAssetAssignment"), ("hasShotAssignments", None),
              ("stageLocks", "StageLock"), ("localContext", "LocalContext"), ("storyDay", None),
              ("timeOfDay", None), ("updatedAt", None), ("continuityWarnings", "ContinuityWarning")],
    "StageLock": [("stage", None), ("status", None)],
    "ContinuityWarning": [("code", None), ("severity", None), ("message", None), ("scene", "Scene"),
                          ("shot", "Shot"), ("sceneAssetInstance", "SceneAssetInstance")],
    "LocalContext": [("sceneId", None), ("sceneScript", None), ("previousSceneEndState", None),
                     ("sceneAssets", "LocalContextAsset")],
    "LocalContextAsset": [("name", None), ("type", None), ("description", None), ("statusTags", None),
                          ("imageKeyUrl", None)],
    "SceneAssetInstance": [("id", None), ("scene", "Scene"), ("projectAsset", "ProjectAsset"),
                           ("descriptionOverride", None), ("imageKeyUrl", None), ("statusTags", None),
                           ("carryForward", None), ("inheritedFrom", "SceneAssetInstance"),
                           ("effectiveDescription", None), ("modificationCount", None),
                           ("lastModifiedField", None), ("modificationReason", None),
                           ("isOutdated", None), ("chain", "SceneAssetInstance"),
                           ("shotAssignments", "ShotAssetAssignment"), ("createdAt", None),
                           ("updatedAt", None), ("edited", None), ("revisions", "InstanceRevision"),
                           ("diffFromSource", "StateDiff")],
    "InstanceRevision": [("id", None), ("number", None), ("kind", None), ("sceneAssetInstanceId", None),
                         ("sceneId", None), ("projectAssetId", None), ("changedFields", None),
                         ("before", "InstanceState"), ("after", "InstanceState"), ("reason", None),
                         ("actorUserId", None), ("createdAt", None)],
    "InstanceState": [("descriptionOverride", None), ("effectiveDescription", None), ("statusTags", None),
                      ("imageKeyUrl", None), ("imageIsOwn", None), ("carryForward", None), ("baseVersion", None)],
    "StateDiff": [("sourceInstanceId", None), ("unchanged", None), ("tagsAdded", None), ("tagsRemoved", None),
                  ("descriptionChanged", None), ("previousEffectiveDescription", None), ("imageChanged", None),
                  ("carryForwardChanged", None)],
    "Shot": [("id", None), ("scene", "Scene"), ("shotLabel", None), ("shotOrder", None),
             ("durationSeconds", None), ("setting", None), ("action", None), ("camera", None),
             ("framePrompt", None), ("videoPrompt", None),
             ("referenceImageOrder", "ReferenceImage"), ("endFrameReferenceImageOrder", "ReferenceImage"),
             ("assetAssignments", "ShotAssetAssignment"), ("transformationEvents", "TransformationEvent"),
             ("frameReferences", "FrameReferences"), ("updatedAt", None), ("continuesFromPrevious", None),
             ("startFrame", "ImageJob"), ("endFrame", "ImageJob"), ("readiness", "ShotReadiness")],
    "ImageJob": [("id", None), ("jobType", None), ("status", None), ("shotId", None), ("prompt", None),
                 ("width", None), ("sceneId", None), ("referenceImages", "ReferenceImage"), ("storagePath", None),
                 ("createdAt", None), ("completedAt", None), ("attempts", None), ("nextAttemptAt", None)],
    "ShotReadiness": [("readyForVideo", None), ("blockers", None)],
    "FrameReferences": [("startFrameManifest", None), ("endFrameManifest", None), ("presenceDirections", None),
                        ("usesLegacyFallback", None), ("startFrameImages", "ReferenceImage"),
                        ("endFrameImages", "ReferenceImage"), ("videoOnlyAssets", "ShotAssetAssignment")],
    "ReferenceImage": [("position", None), ("sceneAssetInstanceId", None), ("projectAssetId", None),
                       ("assetName", None), ("assetType", None), ("imageUrl", None)],
    "ShotAssetAssignment": [("id", None), ("shot", "Shot"), ("sceneAssetInstance", "SceneAssetInstance"),
                            ("presenceType", None), ("createdAt", None), ("updatedAt", None)],
    "TransformationEvent": [("id", None), ("shot", "Shot"), ("sceneAssetInstance", "SceneAssetInstance"),
                            ("postDescription", None), ("postImageKeyUrl", None), ("createdAt", None)],
}
ROOTS = {"scene": "Scene", "branch": "Branch", "project": "Project", "sceneAssetInstance": "SceneAssetInstance",
         "shot": "Shot"}
DIRECTIVES = ["", "", "", " @include(if: $yes)", " @skip(if: $no)", " @include(if: $no)", " @skip(if: true)"]
# Fields with arguments: literals, an explicit null, a variable (declared when used) or none.
SEVERITIES = ["", "(minSeverity: INFO)", "(minSeverity: WARNING)", "(minSeverity: ERROR)", "(minSeverity: null)",
              "(minSeverity: $severity)"]
PAGES = ["", "(first: 2)", "(first: 1, beforeNumber: 2)", "(beforeNumber: null)", "(first: null)", "(first: $first)"]
ARGUMENTS = {("Branch", "continuityReport"): SEVERITIES, ("Scene", "continuityWarnings"): SEVERITIES,
             ("SceneAssetInstance", "revisions"): PAGES, ("ProjectAsset", "revisions"): ["", "(first: 1)"]}


@st.composite
def selections(draw: Any, type_name: str, depth: int, prefix: str = "") -> str:
    fields = OBJECTS[type_name]
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=5, unique=True))
    parts = []
    for index, (name, target) in enumerate(chosen):
        alias = f"{prefix}{name}{index}: " if draw(st.booleans()) else ""
        directive = draw(st.sampled_from(DIRECTIVES))
        arguments = draw(st.sampled_from(ARGUMENTS.get((type_name, name), [""])))
        if arguments:
            # Aliased: fields of one response key that merge must have the same arguments.
            alias = f"{prefix}{name}{index}: "
            name += arguments
        if target is None:
            parts.append(f"{alias}{name}{directive}")
            continue
        if depth <= 0:
            leafy = ("StageLock", "ReferenceImage", "LocalContext", "FrameReferences", "InstanceState", "StateDiff",
                     "LocalContextAsset", "ShotReadiness", "ContinuityWarning")
            inner = "__typename" if target in leafy else "id"
        else:
            inner = draw(selections(target, depth - 1, prefix))
        parts.append(f"{alias}{name}{directive} {{ {inner} }}")
    if draw(st.booleans()):
        parts.append("__typename")
    if draw(st.integers(0, 3)) == 0:
        # An inline fragment whose fields merge with the ones above (own aliases: no conflicts).
        parts.append(f"... on {type_name}{draw(st.sampled_from(DIRECTIVES))} {{ "
                     + draw(selections(type_name, max(depth - 1, 0), prefix + "f")) + " }")
    return " ".join(parts)


@st.composite
def documents(draw: Any) -> tuple[str, str]:
    root = draw(st.sampled_from(sorted(ROOTS)))
    body = draw(selections(ROOTS[root], draw(st.integers(1, 3))))
    fragment = ""
    if draw(st.booleans()):
        fragment = f"fragment Extra on {ROOTS[root]} {{ {draw(selections(ROOTS[root], 1, 'g'))} }}"
        body += " ...Extra"
    declared = "".join(
        f", ${name}: {kind}" for name, kind in (("severity", "Severity"), ("first", "Int")) if f"${name}" in body + fragment
    )
    query = (
        f"query Generated($id: UUID!, $yes: Boolean!, $no: Boolean!{declared}) {{"
        f" yes: __typename @include(if: $yes) no: __typename @skip(if: $no)"
        f" {root}(id: $id) {{ {body} }} }} {fragment}"
    )
    return root, query


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=documents(), yes=st.booleans(), severity=st.sampled_from(["INFO", "WARNING", "ERROR", None]),
       first=st.sampled_from([1, 3, None]))
async def test_generated_selections_answer_alike_on_all_three_paths(
    document: tuple[str, str], yes: bool, severity: str | None, first: int | None, film: BenchFilm, alice: Client,
    bob: Client,
) -> None:
    root, query = document
    ids = {
        "scene": film.scenes[2], "branch": film.branch_id, "project": film.project_id,
        "shot": film.extra["shot"], "sceneAssetInstance": film.extra["instance"],
    }
    variables: dict[str, Any] = {"id": ids[root], "yes": yes, "no": not yes}
    if "$severity" in query:
        variables["severity"] = severity
    if "$first" in query:
        variables["first"] = first
    mine = await alike(alice, query, variables)
    if "errors" in mine:
        # Deep chains can pass the cost limit: refused alike on both paths, nothing to compare.
        assert {e["extensions"]["code"] for e in mine["errors"]} == {"QUERY_TOO_COMPLEX"}, mine
        return
    theirs = await alike(bob, query, variables)
    assert theirs["data"][root] is None


async def test_viewer_projects_answer_alike_on_all_three_paths(film: BenchFilm, alice: Client, bob: Client) -> None:
    query = """{ viewer { userId projects { id title createdAt activeBranch { id name }
                 branches { name scenes { sceneNumber shots { shotLabel } } } } } }"""
    mine = await alike(alice, query, {})
    assert [p["id"] for p in mine["data"]["viewer"]["projects"]] == [film.project_id]
    theirs = await alike(bob, query, {})
    assert theirs["data"]["viewer"]["projects"] == []


async def test_local_context_is_planned_and_answers_alike(film: BenchFilm, alice: Client, statements: Any) -> None:
    query = """query($id: UUID!) { scene(id: $id) { sceneNumber
                 localContext { sceneId sceneScript previousSceneEndState
                                sceneAssets { name type description statusTags imageKeyUrl } }
                 priorScene { localContext { sceneScript previousSceneEndState } } } }"""
    mine = await alike(alice, query, {"id": film.scenes[3]})
    scene = mine["data"]["scene"]
    assert scene["localContext"]["sceneId"] == film.scenes[3]
    assert scene["localContext"]["previousSceneEndState"] == "End of scene 2"
    assert len(scene["localContext"]["sceneAssets"]) == 5
    assert scene["priorScene"]["localContext"]["sceneScript"].endswith("Scene 2.")
    assert scene["priorScene"]["localContext"]["previousSceneEndState"] is None
    # Scene 2's instances have empty images of their own but one: the asset's image shows through.
    two = await alike(alice, query, {"id": film.scenes[2]})
    images = [a["imageKeyUrl"] for a in two["data"]["scene"]["localContext"]["sceneAssets"]]
    assert "" in images and any("/own/" in (i or "") for i in images) and any("/assets/" in (i or "") for i in images)
    statements.take()
    await post(alice, query, {"id": film.scenes[2]}, planner=True)
    assert statements.take() == 2


FRAMES = """query($id: UUID!) { branch(id: $id) { scenes { sceneNumber shots { shotLabel frameReferences {
    usesLegacyFallback startFrameManifest endFrameManifest presenceDirections
    startFrameImages { position sceneAssetInstanceId projectAssetId assetName assetType imageUrl }
    endFrameImages { position sceneAssetInstanceId assetName imageUrl }
    videoOnlyAssets { id presenceType sceneAssetInstance { id } } } } } } }"""


async def test_frame_references_are_planned_and_answer_alike(film: BenchFilm, alice: Client, bob: Client,
                                                            statements: Any) -> None:
    mine = await alike(alice, FRAMES, {"id": film.branch_id})
    scenes = {s["sceneNumber"]: s["shots"] for s in mine["data"]["branch"]["scenes"]}
    legacy = [shot["frameReferences"] for shot in scenes[1]]
    assert all(f["usesLegacyFallback"] and not f["videoOnlyAssets"] and not f["presenceDirections"] for f in legacy)
    # Every scene asset with an image is in both frames; a post image gives an imageless one an end image.
    assert len(legacy[0]["startFrameImages"]) == 4 and len(legacy[0]["endFrameImages"]) == 5
    assert any("/post/" in e["imageUrl"] for e in legacy[0]["endFrameImages"])
    cast = [shot["frameReferences"] for shot in scenes[3]]
    assert any(f["videoOnlyAssets"] for f in cast) and any(f["presenceDirections"] for f in cast)
    assert all(not f["usesLegacyFallback"] for f in cast)
    assert cast[0]["startFrameManifest"].startswith("Image 1: ")
    # A shot of an initialised scene whose assignments were all deleted has no assets at all.
    empty = scenes[4][1]["frameReferences"]
    assert empty["startFrameImages"] == [] and empty["startFrameManifest"] == "" and empty["presenceDirections"] == []
    statements.take()
    await post(alice, FRAMES, {"id": film.branch_id}, planner=True)
    assert statements.take() == 2
    assert (await alike(bob, FRAMES, {"id": film.branch_id}))["data"] == {"branch": None}


async def test_stage9_page_is_one_statement_after_the_claims(film: BenchFilm, alice: Client, statements: Any) -> None:
    query = (QUERIES / "stage9_page.graphql").read_text()
    await post(alice, query, {"id": film.scenes[2]}, planner=True)
    statements.take()
    body = await post(alice, query, {"id": film.scenes[2]}, planner=True)
    assert len(body["data"]["scene"]["shots"]) == 3
    assert statements.take() == 2


async def test_the_stage9_floor_answers_exactly_as_the_server(film: BenchFilm, alice: Client, database_url: str) -> None:
    """bench/floor/stage9_page.sql is the hand-written statement the benchmark compares with."""
    query = (QUERIES / "stage9_page.graphql").read_text()
    sql = (QUERIES.parent / "floor" / "stage9_page.sql").read_text().partition("\n")[2]
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for number in (1, 2, 3, 4):
            ours = await alike(alice, query, {"id": film.scenes[number]})
            async with conn.transaction():
                await conn.execute(
                    "select set_config('role', 'authenticated', true),"
                    " set_config('request.jwt.claim.sub', $1, true)", str(alice.user_id)
                )
                floor = json.loads(await conn.fetchval(sql, uuid.UUID(film.scenes[number]), alice.user_id))
            assert floor == ours["data"]["scene"], number
    finally:
        await conn.close()


async def test_a_field_left_to_its_resolver_is_filled_in_place(film: BenchFilm, alice: Client) -> None:
    query = """query($id: UUID!) { scene(id: $id) { sceneNumber
                 assetInstances { diffFromSource { sourceInstanceId unchanged } }
                 priorScene { assetInstances { id diffFromSource { tagsAdded } } } } }"""
    mine = await alike(alice, query, {"id": film.scenes[3]})
    scene = mine["data"]["scene"]
    assert len(scene["assetInstances"]) == 5 and all(i["diffFromSource"]["sourceInstanceId"] for i in scene["assetInstances"])
    assert len(scene["priorScene"]["assetInstances"]) == 5


async def test_a_resolver_below_a_nullable_relation_answers_alike(film: BenchFilm, alice: Client) -> None:
    # Were diffFromSource to fail, a non-null error would null the nearest nullable ancestor
    # (priorScene) and no more: both paths must agree either way.
    query = """query($id: UUID!) { scene(id: $id) { sceneNumber
                 priorScene { sceneNumber assetInstances { id diffFromSource { unchanged } } } } }"""
    mine = await alike(alice, query, {"id": film.scenes[3]})
    assert mine["data"]["scene"]["sceneNumber"] == 3


async def test_editing_fields_answer_alike_on_all_three_paths(film: BenchFilm, alice: Client, bob: Client) -> None:
    query = """query($id: UUID!) { scene(id: $id) { storyDay timeOfDay updatedAt
                 shots { shotLabel updatedAt continuesFromPrevious startFrame { id jobType shotId }
                         endFrame { id jobType shotId } }
                 branch { id forkedFrom { name forkedFrom { id } } } } }"""
    mine = await alike(alice, query, {"id": film.scenes[2]})
    scene = mine["data"]["scene"]
    assert scene["storyDay"] == 3 and scene["timeOfDay"] == "DAWN"
    shots = scene["shots"]
    assert [s["continuesFromPrevious"] for s in shots] == [False, True, True]
    # A continuing shot's start frame is the previous shot's end frame.
    assert shots[1]["startFrame"] == shots[0]["endFrame"] and shots[0]["startFrame"]["jobType"] == "START_FRAME"
    assert scene["branch"]["forkedFrom"] == {"name": "fork", "forkedFrom": {"id": scene["branch"]["id"]}}
    assert (await alike(bob, query, {"id": film.scenes[2]}))["data"] == {"scene": None}


async def test_revision_history_and_diffs_answer_alike_on_all_three_paths(film: BenchFilm, alice: Client, bob: Client) -> None:
    # `edited` is compiled; revisions and diffFromSource are left to their resolvers (holes).
    query = """query($id: UUID!) { scene(id: $id) { sceneNumber
                 assetInstances { id edited revisions(first: 2) { number kind changedFields reason actorUserId
                                  before { statusTags } after { statusTags effectiveDescription imageIsOwn } }
                                  diffFromSource { sourceInstanceId unchanged tagsAdded tagsRemoved descriptionChanged
                                                   previousEffectiveDescription imageChanged carryForwardChanged }
                                  projectAsset { name revisions(first: 3) { number sceneId kind } } } } }"""
    mine = await alike(alice, query, {"id": film.scenes[3]})
    instances = mine["data"]["scene"]["assetInstances"]
    assert [r["kind"] for r in instances[0]["revisions"]] == ["UPDATED", "CREATED"]
    assert any(i["diffFromSource"]["tagsAdded"] == ["wet"] for i in instances)
    theirs = await alike(bob, query, {"id": film.scenes[3]})
    assert theirs["data"]["scene"] is None


async def test_arguments_a_resolver_refuses_are_refused_alike(film: BenchFilm, alice: Client) -> None:
    query = """query($id: UUID!, $first: Int) { scene(id: $id) { sceneNumber
                 assetInstances { id revisions(first: $first) { number } } } }"""
    for first in (0, 101):
        mine = await alike(alice, query, {"id": film.scenes[3], "first": first})
        assert {e["extensions"]["code"] for e in mine["errors"]} == {"BAD_USER_INPUT"}, mine
    mine = await alike(alice, query, {"id": film.scenes[3], "first": 1})
    assert all(len(i["revisions"]) == 1 for i in mine["data"]["scene"]["assetInstances"])


async def test_the_history_page_is_one_statement_after_the_claims(
    film: BenchFilm, alice: Client, statements: Any
) -> None:
    query = (QUERIES / "history_page.graphql").read_text()
    await post(alice, query, {"id": film.branch_id}, planner=True)
    statements.take()
    body = await post(alice, query, {"id": film.branch_id}, planner=True)
    assert body["data"]["branch"]["scenes"][0]["assetInstances"][0]["revisions"]
    assert statements.take() == 2


# -- the fast path's edge cases ---------------------------------------------------------------

SCENE = """query Scene($id: UUID!, $shots: Boolean = true, $skipNumber: Boolean! = false) {
  scene(id: $id) { __typename id n1: sceneNumber n2: sceneNumber sceneNumber @skip(if: $skipNumber)
                   shots @include(if: $shots) { __typename shotLabel label: shotLabel } } }"""


async def test_variables_with_defaults_and_directives_answer_alike(
    film: BenchFilm, alice: Client, fast: FastCount
) -> None:
    defaults = await alike(alice, SCENE, {"id": film.scenes[2]})
    scene = defaults["data"]["scene"]
    assert list(scene) == ["__typename", "id", "n1", "n2", "sceneNumber", "shots"]
    assert scene["__typename"] == "Scene" and scene["n1"] == scene["n2"] == scene["sceneNumber"] == 2
    assert [s["label"] for s in scene["shots"]] == [s["shotLabel"] for s in scene["shots"]]
    assert scene["shots"][0]["__typename"] == "Shot"
    given = await alike(alice, SCENE, {"id": film.scenes[2], "shots": False, "skipNumber": True})
    assert list(given["data"]["scene"]) == ["__typename", "id", "n1", "n2"]
    # An explicit null for a nullable Boolean with a default: @include(if: null) is refused.
    refused = await alike(alice, SCENE, {"id": film.scenes[2], "shots": None})
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert fast.take() == 2


async def test_root_typename_aliases_and_directives_answer_alike(
    film: BenchFilm, alice: Client, bob: Client, fast: FastCount
) -> None:
    query = """query($a: UUID!, $b: UUID!, $yes: Boolean!) {
      __typename first: scene(id: $a) { sceneNumber } second: scene(id: $b) { sceneNumber slug }
      skipped: scene(id: $a) @skip(if: $yes) { id } kept: branch(id: "BRANCH") @include(if: $yes) { name }
      t: __typename }""".replace("BRANCH", film.branch_id)
    variables = {"a": film.scenes[1], "b": film.scenes[2], "yes": True}
    mine = await alike(alice, query, variables)
    assert list(mine["data"]) == ["__typename", "first", "second", "kept", "t"]
    assert mine["data"]["__typename"] == mine["data"]["t"] == "Query"
    assert (mine["data"]["first"]["sceneNumber"], mine["data"]["second"]["sceneNumber"]) == (1, 2)
    theirs = await alike(bob, query, variables)
    assert theirs["data"] == {"__typename": "Query", "first": None, "second": None, "kept": None, "t": "Query"}
    assert fast.take() == 2


async def test_missing_and_invalid_ids_answer_alike(film: BenchFilm, alice: Client, fast: FastCount) -> None:
    missing = await alike(alice, SCENE, {"id": str(uuid.uuid4())})
    assert missing == {"data": {"scene": None}}
    assert fast.take() == 1
    for bad in ("not-a-uuid", 42, None):
        refused = await alike(alice, SCENE, {"id": bad})
        assert "data" not in refused and refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    literal = await alike(alice, '{ scene(id: "not-a-uuid") { id } }', None)
    assert literal["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", literal
    assert literal["errors"][0]["locations"]
    assert fast.take() == 0


async def test_operation_name_picks_among_operations_alike(film: BenchFilm, alice: Client, fast: FastCount) -> None:
    document = """query Numbers($id: UUID!) { scene(id: $id) { sceneNumber } }
                  query Slugs($id: UUID!) { scene(id: $id) { slug } }
                  mutation Remove($id: UUID!) { deleteSceneAssetInstance(id: $id) { __typename } }"""
    variables = {"id": film.scenes[1]}
    numbers = await alike(alice, document, variables, operationName="Numbers")
    slugs = await alike(alice, document, variables, operationName="Slugs")
    assert (numbers["data"]["scene"], list(slugs["data"]["scene"])) == ({"sceneNumber": 1}, ["slug"])
    assert fast.take() == 2
    unnamed = await alike(alice, document, variables)
    unknown = await alike(alice, document, variables, operationName="Nope")
    for refused in (unnamed, unknown):
        assert refused["errors"][0]["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"
    assert fast.take() == 0


async def test_limits_and_authentication_answer_alike(
    film: BenchFilm, alice: Client, anonymous: Client, fast: FastCount
) -> None:
    chain = "chain { id }"
    for _ in range(4):
        chain = f"chain {{ id {chain} }}"
    costly = f"query($id: UUID!) {{ scene(id: $id) {{ assetInstances {{ {chain} }} }} }}"
    refused = await alike(alice, costly, {"id": film.scenes[3]})
    assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX", refused
    unknown = await alike(alice, "query($id: UUID!) { scene(id: $id) { nope } }", {"id": film.scenes[3]})
    assert unknown["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    broken = await alike(alice, "query { scene(id: ", None)
    assert broken["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    stranger = await alike(anonymous, SCENE, {"id": film.scenes[3]})
    assert stranger["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert fast.take() == 0


async def test_a_get_request_and_the_graphql_response_media_type_answer_alike(
    film: BenchFilm, alice: Client, fast: FastCount
) -> None:
    for headers in ({}, {"accept": "application/graphql-response+json"}):
        answers = []
        for path in PATHS.values():
            response = await alice.http.get(
                "/graphql", params={"query": SCENE, "variables": json.dumps({"id": film.scenes[2]})},
                headers=alice.headers() | path | headers,
            )
            answers.append((response.status_code, response.headers["content-type"], response.json()))
        assert answers[0] == answers[1] == answers[2]
        assert answers[0][2]["data"]["scene"]["sceneNumber"] == 2
    assert fast.take() == 2


# -- chains ------------------------------------------------------------------------------------
CHAINS = """query($id: UUID!) {
  branch(id: $id) { scenes { sceneNumber assetInstances { id chain { id scene { sceneNumber } } } } }
}"""
# Chains under other parents: an asset's instances, nested in a chain, under a to-one, from a
# root instance (each its own document: together they pass the cost limit).
OTHER_CHAINS = [
    ("branch", "query($id: UUID!) { branch(id: $id) { assets { name sceneInstances { id c: chain { effectiveDescription } } } } }"),
    ("scene", "query($id: UUID!) { scene(id: $id) { assetInstances { chain { id chain { id scene { id } } } } } }"),
    ("scene", "query($id: UUID!) { scene(id: $id) { shots { assetAssignments { sceneAssetInstance { chain { id } } } } } }"),
    ("instance", "query($id: UUID!) { sceneAssetInstance(id: $id) { chain { id inheritedFrom { id } } } }"),
]


async def test_chains_under_every_parent_answer_alike_in_one_statement(
    film: BenchFilm, alice: Client, statements: Any, fast: FastCount
) -> None:
    # A branch's instances' chains are walked at once: still root first, one statement.
    body = await alike(alice, CHAINS, {"id": film.branch_id})
    assert "errors" not in body, body
    scenes = body["data"]["branch"]["scenes"]
    for scene in scenes:
        for instance in scene["assetInstances"]:
            chain = instance["chain"]
            # Root first, ending at the instance itself, one link per earlier scene.
            assert chain[-1]["id"] == instance["id"]
            numbers = [link["scene"]["sceneNumber"] for link in chain]
            assert numbers == sorted(numbers) and numbers[-1] == scene["sceneNumber"]
    assert max(len(i["chain"]) for i in scenes[-1]["assetInstances"]) > 2
    fast.take()
    statements.take()
    await post(alice, CHAINS, {"id": film.branch_id}, planner=True)
    assert statements.take() == 2
    assert fast.take() == 1
    ids = {"branch": film.branch_id, "scene": film.scenes[2], "instance": film.extra["instance"]}
    for root, query in OTHER_CHAINS:
        other = await alike(alice, query, {"id": ids[root]})
        assert "errors" not in other and "[]" not in json.dumps(other), other
        statements.take()
        await post(alice, query, {"id": ids[root]}, planner=True)
        assert statements.take() == 2


async def test_a_cycle_in_a_chain_ends_the_walk_alike_on_all_three_paths(
    film: BenchFilm, alice: Client, server: Any
) -> None:
    query = """query($id: UUID!) { scene(id: $id) { assetInstances { id chain { id } } } }"""
    before = await alike(alice, query, {"id": film.scenes[2]})
    instance = max(before["data"]["scene"]["assetInstances"], key=lambda i: len(i["chain"]))
    root, last = instance["chain"][0]["id"], instance["id"]
    assert root != last
    link = "update scene_asset_instances set inherited_from_instance_id = :p where id = :i"
    async with server.state.db.transaction(alice.user_id) as conn:
        await conn.execute(text(link), {"p": uuid.UUID(last), "i": uuid.UUID(root)})
    try:
        cycled = await alike(alice, query, {"id": film.scenes[2]})
        for other in cycled["data"]["scene"]["assetInstances"]:
            ids = [link["id"] for link in other["chain"]]
            assert len(ids) == len(set(ids)) and ids[-1] == other["id"]
        chain = next(i for i in cycled["data"]["scene"]["assetInstances"] if i["id"] == last)["chain"]
        # The root's new link goes to a later scene, so the walk does not follow it: the chain is as it was.
        assert chain[-1]["id"] == last and len(chain) == len(instance["chain"])
    finally:
        async with server.state.db.transaction(alice.user_id) as conn:
            await conn.execute(text(link), {"p": None, "i": uuid.UUID(root)})
