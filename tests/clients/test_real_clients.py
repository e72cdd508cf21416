"""The clients frontends use, against the real server on loopback: the official graphql-ws
client under Node, Apollo Client (HttpLink + GraphQLWsLink), urql (fetch + subscriptionExchange), GraphiQL in headless Chromium with
no network beyond loopback, and fetch from a page on another loopback origin.

Marked `clients`: `-m "not clients"` leaves them out. They need node, npm and Debian's
chromium; without them they are skipped on a developer's machine and fail in CI (CI=true),
where .ci/run installs chromium and these tests run `npm ci` from the committed lock file."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.core.config import DEV_USER_ID
from tests.support import REPO, Client, serving
from tests.support.film import film_with_instances

pytestmark = pytest.mark.clients

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("CONTINUITY_TEST_ARTIFACTS") or REPO / ".data" / "artifacts")
HAVE_CHROMIUM = Path(CHROMIUM).exists()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing(what: str) -> None:
    message = f"{what}: the real-client tests need node, npm and chromium (README, Layout)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


async def _run(*command: str, seconds: float = 180) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=HERE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), seconds)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
        return -1, output.decode() + f"\n(killed after {seconds} s)"
    return process.returncode or 0, output.decode()


def _artifact(name: str) -> Path:
    """A fresh path for a file the run keeps (CONTINUITY_TEST_ARTIFACTS, default .data/artifacts)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    return path


def _needs_npm_ci() -> bool:
    stamp = HERE / "node_modules" / ".package-lock.json"  # written by npm ci
    return not stamp.exists() or stamp.stat().st_mtime < (HERE / "package-lock.json").stat().st_mtime


_installed = False


async def _install() -> None:
    """`npm ci` once per run when node_modules is missing or older than the lock file."""
    global _installed
    if _installed:
        return
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing("node or npm is not installed")
    assert npm is not None
    # Parallel test workers (pytest-xdist) may both get here: one runs npm ci, the other waits.
    with (HERE / "package-lock.json").open() as lock:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        if _needs_npm_ci():
            code, output = await _run(npm, "ci", "--no-audit", "--no-fund")
            if code != 0:
                _missing(f"npm ci failed: {output[-800:]}")
    _installed = True


async def node(script: str, *args: str, browser: bool = False) -> dict[str, Any]:
    """Runs a script of this folder and returns the JSON object of its last JSON line."""
    await _install()
    if browser and not HAVE_CHROMIUM:
        _missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    code, output = await _run(shutil.which("node") or "node", script, *args)
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    result: dict[str, Any] = json.loads(lines[-1])
    assert code == 0 and result.get("ok"), output
    return result


async def test_graphql_ws_client_follows_a_job_to_completed(server: Any, alice: Client) -> None:
    film, instances = await film_with_instances(alice)
    result = await node("graphql_ws.mjs", server.base_url, alice.token or "", film.project_id, instances["Mara"])
    assert result["projectStatuses"] == ["QUEUED", "PROCESSING", "COMPLETED"], result
    assert result["jobStatuses"][-1] == "COMPLETED" and result["jobStreamCompleted"], result
    assert result["imageUrl"].startswith(server.base_url + "/media/"), result
    assert result["frames"]["binary"] == 0 and result["frames"]["text"] >= 5, result
    # Only the client's own dispose closed the socket.
    assert all(c["code"] == 1000 for c in result["closes"]), result


async def test_apollo_client_query_mutation_subscription_and_cache(server: Any, alice: Client) -> None:
    film, instances = await film_with_instances(alice)
    mara = instances["Mara"]
    result = await node("apollo.mjs", server.base_url, alice.token or "", film.scenes[1], mara)
    assert result["before"]["descriptionOverride"] is None
    assert result["mutation"]["effectiveDescription"] == "Soaked to the bone"
    # The normalised cache took the mutation's answer: the watched query and the fragment agree.
    for seen in (result["watched"], result["cached"]):
        assert seen["descriptionOverride"] == "Soaked to the bone" and seen["statusTags"] == ["soaked"], result
    assert result["jobStatuses"][-1] == "COMPLETED", result
    assert result["cachedJob"]["status"] == "COMPLETED" and result["cachedJob"]["imageUrl"], result
    instance = await alice.data("query($i: UUID!) { sceneAssetInstance(id: $i) { imageKeyUrl } }", {"i": mara})
    assert instance["sceneAssetInstance"]["imageKeyUrl"] == result["cachedJob"]["imageUrl"]


async def test_urql_query_mutation_and_subscription(server: Any, alice: Client) -> None:
    film, instances = await film_with_instances(alice)
    result = await node("urql.mjs", server.base_url, alice.token or "", film.scenes[1], instances["Mara"])
    assert result["scene"]["id"] == film.scenes[1] and len(result["scene"]["assetInstances"]) == 3
    assert result["jobStatuses"][-1] == "COMPLETED", result


async def test_graphiql_runs_a_query_and_a_live_subscription_offline(server: Any, alice: Client) -> None:
    film, instances = await film_with_instances(alice)
    screenshot = _artifact("graphiql-subscription.png")
    result = await node(
        "graphiql.mjs", server.base_url, alice.token or "", film.project_id, instances["Mara"], str(screenshot),
        browser=True,
    )
    assert result["title"] == "Continuity"
    assert result["offLoopback"] == [], "the page asked for something beyond this server"
    assert result["pageErrors"] == [], result
    assert "query Film" in result["defaultQuery"]
    # The default tab's query ran as the user of the Headers tab.
    viewer = result["queryResponse"]["data"]["viewer"]
    assert viewer["userId"] == alice.user_id
    assert [p["title"] for p in viewer["projects"]] == ["Image film"]
    # The same token reached connection_init.
    init = next(json.loads(f) for f in result["sent"] if '"connection_init"' in f)
    assert init["payload"] == {"Authorization": f"Bearer {alice.token}"}
    assert result["frames"]["binary"] == 0 and result["frames"]["text"] >= 3, result
    assert result["shown"][-1] == "COMPLETED" and result["jobId"] in result["finalResponse"], result
    assert result["screenshotBytes"] > 10_000


@pytest.fixture(scope="module")
async def dev_server(database_url: str) -> AsyncIterator[Any]:
    """Development mode with CONTINUITY_CORS_ORIGINS unset: loopback origins are allowed."""
    async with serving(database_url, [], dev_auth=True, cors_origins=None) as state:
        yield state


@pytest.fixture(scope="module")
async def listed_server(database_url: str) -> AsyncIterator[Any]:
    """Development mode, CONTINUITY_CORS_ORIGINS listing one origin (not the test page's)."""
    async with serving(database_url, [], dev_auth=True, cors_origins="https://studio.example") as state:
        yield state


async def test_a_page_on_another_loopback_origin_may_call_in_development_mode(
    dev_server: Any, alice: Client
) -> None:
    result = await node("cross_origin.mjs", dev_server.public_url, alice.token or "", browser=True)
    assert result["anonymous"] == {"status": 200, "body": {"data": {"viewer": {"userId": DEV_USER_ID}}}}, result
    assert result["withToken"] == {"status": 200, "body": {"data": {"viewer": {"userId": alice.user_id}}}}, result
    assert result["offLoopback"] == []


async def test_a_page_on_an_origin_not_listed_is_refused(listed_server: Any, alice: Client) -> None:
    result = await node("cross_origin.mjs", listed_server.public_url, alice.token or "", browser=True)
    for call in (result["anonymous"], result["withToken"]):
        assert "refused" in call and "Failed to fetch" in call["refused"], result
    assert any("CORS policy" in line for line in result["console"]), result
