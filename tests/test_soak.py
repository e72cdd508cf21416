"""A short run of the soak script (bench/soak.py) against the test server: the script works,
and a few seconds of its mixed workload break no invariant. Longer runs: docs/scale-out.md (Soak test)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

import pytest

from tests.support import REPO

# Real processes: the slow tier (README, "Two commands").
pytestmark = pytest.mark.slow

SOAK = REPO / "bench" / "soak.py"


async def test_five_seconds_of_soak_keep_every_invariant(server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}  # the token secret is the test server's
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SOAK), "--url", server.base_url, "--duration", "5", "--users", "2",
        "--concurrency", "4", "--drain", "60", "--seed", "7",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 120)
    report = output.decode()
    assert proc.returncode == 0, report
    assert "RESULT: OK" in report and "FAIL" not in report, report
    for kind in ("scene page", "frame references", "inheritSceneAssets", "createShotAssetAssignments",
                 "updateShotAssetAssignment", "updateSceneAssetInstance", "generateSceneAssetImage"):
        assert f"\n  {kind} " in report, (kind, report)
    # The server (in this process) logged nothing unexpected meanwhile.
    unexpected = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("continuity")]
    assert not unexpected, [r.getMessage() for r in unexpected]
