"""The scale-out recipe of docs/scale-out.md, run for real: two `continuity serve --no-worker`
processes and one `continuity worker` on one fresh PostgreSQL database, with an explicit JWT
secret and a shared media directory. A subscriber on server 1 sees a job created through
server 2 and rendered by the worker to its end, then fetches the image from server 1."""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import asyncpg
import httpx
import pytest
from PIL import Image

from services.images.events import asyncpg_dsn
from tests.support import REPO, Client, create_database, drop_database, free_port, run_sync
from tests.support.film import film_with_instances
from tests.support.subscriptions import BY_JOB, WAIT, connect

# Real processes: the slow tier (README, "Two commands").
pytestmark = pytest.mark.slow

POOL, OVERFLOW, CONCURRENCY = 3, 2, 2


@dataclass
class Started:
    proc: asyncio.subprocess.Process
    output: list[str] = field(default_factory=list)


class Cluster:
    """The processes of one deployment; every one of them is killed at the end."""

    def __init__(self, database_url: str, tmp: Path) -> None:
        self.database_url = database_url
        self.secret = secrets.token_urlsafe(48)
        self.media = tmp / "shared-media"  # stands for a shared volume
        self.tmp = tmp
        self.ports = [free_port(), free_port()]
        self.urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.started: list[Started] = []

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTINUITY_")}
        env.update(
            PYTHONPATH=str(REPO / "src"),
            DATABASE_URL=self.database_url,
            CONTINUITY_JWT_SECRET=self.secret,
            CONTINUITY_MEDIA_DIR=str(self.media),
            # What browsers use: the load balancer's address (here server 1 stands in for it).
            CONTINUITY_PUBLIC_URL=self.urls[0],
            CONTINUITY_DATA_DIR=str(self.tmp / name),  # per process: nothing in it is shared
            CONTINUITY_DEV_AUTH="0",
            CONTINUITY_DB_POOL_SIZE=str(POOL),
            CONTINUITY_DB_MAX_OVERFLOW=str(OVERFLOW),
            CONTINUITY_WORKER_CONCURRENCY=str(CONCURRENCY),
        )
        return env

    async def run(self, name: str, *args: str, ready: str) -> Started:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "continuity", *args, env=self.env(name), cwd=REPO,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        started = Started(proc)
        self.started.append(started)
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(WAIT):
                async for raw in proc.stdout:
                    started.output.append(raw.decode(errors="replace"))
                    if ready in started.output[-1]:
                        break
        except TimeoutError:
            pass
        assert started.output and ready in started.output[-1], f"`continuity {' '.join(args)}`:\n{''.join(started.output)}"
        return started

    async def serve(self, n: int) -> str:
        await self.run(f"server-{n}", "serve", "--no-worker", "--port", str(self.ports[n]), "--log-level", "warning",
                       ready="Continuity on")
        async with httpx.AsyncClient(base_url=self.urls[n]) as http:
            while True:
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        return self.urls[n]
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        for started in self.started:
            if started.proc.returncode is None:
                started.proc.terminate()
        for started in self.started:
            try:
                await asyncio.wait_for(started.proc.wait(), WAIT)
            except TimeoutError:
                started.proc.kill()
                await started.proc.wait()


@pytest.fixture
async def cluster(pg_server: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    url = create_database(pg_server, "continuity_scale_out")
    deployment = Cluster(url, tmp_path)
    try:
        # The recipe's first step, once per release: `continuity migrate`.
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "continuity", "migrate", env=deployment.env("migrate"), cwd=REPO,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(migrate.communicate(), WAIT)
        assert migrate.returncode == 0, output.decode()
        yield deployment
    finally:
        await deployment.stop()
        run_sync(lambda: asyncio.to_thread(drop_database, pg_server, url))


async def test_two_servers_and_a_worker_share_one_database(cluster: Cluster) -> None:
    from services.core.auth import issue_token
    from services.core.config import load_settings

    one, two = await asyncio.gather(cluster.serve(0), cluster.serve(1))
    # Any server verifies a token the others accept: one secret for all.
    settings = replace(load_settings(), jwt_secret_env=cluster.secret, jwt_audience=None)
    user = str(uuid.uuid4())
    token = issue_token(settings, user)
    async with httpx.AsyncClient(base_url=two, timeout=WAIT) as via_two, httpx.AsyncClient(timeout=WAIT) as anywhere:
        alice = Client(via_two, token, user)
        _, instances = await film_with_instances(alice)
        queued = await alice.data(
            "mutation($i: UUID!) { generateSceneAssetImage(instanceId: $i) { id storagePath } }",
            {"i": instances["Lighthouse"]},
        )
        job = queued["generateSceneAssetImage"]
        async with connect(one, token) as socket:
            op = await socket.subscribe(BY_JOB, {"j": job["id"]})
            # Subscribed and read before any worker runs: what follows can only come from the
            # worker process, through PostgreSQL, to server 1's listener.
            seen = [await op.job()]
            await cluster.run("worker", "worker", ready="ready")
            while seen[-1]["status"] not in ("COMPLETED", "FAILED"):
                seen.append(await op.job())
            assert (await op.message())["type"] == "complete"
        assert [j["status"] for j in seen] == ["QUEUED", "PROCESSING", "COMPLETED"]
        image_url = seen[-1]["imageUrl"]
        assert image_url == f"{one}/media/{job['storagePath']}"
        response = await anywhere.get(image_url)  # server 1 serves what the worker wrote
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(response.content)).size == (1024, 576)
        # Server 2 reads the same row.
        read = await alice.data(
            "query($id: UUID!) { imageJob(id: $id) { status imageUrl } }", {"id": job["id"]})
        assert read["imageJob"] == {"status": "COMPLETED", "imageUrl": image_url}
    # Connections held against the formula of docs/scale-out.md (Connections).
    ceiling = 2 * (POOL + OVERFLOW + 1) + (CONCURRENCY + 2 + 2 + 1)
    assert await _connections(cluster.database_url) <= ceiling


async def _connections(database_url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return int(await conn.fetchval(
            "select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"))
    finally:
        await conn.close()
