"""Apollo Client's persisted-query link (npm) against the running test server: the first
request goes by hash and answers PERSISTED_QUERY_NOT_FOUND, the link retries with the query,
and the next run goes by hash alone over GET (docs/operations.md, Persisted documents)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


async def _run(*command: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=HERE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def _install() -> None:
    if (HERE / "node_modules" / "@apollo" / "client").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the Apollo Client test needs node and npm")
    code, output = await _run(npm, "ci", "--no-audit", "--no-fund")
    if code != 0:
        pytest.skip(f"could not install @apollo/client with npm (offline?): {output[-500:]}")


async def test_apollo_clients_persisted_query_link_round_trip(server: Any, alice: Any) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Apollo Client test needs node and npm")
    await _install()
    code, output = await _run(node, "apq.mjs", f"{server.base_url}/graphql", alice.token)
    assert code == 0, output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    requests = [line for line in lines if "request" in line]
    answers = [line for line in lines if "answer" in line]
    assert [a["data"] for a in answers] == [{"viewer": {"__typename": "Viewer", "userId": alice.user_id}}] * 2, output
    assert all(a["error"] is None for a in answers), output
    first, retry, again = requests
    # By hash first (GET), unknown: the request error Apollo retries on (400: Apollo prefers
    # application/graphql-response+json).
    assert (first["request"], first["withQuery"], first["codes"]) == ("GET", False, ["PERSISTED_QUERY_NOT_FOUND"])
    assert first["status"] == 400
    assert first["hash"] and retry["hash"] == first["hash"] == again["hash"]
    assert retry["withQuery"] and retry["codes"] == [] and retry["status"] == 200
    # Known now: the second run needs the hash alone, over GET.
    assert (again["request"], again["withQuery"], again["codes"], again["status"]) == ("GET", False, [], 200)
