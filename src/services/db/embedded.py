"""The embedded PostgreSQL (pgserver) kept in the data directory."""

from __future__ import annotations

import fcntl
import json
import logging
from pathlib import Path

import psutil

log = logging.getLogger(__name__)


def _drop_stale_handles(pgdata: Path) -> None:
    """A SIGKILLed holder leaves its pid behind and the server would never be stopped."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text() or "[]")
    except ValueError:
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        log.info("recovering embedded database: dropping stale holders %s", set(pids) - set(alive))
        handles.write_text(json.dumps(alive))


def start(data_dir: Path) -> str:
    """Starts (or joins) the embedded server and returns an asyncpg SQLAlchemy URL."""
    # Imported here: pgserver is needed only with no DATABASE_URL, and importing it is not free.
    import pgserver

    pgdata = data_dir / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    # Processes may start together (a server and a worker, or parallel test workers): the
    # holders' list is read and rewritten by one at a time, or a live holder could be dropped
    # and the server stopped under it.
    with (data_dir / ".start.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _drop_stale_handles(pgdata)
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    uri = server.get_uri()
    return uri.replace("postgresql://", "postgresql+asyncpg://", 1)
