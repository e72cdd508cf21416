"""Image jobs over the API and over websockets, with the server's in-process worker:
docs/images.md."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from typing import Any

import asyncpg
import httpx
from PIL import Image
from sqlalchemy import text

from tests.support import Client, asyncpg_dsn
from tests.support.film import film_with_instances
from tests.support.subscriptions import BY_JOB, BY_PROJECT, JOB_FIELDS, WAIT, connect

GENERATE = f"""
mutation($i: UUID!, $k: String) {{ generateSceneAssetImage(instanceId: $i, idempotencyKey: $k) {{ {JOB_FIELDS} }} }}
"""
JOB = f"query($id: UUID!) {{ imageJob(id: $id) {{ {JOB_FIELDS} }} }}"
UPDATE = """
mutation($id: UUID!, $i: UpdateSceneAssetInstanceInput!) {
  updateSceneAssetInstance(id: $id, input: $i) { modificationCount }
}
"""
INSTANCE = """
query($id: UUID!) {
  sceneAssetInstance(id: $id) { imageKeyUrl modificationCount lastModifiedField modificationReason }
}
"""
STAGE = """
mutation($s: UUID!, $n: Int!) { setSceneStageStatus(sceneId: $s, stage: $n, status: LOCKED) { id } }
"""
LOCKS = "query($s: UUID!) { scene(id: $s) { stageLocks { stage status } } }"
MISSING = "00000000-0000-4000-8000-00000000dead"


async def generate(client: Client, instance_id: str, key: str | None = None) -> dict[str, Any]:
    return (await client.data(GENERATE, {"i": instance_id, "k": key}))["generateSceneAssetImage"]


async def until(condition: Any) -> None:
    """Waits (at most WAIT) for a condition on server state that no message announces."""
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), WAIT)


async def wait_completed(client: Client, server: Any, job_id: str) -> dict[str, Any]:
    """A jobId subscription to the end: its last message."""
    async with connect(server.base_url, client.token) as socket:
        op = await socket.subscribe(BY_JOB, {"j": job_id})
        job = await op.job()
        while job["status"] not in ("COMPLETED", "FAILED"):
            job = await op.job()
        return job


async def job_rows(server: Any, where: str, **params: Any) -> list[Any]:
    async with server.state.db.transaction(None) as conn:
        return list((await conn.execute(text(f"select * from image_generation_jobs where {where}"), params)).mappings())


async def test_generating_needs_a_locked_visual_style_and_changes_nothing_without(alice: Client, server: Any) -> None:
    film, instances = await film_with_instances(alice, style=False)
    assert await alice.code(GENERATE, {"i": instances["Mara"]}) == "VISUAL_STYLE_REQUIRED"
    assert await job_rows(server, "project_id = :p", p=film.project_id) == []


async def test_prompt_size_path_and_key_follow_the_instance(alice: Client) -> None:
    film, instances = await film_with_instances(alice)
    await alice.data(UPDATE, {"id": instances["Mara"], "i": {"descriptionOverride": "A soaked keeper",
                                                              "statusTags": ["muddy", "torn_shirt"]}})
    mara = await generate(alice, instances["Mara"])
    assert mara["jobType"] == "SCENE_ASSET" and mara["status"] == "QUEUED"
    assert mara["prompt"] == "A soaked keeper\nStatus: muddy, torn_shirt"
    assert (mara["width"], mara["height"]) == (512, 768)
    assert mara["sceneId"] == film.scenes[1] and mara["shotId"] is None
    assert mara["projectAssetId"] == film.assets["Mara"] and mara["sceneAssetInstanceId"] == instances["Mara"]
    assert mara["referenceImages"] == [] and mara["imageUrl"] is None and mara["completedAt"] is None
    assert str(uuid.UUID(mara["idempotencyKey"])) == mara["idempotencyKey"]  # no key given: a new UUID
    path = (
        rf"project_{film.project_id}/branch_{film.branch_id}/scene_{film.scenes[1]}/scene-assets/"
        rf"{film.assets['Mara']}_\d{{13}}_[0-9a-z]+\.png"
    )
    assert re.fullmatch(path, mara["storagePath"]), mara["storagePath"]
    location = await generate(alice, instances["Lighthouse"])
    assert (location["width"], location["height"], location["prompt"]) == (1024, 576, "A white tower")
    prop = await generate(alice, instances["Anchor"])
    assert (prop["width"], prop["height"]) == (512, 512)
    assert (await alice.data(JOB, {"id": prop["id"]}))["imageJob"]["id"] == prop["id"]


async def test_a_known_key_returns_its_job_and_is_conflict_for_another_instance(alice: Client) -> None:
    _, instances = await film_with_instances(alice)
    first = await generate(alice, instances["Mara"], "take-1")
    again = await generate(alice, instances["Mara"], "take-1")
    assert again["id"] == first["id"] and again["storagePath"] == first["storagePath"]
    assert await alice.code(GENERATE, {"i": instances["Anchor"], "k": "take-1"}) == "CONFLICT"
    # Keys are per project: another project may use the same one.
    _, other = await film_with_instances(alice)
    assert (await generate(alice, other["Mara"], "take-1"))["id"] != first["id"]
    for bad in ("", " ", "x" * 201, "a\x00b"):
        assert await alice.code(GENERATE, {"i": instances["Mara"], "k": bad}) == "BAD_USER_INPUT"
    assert await alice.code(GENERATE, {"i": MISSING}) == "NOT_FOUND"


async def test_concurrent_calls_with_one_key_make_one_job(alice: Client, server: Any) -> None:
    film, instances = await film_with_instances(alice)
    jobs = await asyncio.gather(*(generate(alice, instances["Anchor"], "same-key") for _ in range(12)))
    assert len({j["id"] for j in jobs}) == 1
    assert len(await job_rows(server, "project_id = :p", p=film.project_id)) == 1


async def test_a_project_subscription_sees_queued_processing_completed(alice: Client, server: Any) -> None:
    film, instances = await film_with_instances(alice)
    hub = server.state.events
    async with connect(server.base_url, alice.token) as socket:
        before = hub.subscribers
        op = await socket.subscribe(BY_PROJECT, {"p": film.project_id})
        await until(lambda: hub.subscribers > before)
        job = await generate(alice, instances["Lighthouse"])
        seen = await op.until(job["id"], "COMPLETED")
    await until(lambda: hub.subscribers == before)  # a closed socket leaves nothing behind in the hub
    assert [j["status"] for j in seen] == ["QUEUED", "PROCESSING", "COMPLETED"]
    queued, processing, completed = seen
    assert queued == job
    assert processing["imageUrl"] is None and processing["completedAt"] is None
    assert completed["imageUrl"] == f"{server.base_url}/media/{job['storagePath']}"
    assert completed["completedAt"] >= completed["createdAt"] and completed["error"] is None
    assert {k: v for k, v in completed.items() if k not in ("status", "imageUrl", "completedAt")} == {
        k: v for k, v in job.items() if k not in ("status", "imageUrl", "completedAt")
    }


async def test_completion_makes_the_image_the_instances_own_and_outdates_frames(alice: Client, server: Any) -> None:
    film, instances = await film_with_instances(alice)
    await alice.data(STAGE, {"s": film.scenes[1], "n": 9})
    await alice.data(STAGE, {"s": film.scenes[1], "n": 5})
    await alice.data(UPDATE, {"id": instances["Mara"], "i": {"statusTags": ["wet"], "modificationReason": "rain"}})
    job = await wait_completed(alice, server, (await generate(alice, instances["Mara"]))["id"])
    assert job["status"] == "COMPLETED"
    instance = (await alice.data(INSTANCE, {"id": instances["Mara"]}))["sceneAssetInstance"]
    assert instance == {"imageKeyUrl": job["imageUrl"], "modificationCount": 2,
                        "lastModifiedField": "image_key_url", "modificationReason": None}
    locks = (await alice.data(LOCKS, {"s": film.scenes[1]}))["scene"]["stageLocks"]
    assert locks == [{"stage": 5, "status": "LOCKED"}, {"stage": 9, "status": "OUTDATED"}]
    # The image is the instance's own: a resync after the asset changed keeps it.
    await alice.data("mutation($id: UUID!) { updateProjectAsset(id: $id, input: {imageKeyUrl: \"https://img.example/v2.png\"}) { version } }",
                     {"id": film.assets["Mara"]})
    resynced = await alice.data("mutation($id: UUID!) { resyncSceneAssetInstance(id: $id) { imageKeyUrl } }",
                                {"id": instances["Mara"]})
    assert resynced["resyncSceneAssetInstance"]["imageKeyUrl"] == job["imageUrl"]


async def test_a_job_subscription_after_completion_gets_the_final_state_and_ends(alice: Client, server: Any) -> None:
    _, instances = await film_with_instances(alice)
    done = await wait_completed(alice, server, (await generate(alice, instances["Anchor"]))["id"])
    async with connect(server.base_url, alice.token) as socket:
        op = await socket.subscribe(BY_JOB, {"j": done["id"]})
        assert await op.job() == done
        assert (await op.message())["type"] == "complete"


async def test_the_served_png_has_the_jobs_size(alice: Client, server: Any, http: httpx.AsyncClient) -> None:
    _, instances = await film_with_instances(alice)
    for name in ("Mara", "Lighthouse"):
        job = await wait_completed(alice, server, (await generate(alice, instances[name]))["id"])
        response = await http.get(job["imageUrl"])
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(response.content))
        assert image.format == "PNG" and image.size == (job["width"], job["height"])
        assert (server.settings.media_dir / job["storagePath"]).is_file()


async def _raw_get(server: Any, path: str) -> tuple[int, bytes]:
    """An HTTP request with the path exactly as written (clients normalise `..` away)."""
    host, port = server.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    status = int(response.split(b" ", 2)[1])
    return status, response


async def test_media_refuses_paths_that_leave_the_media_directory(server: Any) -> None:
    media = server.settings.media_dir
    secret = media.parent / "outside-secret.txt"
    secret.write_text("do not serve me")
    (media / "inside.txt").write_text("fine")
    link = media / "escape.txt"
    if not link.exists():
        link.symlink_to(secret)
    assert (await _raw_get(server, "/media/inside.txt"))[0] == 200
    for path in ("/media/../outside-secret.txt", "/media/%2e%2e/outside-secret.txt",
                 "/media/..%2foutside-secret.txt", "/media/%2e%2e%2foutside-secret.txt",
                 "/media/escape.txt", "/media//etc/passwd", "/media/..\\outside-secret.txt"):
        status, body = await _raw_get(server, path)
        assert status == 404, (path, status)
        assert b"do not serve me" not in body and b"root:" not in body


async def test_foreign_missing_and_malformed_subscriptions_are_refused(alice: Client, bob: Client, server: Any) -> None:
    film, instances = await film_with_instances(alice)
    job = await generate(alice, instances["Anchor"])
    assert await bob.code(GENERATE, {"i": instances["Anchor"]}) == "NOT_FOUND"
    assert (await bob.data(JOB, {"id": job["id"]}))["imageJob"] is None
    async with connect(server.base_url, bob.token) as socket:
        for query, variables in [
            (BY_PROJECT, {"p": film.project_id}),
            (BY_JOB, {"j": job["id"]}),
            (BY_JOB, {"j": MISSING}),
            (BY_PROJECT, {"p": MISSING}),
        ]:
            assert await (await socket.subscribe(query, variables)).error_code() == "NOT_FOUND"
        for document in (
            "subscription { imageJobUpdated { id } }",
            f'subscription {{ imageJobUpdated(projectId: "{film.project_id}", jobId: "{job["id"]}") {{ id }} }}',
            "subscription { imageJobUpdated(jobId: null) { id } }",
            'subscription { imageJobUpdated(jobId: "not-a-uuid") { id } }',
        ):
            assert await (await socket.subscribe(document)).error_code() == "BAD_USER_INPUT", document
    async with connect(server.base_url, None) as socket:
        assert await (await socket.subscribe(BY_JOB, {"j": job["id"]})).error_code() == "UNAUTHENTICATED"
    async with connect(server.base_url, "not-a-token") as socket:
        assert await (await socket.subscribe(BY_JOB, {"j": job["id"]})).error_code() == "UNAUTHENTICATED"


async def _terminate_listener(server: Any, and_then: str = "", **params: Any) -> int:
    """Kills the hub's listening connection from the server side; `and_then` runs in the same
    transaction, so its announcement goes out while nobody listens."""
    hub = server.state.events
    await hub.wait_connected()
    pid = hub.backend_pid
    conn = await asyncpg.connect(asyncpg_dsn(server.state.db.url))
    try:
        async with conn.transaction():
            assert await conn.fetchval("select pg_terminate_backend($1)", pid)
            if and_then:
                await conn.execute(and_then, *params.values())
    finally:
        await conn.close()
    await until(lambda: hub.backend_pid not in (None, pid))
    return int(pid)


async def test_the_listener_reconnects_and_subscriptions_go_on(alice: Client, server: Any) -> None:
    film, instances = await film_with_instances(alice)
    hub = server.state.events
    async with connect(server.base_url, alice.token) as socket:
        before = hub.subscribers
        op = await socket.subscribe(BY_PROJECT, {"p": film.project_id})
        await until(lambda: hub.subscribers > before)
        await _terminate_listener(server)
        job = await generate(alice, instances["Mara"])
        seen = await op.until(job["id"], "COMPLETED")
    assert [j["status"] for j in seen] == ["QUEUED", "PROCESSING", "COMPLETED"]


async def test_a_change_announced_while_the_listener_is_down_still_reaches_subscribers(
    alice: Client, server: Any
) -> None:
    """The hub re-reads after reconnecting: a terminal state is never lost."""
    film, instances = await film_with_instances(alice)
    done = await wait_completed(alice, server, (await generate(alice, instances["Mara"]))["id"])
    # A job row made by hand, not queued (so the worker leaves it alone), to be finished by hand.
    async with server.state.db.transaction(None) as conn:
        job_id = (await conn.execute(text(
            "insert into image_generation_jobs (project_id, branch_id, job_type, status, prompt, width, height, "
            "idempotency_key) values (:p, :b, 'master_asset', 'processing', 'by hand', 64, 64, :k) returning id"),
            {"p": film.project_id, "b": film.branch_id, "k": str(uuid.uuid4())})).scalar_one()
    async with connect(server.base_url, alice.token) as socket:
        op = await socket.subscribe(BY_JOB, {"j": str(job_id)})
        assert (await op.job())["status"] == "PROCESSING"
        await _terminate_listener(
            server,
            "update image_generation_jobs set status = 'completed', completed_at = clock_timestamp(), "
            "image_url = $1 where id = $2",
            url=done["imageUrl"], id=job_id,
        )
        final = await op.job()
        assert final["status"] == "COMPLETED" and final["imageUrl"] == done["imageUrl"]
        assert (await op.message())["type"] == "complete"


async def test_query_image_job_is_null_for_another_user_and_missing(alice: Client, bob: Client) -> None:
    _, instances = await film_with_instances(alice)
    job = await generate(alice, instances["Mara"])
    assert (await alice.data(JOB, {"id": job["id"]}))["imageJob"]["idempotencyKey"] == job["idempotencyKey"]
    assert (await bob.data(JOB, {"id": job["id"]}))["imageJob"] is None
    assert (await alice.data(JOB, {"id": MISSING}))["imageJob"] is None


async def test_frame_jobs_are_rendered_and_keep_their_url_on_the_job(alice: Client, server: Any, http: httpx.AsyncClient) -> None:
    film, instances = await film_with_instances(alice)
    shot = await film.shot(1, "1A", 1, setting="A pier", action="Mara waits", camera="Wide")
    await alice.data("mutation($s: UUID!) { generateShotPrompts(sceneId: $s) { id } }", {"s": film.scenes[1]})
    frames = (await alice.data(f"mutation($id: UUID!) {{ generateShotFrames(shotId: $id) {{ {JOB_FIELDS} }} }}",
                               {"id": shot}))["generateShotFrames"]
    assert [f["jobType"] for f in frames] == ["START_FRAME", "END_FRAME"]
    for frame in frames:
        done = await wait_completed(alice, server, frame["id"])
        assert done["status"] == "COMPLETED" and done["shotId"] == shot
        assert done["imageUrl"] == f"{server.base_url}/media/{frame['storagePath']}"
        image = Image.open(io.BytesIO((await http.get(done["imageUrl"])).content))
        assert image.size == (1280, 720)
    mara = (await alice.data(INSTANCE, {"id": instances["Mara"]}))["sceneAssetInstance"]
    assert mara["imageKeyUrl"] == "https://img.example/mara.png" and mara["modificationCount"] == 0
