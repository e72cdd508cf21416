"""A graphql-transport-ws client over real websockets, for subscription tests."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets

PROTOCOL = "graphql-transport-ws"
# Generous: a wait that runs out is a failure, never a measurement.
WAIT = 30.0

JOB_FIELDS = """
id jobType status prompt width height sceneId shotId projectAssetId sceneAssetInstanceId
referenceImages { position } storagePath imageUrl error idempotencyKey createdAt completedAt
"""
BY_JOB = f"subscription($j: UUID) {{ imageJobUpdated(jobId: $j) {{ {JOB_FIELDS} }} }}"
BY_PROJECT = f"subscription($p: UUID) {{ imageJobUpdated(projectId: $p) {{ {JOB_FIELDS} }} }}"
EVENT_FIELDS = f"cursor status at job {{ {JOB_FIELDS} attempts nextAttemptAt }}"
EVENTS_BY_JOB = f"subscription($j: UUID, $a: String) {{ imageJobEvents(jobId: $j, after: $a) {{ {EVENT_FIELDS} }} }}"
EVENTS_BY_PROJECT = (
    f"subscription($p: UUID, $a: String) {{ imageJobEvents(projectId: $p, after: $a) {{ {EVENT_FIELDS} }} }}"
)
CURSOR = "query($p: UUID!) { project(id: $p) { jobEventsCursor } }"


class Socket:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._inbox: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())
        self.closed: asyncio.Future[tuple[int | None, str]] = asyncio.get_running_loop().create_future()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message.get("type") == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                    continue
                self._queue(message.get("id", "")).put_nowait(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            if not self.closed.done():
                self.closed.set_result((self.ws.close_code, self.ws.close_reason or ""))

    def _queue(self, op_id: str) -> asyncio.Queue[dict[str, Any]]:
        return self._inbox.setdefault(op_id, asyncio.Queue())

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> Operation:
        return await self.subscribe_payload({"query": query, "variables": variables or {}})

    async def subscribe_payload(self, payload: dict[str, Any]) -> Operation:
        op_id = str(next(self._ids))
        self._queue(op_id)
        await self.ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))
        return Operation(self, op_id)


class Operation:
    def __init__(self, socket: Socket, op_id: str) -> None:
        self.socket = socket
        self.id = op_id

    async def message(self) -> dict[str, Any]:
        """The next message of this operation (`next`, `error` or `complete`)."""
        return await asyncio.wait_for(self.socket._queue(self.id).get(), WAIT)

    async def job(self) -> dict[str, Any]:
        """The next `next` payload's job; fails on anything else."""
        message = await self.message()
        assert message["type"] == "next", message
        assert not message["payload"].get("errors"), message
        return message["payload"]["data"]["imageJobUpdated"]

    async def event(self) -> dict[str, Any]:
        """The next `next` payload's imageJobEvents event; fails on anything else."""
        message = await self.message()
        assert message["type"] == "next", message
        assert not message["payload"].get("errors"), message
        return message["payload"]["data"]["imageJobEvents"]

    async def events_until(self, done: Any) -> list[dict[str, Any]]:
        """Events up to the first for which `done(events so far)` holds."""
        seen: list[dict[str, Any]] = []
        while not done(seen):
            seen.append(await self.event())
        return seen

    async def until(self, job_id: str, status: str) -> list[dict[str, Any]]:
        """This job's messages up to and including the given status (others' are skipped)."""
        seen = []
        while True:
            job = await self.job()
            if job["id"] != job_id:
                continue
            seen.append(job)
            if job["status"] == status:
                return seen

    async def error_code(self) -> str:
        """The code of an operation that fails, and that it ends."""
        message = await self.message()
        if message["type"] == "error":
            errors = message["payload"]
        else:
            assert message["type"] == "next", message
            errors = message["payload"]["errors"]
            assert (await self.message())["type"] == "complete"
        return str(errors[0]["extensions"]["code"])

    async def stop(self) -> None:
        await self.socket.ws.send(json.dumps({"id": self.id, "type": "complete"}))


@asynccontextmanager
async def connect(base_url: str, token: str | None) -> AsyncIterator[Socket]:
    url = base_url.replace("http://", "ws://", 1) + "/graphql"
    async with websockets.connect(url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert ack["type"] == "connection_ack", ack
        socket = Socket(ws)
        try:
            yield socket
        finally:
            socket._reader.cancel()
