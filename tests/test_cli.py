"""The `continuity` command as a newcomer runs it: real processes, the embedded database."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from services.core.config import DEV_USER_ID
from tests.support import REPO, free_port

# Real processes: the slow tier (README, "Two commands").
pytestmark = pytest.mark.slow


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CONTINUITY_JWT_SECRET", "CONTINUITY_DEV_AUTH"}}
    env["CONTINUITY_DATA_DIR"] = str(data_dir)
    env["CONTINUITY_MEDIA_DIR"] = str(data_dir / "media")
    env["PYTHONPATH"] = str(REPO / "src")
    return env


def _post(url: str, query: str, token: str | None = None) -> dict:  # type: ignore[type-arg]
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps({"query": query}).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _wait_ready(url: str, process: subprocess.Popen, seconds: float = 60) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {process.stdout.read() if process.stdout else ''}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("serve did not become ready")


def _postgres_running(data_dir: Path) -> bool:
    pid_file = data_dir / "pg" / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="embedded database only")
def test_serve_demo_token_and_clean_shutdown(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    port = free_port()
    # From another working directory: nothing depends on the repository root.
    demo = subprocess.run([sys.executable, "-m", "continuity", "demo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    # Only names and ids: a script can read them, and nothing else is printed on a normal run.
    assert all(re.fullmatch(r"[a-z0-9 ]+ [0-9a-f-]{36}", line) for line in demo.stdout.splitlines()), demo.stdout
    assert demo.stderr == "", demo.stderr
    ids = {line.rsplit(" ", 1)[0].strip(): line.rsplit(" ", 1)[1] for line in demo.stdout.splitlines()}
    branch_id = ids["branch"]
    assert not _postgres_running(data_dir), "the demo left the embedded database running"

    serve = subprocess.Popen([sys.executable, "-m", "continuity", "serve", "--port", str(port), "--no-worker"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(f"{base}/readyz", serve)
        # Development mode: no token acts as the dev user, who owns the demo film.
        viewer = _post(f"{base}/graphql", "{ viewer { userId projects { title } } }")
        assert viewer["data"]["viewer"]["userId"] == DEV_USER_ID
        assert viewer["data"]["viewer"]["projects"] == [{"title": "The Lighthouse Keeper"}]
        scenes = _post(f"{base}/graphql", f'{{ branch(id: "{branch_id}") {{ scenes {{ sceneNumber }} }} }}')
        assert scenes["data"]["branch"]["scenes"] == [{"sceneNumber": 1}, {"sceneNumber": 2}, {"sceneNumber": 3}]
        # The film shows what the README promises: images, prompts, a locked stage 9.
        film = _post(f"{base}/graphql", f"""{{ scene(id: "{ids['scene 2']}") {{ stageLocks {{ stage status }}
            assetInstances {{ imageKeyUrl }} shots {{ videoPrompt frameReferences {{ startFrameManifest }} }} }} }}""")
        scene = film["data"]["scene"]
        assert scene["stageLocks"] == [{"stage": 9, "status": "LOCKED"}]
        assert all(i["imageKeyUrl"] for i in scene["assetInstances"]) and len(scene["assetInstances"]) == 4
        assert scene["shots"][0]["frameReferences"]["startFrameManifest"].startswith("Image 1: Mara (character)")
        assert "Tom enters the frame." in scene["shots"][0]["videoPrompt"]
        # GraphiQL's first tab, as it opens, on the demo film.
        from gql.graphiql import FILM_QUERY

        tab = _post(f"{base}/graphql", FILM_QUERY)
        assert "errors" not in tab, tab
        [project] = tab["data"]["viewer"]["projects"]
        assert project["title"] == "The Lighthouse Keeper" and len(project["activeBranch"]["scenes"]) == 3
        image = scene["assetInstances"][0]["imageKeyUrl"].split("/media/", 1)[1]
        with urllib.request.urlopen(f"{base}/media/{image}") as png:
            assert png.read(8) == b"\x89PNG\r\n\x1a\n"
        # `token` signs with the secret generated once in the data directory, as serve does.
        other = "5b0c5cf3-0000-4000-8000-000000000042"
        token = subprocess.run([sys.executable, "-m", "continuity", "token", "--user", other], cwd=tmp_path,
                               env=env, capture_output=True, text=True, timeout=60).stdout.strip().splitlines()[-1]
        assert _post(f"{base}/graphql", "{ viewer { userId } }", token)["data"]["viewer"]["userId"] == other
        bad = _post(f"{base}/graphql", "{ viewer { userId } }", token + "x")
        assert bad["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        with urllib.request.urlopen(urllib.request.Request(f"{base}/graphql", headers={"Accept": "text/html"})) as page:
            assert b"graphiql" in page.read().lower()
        assert _postgres_running(data_dir)
        # A second server on the same port fails at once, announcing nothing and starting nothing.
        second = subprocess.run([sys.executable, "-m", "continuity", "serve", "--port", str(port)], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert second.stdout == "" and "Its token" not in second.stderr, second
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr, second.stderr
        assert "worker" not in second.stderr and "Traceback" not in second.stderr, second.stderr
    finally:
        serve.send_signal(signal.SIGTERM)
        output, _ = serve.communicate(timeout=60)
    assert serve.returncode == 0, output
    assert "Warning" not in output, output  # e.g. platformdirs' XDG_RUNTIME_DIR, on every start
    assert not _postgres_running(data_dir), "SIGTERM left the embedded database running"


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="embedded database only")
def test_a_killed_server_leaves_nothing_that_blocks_the_next_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "continuity", "serve", "--port", str(port), "--no-worker"],
                             cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_ready(f"http://127.0.0.1:{port}/readyz", serve)
    serve.kill()
    serve.wait(timeout=30)
    # The orphaned server is still up with a stale holder; the next run adopts it and stops it at exit.
    migrate = subprocess.run([sys.executable, "-m", "continuity", "migrate"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    assert not _postgres_running(data_dir)
