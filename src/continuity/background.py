"""Background work a server process runs: the job-event listener and the image worker.

Filled in by the image-jobs work; until then these start nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gql.context import AppState
from services.config import Settings


async def _nothing() -> None:
    return None


async def job_events(state: AppState) -> Callable[[], Awaitable[None]]:
    return _nothing


async def image_worker(state: AppState) -> Callable[[], Awaitable[None]]:
    return _nothing


async def run_worker_forever(settings: Settings, database_url: str, public_url: str) -> int:
    raise SystemExit("the image worker is not implemented yet")
