"""The graphql-http package's server audits (npm) against the running test server: every
audit of the GraphQL-over-HTTP specification passes, MUST, SHOULD and MAY alike."""

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
    if (HERE / "node_modules" / "graphql-http").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the graphql-http audit needs node and npm")
    code, output = await _run(npm, "ci", "--no-audit", "--no-fund")
    if code != 0:
        pytest.skip(f"could not install graphql-http with npm (offline?): {output[-500:]}")


async def test_graphql_http_server_audits_pass(server: Any) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the graphql-http audit needs node and npm")
    await _install()
    code, output = await _run(node, "audit.mjs", f"{server.base_url}/graphql")
    results = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len(results) > 40, output
    failing = [r for r in results if r["status"] != "ok"]
    assert failing == [], "\n".join(json.dumps(r) for r in failing)
    assert code == 0, output
