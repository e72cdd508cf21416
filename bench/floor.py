"""The floor: each benchmark query answered by one hand-written SQL statement (inside the same
kind of transaction the server uses: role `authenticated` with the user's claim, so RLS does
the same work), behind a minimal ASGI endpoint. Nothing between HTTP and PostgreSQL but this."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import asyncpg
import orjson

FLOOR = Path(__file__).resolve().parent / "floor"
CLAIMS = "select set_config('role', 'authenticated', true), set_config('request.jwt.claim.sub', $1, true)"


def statements() -> dict[str, tuple[str, str]]:
    """query name -> (root response key, SQL taking $1 = id, $2 = user id)."""
    found = {}
    for path in sorted(FLOOR.glob("*.sql")):
        first, _, sql = path.read_text().partition("\n")
        found[path.stem] = (first.removeprefix("-- root:").strip(), sql)
    return found


class Floor:
    def __init__(self, dsn: str, uid: str) -> None:
        self.dsn = dsn
        self.uid = uid
        self.pool: asyncpg.Pool | None = None
        self.sql = statements()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.pool = await asyncpg.create_pool(self.dsn, min_size=2, max_size=10)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.pool is not None:
                        await self.pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        name = scope["path"].strip("/")
        root, sql = self.sql[name]
        variables = orjson.loads(body)["variables"]
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(CLAIMS, self.uid)
            value = await conn.fetchval(sql, variables["id"], self.uid)
        payload = b'{"data":{"' + root.encode() + b'":' + (value or "null").encode() + b"}}"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})


def app() -> Floor:
    return Floor(os.environ["FLOOR_DSN"], os.environ["FLOOR_UID"])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run("bench.floor:app", factory=True, host="127.0.0.1", port=args.port,
                workers=args.workers, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
