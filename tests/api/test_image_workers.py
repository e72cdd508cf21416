"""Image workers as real processes (`continuity worker`, `continuity serve`) on one database:
cross-process delivery, lease expiry after a killed worker, retries, racing workers.

These run on a database of their own, served by an in-process server WITHOUT a worker, so
the only workers are the processes each test starts (with the provider it chooses).
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import text

from tests.api.test_image_jobs import GENERATE, INSTANCE, LOCKS, STAGE, generate, until
from tests.support import REPO, Client, create_database, drop_database, free_port, run_sync, serving, socket_client
from tests.support.film import film_with_instances
from tests.support.subscriptions import (
    BY_JOB,
    BY_PROJECT,
    CURSOR,
    EVENTS_BY_JOB,
    EVENTS_BY_PROJECT,
    JOB_FIELDS,
    WAIT,
    Operation,
    connect,
)

# Real processes: the slow tier (README, "Two commands").
pytestmark = pytest.mark.slow


@dataclass
class Quiet:
    state: Any  # AppState of the in-process server (no worker)
    http: httpx.AsyncClient
    database_url: str

    @property
    def base_url(self) -> str:
        return str(self.state.public_url)

    def client(self) -> Client:
        import uuid

        from services.core.auth import issue_token

        user = str(uuid.uuid4())
        return Client(self.http, issue_token(self.state.settings, user), user)

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.state.db.transaction(None) as conn:
            result = await conn.execute(text(sql), params)
            return list(result.mappings()) if result.returns_rows else []


@pytest.fixture(scope="module")
def quiet_database(pg_server: str) -> Any:
    from services.db import migrations

    url = create_database(pg_server, "continuity_workers")
    run_sync(lambda: asyncio.to_thread(migrations.upgrade, url))
    yield url
    drop_database(pg_server, url)


@pytest.fixture(scope="module")
async def quiet(quiet_database: str) -> AsyncIterator[Quiet]:
    from continuity.background import job_events

    async with serving(quiet_database, [job_events]) as state:
        async with socket_client(state.public_url) as http:
            yield Quiet(state, http, quiet_database)


@dataclass
class Process:
    proc: asyncio.subprocess.Process
    output: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    def log(self) -> str:
        return "".join(self.output)


class Processes:
    """Starts `continuity` subprocesses on the quiet database; kills what is left at the end."""

    def __init__(self, quiet: Quiet) -> None:
        self.quiet = quiet
        self.started: list[Process] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.quiet.database_url,
            PYTHONPATH=f"{REPO / 'src'}{os.pathsep}{REPO}",
            CONTINUITY_PUBLIC_URL=self.quiet.base_url,
            CONTINUITY_DEV_AUTH="0",
            CONTINUITY_WORKER_POLL_SECONDS="0.2",
            CONTINUITY_WORKER_LEASE_SECONDS="1",
            CONTINUITY_RETRY_BASE_SECONDS="0.05",
        )
        env.pop("CONTINUITY_IMAGE_PROVIDER", None)
        env.update(extra)
        return env

    async def _spawn(self, args: list[str], env: dict[str, str], ready: Callable[[str], bool]) -> Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "continuity", *args, env=env, cwd=REPO,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        process = Process(proc)
        self.started.append(process)
        is_ready = asyncio.Event()

        async def read() -> None:
            assert proc.stdout is not None
            async for raw in proc.stdout:
                line = raw.decode(errors="replace")
                process.output.append(line)
                if ready(line):
                    is_ready.set()

        process.reader = asyncio.create_task(read())
        try:
            await asyncio.wait_for(is_ready.wait(), WAIT)
        except TimeoutError:
            raise AssertionError(f"`continuity {' '.join(args)}` did not start:\n{process.log()}") from None
        return process

    async def worker(self, provider: str | None = None, **env: str) -> Process:
        if provider:
            env["CONTINUITY_IMAGE_PROVIDER"] = provider
        return await self._spawn(["worker"], self.env(**env), lambda line: "ready" in line)

    async def serve(self) -> str:
        port = free_port()
        args = ["serve", "--port", str(port), "--no-worker", "--log-level", "warning"]
        await self._spawn(args, self.env(CONTINUITY_PUBLIC_URL=""), lambda line: "Continuity on" in line)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as http:

            async def ready() -> None:
                while True:
                    try:
                        if (await http.get(f"{base}/readyz")).status_code == 200:
                            return
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(ready(), WAIT)
        return base

    async def stop_all(self) -> None:
        for process in self.started:
            if process.proc.returncode is None:
                process.proc.kill()
            await process.proc.wait()
            if process.reader is not None:
                await process.reader


@pytest.fixture
async def processes(quiet: Quiet) -> AsyncIterator[Processes]:
    started = Processes(quiet)
    try:
        yield started
    finally:
        await started.stop_all()
        # Nothing left for the next test's workers to pick up.
        await quiet.rows("delete from image_generation_jobs where status in ('queued', 'processing')")


async def statuses(op: Operation, n: int) -> list[dict[str, Any]]:
    return [await op.job() for _ in range(n)]


async def test_a_job_finished_by_a_worker_process_reaches_every_server_process(
    quiet: Quiet, processes: Processes
) -> None:
    alice = quiet.client()
    _, instances = await film_with_instances(alice)
    job = await generate(alice, instances["Lighthouse"])
    other_server = await processes.serve()
    async with connect(quiet.base_url, alice.token) as here, connect(other_server, alice.token) as there:
        ops = [await here.subscribe(BY_JOB, {"j": job["id"]}), await there.subscribe(BY_JOB, {"j": job["id"]})]
        for op in ops:
            assert (await op.job())["status"] == "QUEUED"  # subscribed and read: nothing can be missed now
        await processes.worker()
        finals = []
        for op in ops:
            processing, completed = await statuses(op, 2)
            assert (processing["status"], completed["status"]) == ("PROCESSING", "COMPLETED")
            assert (await op.message())["type"] == "complete"
            finals.append(completed)
    assert finals[0] == finals[1]
    url = finals[0]["imageUrl"]
    assert url == f"{quiet.base_url}/media/{job['storagePath']}"
    instance = (await alice.data(INSTANCE, {"id": instances["Lighthouse"]}))["sceneAssetInstance"]
    assert instance["imageKeyUrl"] == url
    image = Image.open(io.BytesIO((await quiet.http.get(url)).content))
    assert image.size == (1024, 576)


async def test_a_killed_workers_job_is_claimed_again_after_its_lease_expires(
    quiet: Quiet, processes: Processes
) -> None:
    alice = quiet.client()
    _, instances = await film_with_instances(alice)
    job = await generate(alice, instances["Mara"])
    async with connect(quiet.base_url, alice.token) as socket:
        op = await socket.subscribe(BY_JOB, {"j": job["id"]})
        assert (await op.job())["status"] == "QUEUED"
        doomed = await processes.worker("tests.support.providers:SlowProvider")
        assert (await op.job())["status"] == "PROCESSING"
        doomed.proc.send_signal(signal.SIGKILL)
        await doomed.proc.wait()
        await processes.worker()
        requeued, processing, completed = await statuses(op, 3)
    assert requeued["status"] == "QUEUED"
    assert requeued["error"] == "attempt 1 of 3: the worker stopped before finishing (its lease expired)"
    assert (processing["status"], completed["status"]) == ("PROCESSING", "COMPLETED")
    assert completed["error"] is None and completed["imageUrl"]
    [row] = await quiet.rows("select attempts from image_generation_jobs where id = :id", id=job["id"])
    assert row["attempts"] == 2


async def test_failed_attempts_are_retried_and_the_third_makes_the_job_failed(
    quiet: Quiet, processes: Processes
) -> None:
    alice = quiet.client()
    _, instances = await film_with_instances(alice)
    job = await generate(alice, instances["Anchor"])
    async with connect(quiet.base_url, alice.token) as socket:
        op = await socket.subscribe(BY_JOB, {"j": job["id"]})
        await op.job()
        await processes.worker("tests.support.providers:FailingProvider")
        seen = await statuses(op, 6)
        assert (await op.message())["type"] == "complete"
    assert [j["status"] for j in seen] == ["PROCESSING", "QUEUED"] * 2 + ["PROCESSING", "FAILED"]
    assert [j["error"] for j in seen if j["status"] != "PROCESSING"] == [
        f"the model ran out of ink (attempt {n})" for n in (1, 2, 3)
    ]
    failed = seen[-1]
    assert failed["completedAt"] is not None and failed["imageUrl"] is None
    assert all(j["completedAt"] is None for j in seen[:-1])
    [row] = await quiet.rows("select attempts from image_generation_jobs where id = :id", id=job["id"])
    assert row["attempts"] == 3
    instance = (await alice.data(INSTANCE, {"id": instances["Anchor"]}))["sceneAssetInstance"]
    assert instance["imageKeyUrl"] is None and instance["modificationCount"] == 0


async def test_two_workers_racing_over_fifty_jobs_process_each_once(
    quiet: Quiet, processes: Processes, tmp_path: Path
) -> None:
    alice = quiet.client()
    film, instances = await film_with_instances(alice)
    renders = tmp_path / "renders.log"
    env = {"CONTINUITY_TEST_RENDER_LOG": str(renders), "CONTINUITY_WORKER_CONCURRENCY": "4",
           "CONTINUITY_WORKER_LEASE_SECONDS": "30"}
    workers = [await processes.worker("tests.support.providers:RecordingProvider", **env) for _ in range(2)]
    hub = quiet.state.events
    async with connect(quiet.base_url, alice.token) as socket:
        before = hub.subscribers
        op = await socket.subscribe(BY_PROJECT, {"p": film.project_id})
        await until(lambda: hub.subscribers > before)
        # One burst, as generateShotFrames queues them: both workers wake to the same 50 jobs.
        await quiet.rows(
            "insert into image_generation_jobs (project_id, branch_id, job_type, prompt, width, height, scene_id, "
            "project_asset_id, scene_asset_instance_id, idempotency_key) "
            "select i.project_id, i.branch_id, 'scene_asset', 'race ' || n, 64, 64, i.scene_id, i.project_asset_id, "
            "i.id, 'race-' || n from scene_asset_instances i, generate_series(1, 50) n where i.id = :id",
            id=instances["Mara"],
        )
        completed: set[str] = set()
        while len(completed) < 50:
            job = await op.job()
            assert job["status"] != "FAILED", job
            if job["status"] == "COMPLETED":
                completed.add(job["id"])
    lines = [line.split() for line in renders.read_text().splitlines()]
    rendered = [job_id for _, job_id in lines]
    assert len(rendered) == 50 and set(rendered) == completed
    assert {pid for pid, _ in lines} == {str(w.proc.pid) for w in workers}, "both workers took part"
    rows = await quiet.rows("select attempts, status from image_generation_jobs where project_id = :p", p=film.project_id)
    assert [(r["attempts"], r["status"]) for r in rows] == [(1, "completed")] * 50
    instance = (await alice.data(INSTANCE, {"id": instances["Mara"]}))["sceneAssetInstance"]
    assert instance["modificationCount"] == 50


async def test_a_job_whose_instance_was_deleted_still_completes(quiet: Quiet, processes: Processes) -> None:
    alice = quiet.client()
    _, instances = await film_with_instances(alice)
    job = await generate(alice, instances["Anchor"])
    await alice.data("mutation($id: UUID!) { deleteSceneAssetInstance(id: $id) { id } }", {"id": instances["Anchor"]})
    async with connect(quiet.base_url, alice.token) as socket:
        op = await socket.subscribe(BY_JOB, {"j": job["id"]})
        assert (await op.job())["sceneAssetInstanceId"] is None
        await processes.worker()
        _, completed = await statuses(op, 2)
    assert completed["status"] == "COMPLETED" and completed["imageUrl"]
    assert completed["sceneAssetInstanceId"] is None and completed["projectAssetId"] == job["projectAssetId"]
    assert await alice.code(GENERATE, {"i": instances["Anchor"]}) == "NOT_FOUND"


async def test_a_worker_stopped_with_sigterm_gives_its_job_back(quiet: Quiet, processes: Processes) -> None:
    alice = quiet.client()
    _, instances = await film_with_instances(alice)
    job = await generate(alice, instances["Mara"])
    async with connect(quiet.base_url, alice.token) as socket:
        op = await socket.subscribe(BY_JOB, {"j": job["id"]})
        await op.job()
        worker = await processes.worker("tests.support.providers:SlowProvider", CONTINUITY_WORKER_GRACE_SECONDS="0.2",
                                        CONTINUITY_WORKER_LEASE_SECONDS="60")
        assert (await op.job())["status"] == "PROCESSING"
        worker.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.proc.wait(), WAIT) == 0, worker.log()
        back = await op.job()
    assert back["status"] == "QUEUED" and back["error"] is None
    [row] = await quiet.rows("select attempts, lease_owner from image_generation_jobs where id = :id", id=job["id"])
    assert (row["attempts"], row["lease_owner"]) == (0, None)


# ---------------------------------------------------------------------------------------
# Stored job events across server processes; backoff; cancel (docs/operations.md)

CANCEL = f"mutation($id: UUID!) {{ cancelImageJob(id: $id) {{ {JOB_FIELDS} attempts nextAttemptAt }} }}"


async def _events(op: Operation, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    return await op.events_until(done)


def _terminal(job_ids: set[str]) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda seen: {e["job"]["id"] for e in seen if e["status"] in ("COMPLETED", "FAILED", "CANCELLED")} >= job_ids


async def test_events_reach_two_server_processes_alike_and_resume_after_a_restart(
    quiet: Quiet, processes: Processes
) -> None:
    alice = quiet.client()
    film, instances = await film_with_instances(alice)
    start = (await alice.data(CURSOR, {"p": film.project_id}))["project"]["jobEventsCursor"]
    jobs = [await generate(alice, instances[name]) for name in ("Mara", "Lighthouse", "Anchor")]
    ids = {j["id"] for j in jobs}
    other = await processes.serve()
    other_process = processes.started[-1]
    async with connect(quiet.base_url, alice.token) as here, connect(other, alice.token) as there:
        op_here = await here.subscribe(EVENTS_BY_PROJECT, {"p": film.project_id, "a": start})
        op_there = await there.subscribe(EVENTS_BY_PROJECT, {"p": film.project_id, "a": start})
        # One job at a time, slowly enough that the restart falls in the middle of the run.
        await processes.worker("tests.support.providers:SlowProvider", CONTINUITY_TEST_PROVIDER_SECONDS="0.4",
                               CONTINUITY_WORKER_CONCURRENCY="1", CONTINUITY_WORKER_LEASE_SECONDS="30")
        before_restart = await _events(op_there, _terminal({jobs[0]["id"]}))
        other_process.proc.kill()  # abruptly: the socket drops with the process
        await other_process.proc.wait()
        everything = await _events(op_here, _terminal(ids))
    restarted = await processes.serve()
    async with connect(restarted, alice.token) as again:
        op = await again.subscribe(EVENTS_BY_PROJECT, {"p": film.project_id, "a": before_restart[-1]["cursor"]})
        after_restart = await _events(op, lambda seen: len(before_restart) + len(seen) >= len(everything))
    # Every server process serves one order; the resumed stream continues it exactly.
    assert before_restart + after_restart == everything
    assert len(everything) == 9 and len({e["cursor"] for e in everything}) == 9
    for job in jobs:
        assert [e["status"] for e in everything if e["job"]["id"] == job["id"]] == ["QUEUED", "PROCESSING", "COMPLETED"]


async def test_failed_attempts_wait_their_backoff_and_are_claimed_when_due(
    quiet: Quiet, processes: Processes
) -> None:
    alice = quiet.client()
    _, instances = await film_with_instances(alice)
    job = await generate(alice, instances["Anchor"])
    base, poll = 0.4, 0.5
    await processes.worker("tests.support.providers:FailingProvider", CONTINUITY_RETRY_BASE_SECONDS=str(base),
                           CONTINUITY_WORKER_POLL_SECONDS=str(poll))
    async with connect(quiet.base_url, alice.token) as socket:
        op = await socket.subscribe(EVENTS_BY_JOB, {"j": job["id"]})
        events = await _events(op, _terminal({job["id"]}))
        assert (await op.message())["type"] == "complete"
    assert [e["status"] for e in events] == ["QUEUED"] + ["PROCESSING", "QUEUED"] * 2 + ["PROCESSING", "FAILED"]
    retries = [(events[i], events[i + 1]) for i in (2, 4)]
    for n, (queued, processing) in enumerate(retries, start=1):
        due = datetime.fromisoformat(queued["job"]["nextAttemptAt"])
        waited = (due - datetime.fromisoformat(queued["at"])).total_seconds()
        low = base * 2 ** (n - 1)
        assert low - 0.01 <= waited <= low * 1.2 + 0.01, (n, waited)
        assert queued["job"]["attempts"] == n and queued["job"]["error"] == f"the model ran out of ink (attempt {n})"
        late = (datetime.fromisoformat(processing["at"]) - due).total_seconds()
        assert 0 <= late <= poll, (n, late)  # claimed when due, not a poll interval later
        assert processing["job"]["nextAttemptAt"] is None
    failed = events[-1]["job"]
    assert failed["nextAttemptAt"] is None and failed["attempts"] == 3
    assert failed["error"] == "the model ran out of ink (attempt 3)"


async def test_backoff_doubles_with_up_to_a_fifth_more_and_is_capped_at_five_minutes(quiet: Quiet) -> None:
    from services.images.jobs import backoff_sql

    rows = await quiet.rows(
        f"select a, extract(epoch from {backoff_sql('a')} - clock_timestamp()) as s "
        "from (values (1), (2), (20)) v(a), generate_series(1, 50) order by a", base=100)
    waits: dict[int, list[float]] = {}
    for r in rows:
        waits.setdefault(r["a"], []).append(float(r["s"]))
    assert all(99.9 <= w <= 120.01 for w in waits[1]) and all(199.9 <= w <= 240.01 for w in waits[2])
    assert all(299.9 <= w <= 300.01 for w in waits[20])
    assert len({round(w, 3) for w in waits[1]}) > 1  # U is drawn per job


async def test_cancelling_a_queued_job_ends_it_now(quiet: Quiet) -> None:
    alice, bob = quiet.client(), quiet.client()
    _, instances = await film_with_instances(alice)
    job = await generate(alice, instances["Mara"])
    assert await bob.code(CANCEL, {"id": job["id"]}) == "NOT_FOUND"
    assert await alice.code(CANCEL, {"id": "00000000-0000-4000-8000-00000000dead"}) == "NOT_FOUND"
    async with connect(quiet.base_url, alice.token) as socket:
        updated = await socket.subscribe(BY_JOB, {"j": job["id"]})
        assert (await updated.job())["status"] == "QUEUED"
        cancelled = (await alice.data(CANCEL, {"id": job["id"]}))["cancelImageJob"]
        assert cancelled["status"] == "CANCELLED" and cancelled["completedAt"] and cancelled["storagePath"] is None
        assert (await updated.job())["status"] == "CANCELLED"
        assert (await updated.message())["type"] == "complete"  # CANCELLED ends a jobId stream
        events = await socket.subscribe(EVENTS_BY_JOB, {"j": job["id"]})
        assert [e["status"] for e in await _events(events, _terminal({job["id"]}))] == ["QUEUED", "CANCELLED"]
        assert (await events.message())["type"] == "complete"
    assert await alice.code(CANCEL, {"id": job["id"]}) == "CONFLICT"
    [row] = await quiet.rows("select status, attempts from image_generation_jobs where id = :id", id=job["id"])
    assert (row["status"], row["attempts"]) == ("cancelled", 0)


async def test_cancelling_a_processing_job_discards_its_attempt(quiet: Quiet, processes: Processes) -> None:
    alice = quiet.client()
    film, instances = await film_with_instances(alice)
    await alice.data(STAGE, {"s": film.scenes[1], "n": 9})
    before = (await alice.data(INSTANCE, {"id": instances["Mara"]}))["sceneAssetInstance"]
    job = await generate(alice, instances["Mara"])
    async with connect(quiet.base_url, alice.token) as socket:
        op = await socket.subscribe(BY_JOB, {"j": job["id"]})
        await op.job()
        # A provider that would take a minute: the worker stops it when its heartbeat (every
        # 10 s here: a third of the lease) sees the cancel, long after both cancels below.
        await processes.worker("tests.support.providers:SlowProvider", CONTINUITY_TEST_PROVIDER_SECONDS="60",
                               CONTINUITY_WORKER_LEASE_SECONDS="30", CONTINUITY_WORKER_POLL_SECONDS="30")
        assert (await op.job())["status"] == "PROCESSING"
        first = (await alice.data(CANCEL, {"id": job["id"]}))["cancelImageJob"]
        assert first["status"] == "PROCESSING"  # until its attempt ends
        assert (await alice.data(CANCEL, {"id": job["id"]}))["cancelImageJob"] == first  # unchanged
        final = await op.job()
        assert (await op.message())["type"] == "complete"
    assert final["status"] == "CANCELLED" and final["completedAt"]
    assert final["imageUrl"] is None and final["storagePath"] is None
    assert (await alice.data(INSTANCE, {"id": instances["Mara"]}))["sceneAssetInstance"] == before
    locks = (await alice.data(LOCKS, {"s": film.scenes[1]}))["scene"]["stageLocks"]
    assert locks == [{"stage": 9, "status": "LOCKED"}]  # nothing invalidated
    assert not (quiet.state.settings.media_dir / job["storagePath"]).exists()  # no image stored
    assert await alice.code(CANCEL, {"id": job["id"]}) == "CONFLICT"


async def test_finished_jobs_cannot_be_cancelled(quiet: Quiet, processes: Processes) -> None:
    alice = quiet.client()
    _, instances = await film_with_instances(alice)
    done, failing = await generate(alice, instances["Mara"]), await generate(alice, instances["Anchor"])
    await quiet.rows("update image_generation_jobs set status = 'completed', completed_at = now() where id = :id",
                     id=done["id"])
    await quiet.rows("update image_generation_jobs set status = 'failed', completed_at = now() where id = :id",
                     id=failing["id"])
    for job in (done, failing):
        assert await alice.code(CANCEL, {"id": job["id"]}) == "CONFLICT"


async def test_the_worker_deletes_events_past_their_retention(quiet: Quiet, processes: Processes) -> None:
    alice = quiet.client()
    film, instances = await film_with_instances(alice)
    old_cursor = (await alice.data(CURSOR, {"p": film.project_id}))["project"]["jobEventsCursor"]
    job = await generate(alice, instances["Mara"])
    await quiet.rows("update image_generation_jobs set status = 'failed', completed_at = now() where id = :id",
                     id=job["id"])
    await asyncio.sleep(0.2)
    # A retention of a tenth of a second: every event so far is past it when the worker starts.
    await processes.worker(CONTINUITY_EVENT_RETENTION_DAYS=str(0.1 / 86400))
    await until_rows(quiet, "select 1 from image_job_events where job_id = :id", 0, id=job["id"])
    async with connect(quiet.base_url, alice.token) as socket:
        expired = await socket.subscribe(EVENTS_BY_PROJECT, {"p": film.project_id, "a": old_cursor})
        assert await expired.error_code() == "BAD_USER_INPUT"
        missing = await socket.subscribe(EVENTS_BY_PROJECT, {"p": "00000000-0000-4000-8000-00000000dead", "a": old_cursor})
        assert await missing.error_code() == "NOT_FOUND"
        # A terminal job whose events are gone: its stream completes at once.
        gone = await socket.subscribe(EVENTS_BY_JOB, {"j": job["id"]})
        assert (await gone.message())["type"] == "complete"
        fresh = (await alice.data(CURSOR, {"p": film.project_id}))["project"]["jobEventsCursor"]
        live = await socket.subscribe(EVENTS_BY_PROJECT, {"p": film.project_id, "a": fresh})
        newer = await generate(alice, instances["Anchor"])
        assert (await live.event())["job"]["id"] == newer["id"]


async def until_rows(quiet: Quiet, sql: str, n: int, **params: Any) -> None:
    async def poll() -> None:
        while len(await quiet.rows(sql, **params)) != n:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), WAIT)


async def test_a_worker_process_serves_its_own_metrics(quiet: Quiet, processes: Processes) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    alice = quiet.client()
    _, instances = await film_with_instances(alice)
    port = free_port()
    await processes.worker(CONTINUITY_METRICS_PORT=str(port))
    job = await generate(alice, instances["Mara"])
    async with connect(quiet.base_url, alice.token) as socket:
        op = await socket.subscribe(EVENTS_BY_JOB, {"j": job["id"]})
        await _events(op, _terminal({job["id"]}))
    text = (await quiet.http.get(f"http://127.0.0.1:{port}/metrics")).text
    counts = {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
        if s.name == "continuity_image_job_duration_seconds_count"
    }
    assert counts.get((("job_type", "scene_asset"), ("outcome", "completed")), 0) >= 1, text
