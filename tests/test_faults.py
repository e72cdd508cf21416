"""Faults with real processes: the database restarts mid-load; SIGTERM arrives during requests."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.support import REPO, free_port, pg_ctl

# Real processes: the slow tier (README, "Two commands").
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="embedded database only"),
]

READ = "{ viewer { projects { id title activeBranch { scenes { id } } } } }"
WRITE = 'mutation { createProject(input: {title: "load"}) { id } }'


def _serve(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CONTINUITY_DEV_AUTH"}}
    env.update(CONTINUITY_DATA_DIR=str(data_dir), CONTINUITY_MEDIA_DIR=str(data_dir / "media"),
               PYTHONPATH=str(REPO / "src"), CONTINUITY_DB_POOL_SIZE="4")
    return subprocess.Popen([sys.executable, "-m", "continuity", "serve", "--port", str(port), "--no-worker",
                             "--log-level", "warning"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


async def _ready(client: httpx.AsyncClient, process: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("not ready")


async def test_the_server_recovers_by_itself_after_a_database_restart(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    serve = _serve(data_dir, port)
    outcomes: Counter[str] = Counter()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await _ready(client, serve)
            stop = asyncio.Event()

            async def load(query: str) -> None:
                while not stop.is_set():
                    try:
                        response = await client.post("/graphql", json={"query": query})
                    except httpx.TransportError:
                        outcomes["transport"] += 1
                        continue
                    assert response.status_code < 500, response.text
                    errors = response.json().get("errors")
                    outcomes[errors[0]["extensions"]["code"] if errors else "ok"] += 1
                    await asyncio.sleep(0.01)

            workers = [asyncio.create_task(load(q)) for q in (READ, WRITE, READ, WRITE)]
            await asyncio.sleep(1.0)
            pg_ctl(data_dir, "-m", "immediate", "stop")
            await asyncio.sleep(1.0)
            assert (await client.get("/readyz")).status_code == 503
            down = Counter(outcomes)
            # The restart keeps the server's socket options (postmaster.opts).
            pg_ctl(data_dir, "-o", '-h ""', "-o", f"-k {_socket_dir(data_dir)}", "-l", str(data_dir / "pg" / "log"), "start")
            await asyncio.sleep(1.5)
            ok_before_recovery = outcomes["ok"]
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*workers)
            assert (await client.get("/readyz")).status_code == 200
            assert (await client.post("/graphql", json={"query": READ})).json()["data"]["viewer"]
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=60)
        # The server started by pg_ctl above is nobody's: pgserver only stops the one it started.
        _stop_database(data_dir)
    assert _postgres_processes(data_dir) == [], "a database server outlived the test"
    assert down["SERVICE_UNAVAILABLE"] > 0, outcomes  # errors while it was down, with a code
    assert outcomes["ok"] > ok_before_recovery, outcomes  # and answers again, without a restart
    assert set(outcomes) <= {"ok", "SERVICE_UNAVAILABLE", "transport"}, outcomes
    assert outcomes["transport"] == 0, outcomes


def _stop_database(data_dir: Path) -> None:
    if (data_dir / "pg" / "postmaster.pid").exists():
        try:
            pg_ctl(data_dir, "-m", "fast", "stop")
        except Exception:  # already stopping: the check below still sees it
            pass


def _postgres_processes(data_dir: Path) -> list[int]:
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if any(str(data_dir / "pg") in part for part in cmdline):
            found.append(process.pid)
    return found


def _socket_dir(data_dir: Path) -> str:
    # The last server's options, as pgserver started it.
    match = re.search(r'"-k" "([^"]+)"', (data_dir / "pg" / "postmaster.opts").read_text())
    assert match, "no socket directory in postmaster.opts"
    return match.group(1)


async def test_sigterm_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    serve = _serve(data_dir, port)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        await _ready(client, serve)
        in_flight = [asyncio.create_task(client.post("/graphql", json={"query": WRITE if i % 2 else READ}))
                     for i in range(40)]
        await asyncio.sleep(0.05)
        serve.send_signal(signal.SIGTERM)
        results = await asyncio.gather(*in_flight, return_exceptions=True)
    serve.communicate(timeout=60)
    assert serve.returncode == 0
    answered = [r for r in results if isinstance(r, httpx.Response)]
    # Every request the server took up was answered in full; none got a 5xx or an error.
    assert answered and all(r.status_code == 200 and "errors" not in r.json() for r in answered), results
    # The rest were never taken up (closed before being read): nothing was half-done for them.
    refused = [r for r in results if not isinstance(r, httpx.Response)]
    assert all(isinstance(r, (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)) for r in refused), refused
    created = sum(1 for r in answered if "createProject" in r.json()["data"])
    serve = _serve(data_dir, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await _ready(client, serve)
            projects = (await client.post("/graphql", json={"query": READ})).json()["data"]["viewer"]["projects"]
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=60)
    assert len(projects) == created
