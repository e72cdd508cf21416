#!/usr/bin/env python3
"""Soak: a mixed workload against a real Continuity server for a fixed time, then invariants.

    python bench/soak.py                      # starts `continuity serve` (embedded PostgreSQL), 60 s
    python bench/soak.py --duration 300 --concurrency 16
    python bench/soak.py --url http://127.0.0.1:8000   # a running server; tokens are signed with
                                              # CONTINUITY_JWT_SECRET (or the data directory's secret)

Each simulated user owns a film (12 locked assets, a locked visual style, scene 1 with 6 shots
and its 12 inherited instances). `--concurrency` loops pick weighted operations until the time
is up: scene pages and frame references; a fresh scene inherited by 1-3 concurrent calls;
assignment creates, updates with expectedUpdatedAt (sometimes two racing with one
expectation), deletes and auto-populates; instance updates with expectedModificationCount
(sometimes two racing); generateSceneAssetImage (sometimes retried with its key), each job
watched by a jobId subscription (some dropped abruptly after the first message and resumed
on another socket) and by the user's projectId subscription; cancelImageJob on jobs in flight.
Each user also follows `imageJobEvents(projectId, after: Project.jobEventsCursor)`, and that
subscriber drops its socket abruptly now and then and resumes on a new one with `after` = the
last cursor it processed. A server started here renders with a provider that fails the first
attempt of every third job (`bench/providers.py`; backoff base 0.5 s): those jobs come back
after their backoff.

Afterwards (every job waited for, up to --drain seconds): no HTTP 5xx, no transport error,
no INTERNAL_SERVER_ERROR, no error code the operation cannot answer; each event subscriber
saw every stored event of its jobs exactly once, in order, across its resumes (the same list,
cursors included, as a replay of the job's events); no duplicate instance
per (scene, asset) nor assignment per (shot, instance); concurrent inherits inserted once;
every job terminal, and every subscriber saw its terminal state; each instance's
modificationCount equals its accepted updates plus its completed image jobs; a retried
idempotency key returned its job; of two racing edits with one expectation at most one won.
A server started here has its log checked for unexpected errors too. Prints a summary and
exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import secrets
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import websockets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from services.core.auth import issue_token  # noqa: E402
from services.core.config import load_settings  # noqa: E402

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
# A job's status changes: claimed, then finished, failed for good, back in the queue, or cancelled.
STEPS = {("QUEUED", "PROCESSING"), ("PROCESSING", "COMPLETED"), ("PROCESSING", "FAILED"), ("PROCESSING", "QUEUED"),
         ("QUEUED", "CANCELLED"), ("PROCESSING", "CANCELLED")}
PRESENCES = ("THROUGHOUT", "ENTERS", "EXITS", "PASSES_THROUGH")
PROTOCOL = "graphql-transport-ws"
SOCKET_OPERATIONS = 40  # below the server's default cap of 50 operations per websocket

SCENE_PAGE = """
query($s: UUID!) { scene(id: $s) { id sceneNumber slug stageLocks { stage status }
  assetInstances { id descriptionOverride imageKeyUrl statusTags carryForward effectiveDescription
    modificationCount isOutdated inheritedFrom { id } projectAsset { id name assetType imageKeyUrl } }
  shots { id shotLabel shotOrder assetAssignments { id presenceType updatedAt sceneAssetInstance { id } } } } }
"""
FRAME_REFERENCES = """
query($s: UUID!) { scene(id: $s) { id shots { id shotLabel frameReferences {
  startFrameManifest startFrameImages { position sceneAssetInstanceId projectAssetId assetName assetType imageUrl }
  endFrameManifest endFrameImages { position sceneAssetInstanceId imageUrl }
  videoOnlyAssets { id presenceType } presenceDirections usesLegacyFallback } } } }
"""
ASSIGNMENTS = "query($s: UUID!) { scene(id: $s) { shotAssignments { id presenceType updatedAt } } }"
INSTANCE_COUNT = "query($id: UUID!) { sceneAssetInstance(id: $id) { modificationCount } }"
UPDATE_INSTANCE = """
mutation($id: UUID!, $tags: [String!], $n: Int) {
  updateSceneAssetInstance(id: $id, input: {statusTags: $tags}, expectedModificationCount: $n) { id modificationCount }
}
"""
CREATE_ASSIGNMENT = """
mutation($s: UUID!, $sh: UUID!, $i: UUID!, $p: PresenceType!) {
  createShotAssetAssignments(sceneId: $s, assignments: [{shotId: $sh, sceneAssetInstanceId: $i, presenceType: $p}]) { id }
}
"""
UPDATE_ASSIGNMENT = """
mutation($id: UUID!, $p: PresenceType!, $at: DateTime) {
  updateShotAssetAssignment(id: $id, presenceType: $p, expectedUpdatedAt: $at) { id presenceType updatedAt }
}
"""
DELETE_ASSIGNMENT = "mutation($id: UUID!) { deleteShotAssetAssignment(id: $id) { id } }"
AUTO_POPULATE = "mutation($s: UUID!) { autoPopulateShotAssignments(sceneId: $s) { created existing } }"
CREATE_SCENE = "mutation($i: CreateSceneInput!) { createScene(input: $i) { id } }"
INHERIT = "mutation($s: UUID!) { inheritSceneAssets(sceneId: $s) { count source } }"
GENERATE = """
mutation($i: UUID!, $k: String) { generateSceneAssetImage(instanceId: $i, idempotencyKey: $k) { id status } }
"""
JOB_STATUS = "query($id: UUID!) { imageJob(id: $id) { id status sceneAssetInstanceId } }"
BY_JOB = "subscription($j: UUID) { imageJobUpdated(jobId: $j) { id status imageUrl error } }"
BY_PROJECT = "subscription($p: UUID) { imageJobUpdated(projectId: $p) { id status } }"
CANCEL = "mutation($id: UUID!) { cancelImageJob(id: $id) { id status } }"
CURSOR = "query($p: UUID!) { project(id: $p) { jobEventsCursor } }"
EVENT_FIELDS = "cursor status at job { id status attempts nextAttemptAt }"
EVENTS_BY_PROJECT = (
    f"subscription($p: UUID, $a: String) {{ imageJobEvents(projectId: $p, after: $a) {{ {EVENT_FIELDS} }} }}"
)
EVENTS_BY_JOB = f"subscription($j: UUID) {{ imageJobEvents(jobId: $j) {{ {EVENT_FIELDS} }} }}"
FILM_STATE = """
query($b: UUID!) { branch(id: $b) { scenes { id
  assetInstances { id modificationCount projectAsset { id } }
  shotAssignments { shot { id } sceneAssetInstance { id } } } } }
"""

ASSETS = [(f"Character {n}", "CHARACTER") for n in range(1, 7)] + [
    (f"Location {n}", "LOCATION") for n in range(1, 4)] + [(f"Prop {n}", "PROP") for n in range(1, 4)]


# --- measurements -----------------------------------------------------------------------------

@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)
    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    codes: Counter[str] = field(default_factory=Counter)
    ws: Counter[str] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def violation(self, rule: str, example: str) -> None:
        self.violations[rule] += 1
        if len(self.examples[rule]) < 5:
            self.examples[rule].append(example[:600])


class Api:
    """GraphQL over HTTP as one user; every answer is classified and counted."""

    def __init__(self, http: httpx.AsyncClient, token: str, stats: Stats) -> None:
        self.http = http
        self.token = token
        self.stats = stats

    async def call(
        self, kind: str, query: str, variables: dict[str, Any], expected: tuple[str, ...] = ()
    ) -> tuple[dict[str, Any] | None, str | None]:
        """(data, None) or (None, the error's code); a code not in `expected` is a violation."""
        stats = self.stats
        stats.requests[kind] += 1
        started = time.perf_counter()
        try:
            response = await self.http.post(
                "/graphql", json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {self.token}"},
            )
        except httpx.HTTPError as error:
            stats.outcomes[kind]["transport error"] += 1
            stats.violation("no transport error", f"{kind}: {error!r}")
            return None, "TRANSPORT"
        stats.latencies[kind].append(time.perf_counter() - started)
        if response.status_code >= 500:
            stats.outcomes[kind][f"HTTP {response.status_code}"] += 1
            stats.violation("no HTTP 5xx", f"{kind}: {response.status_code} {response.text}")
            return None, f"HTTP {response.status_code}"
        try:
            body = response.json()
        except ValueError:
            stats.outcomes[kind][f"HTTP {response.status_code}, not JSON"] += 1
            stats.violation("no error code the operation cannot answer", f"{kind}: {response.status_code} {response.text}")
            return None, f"HTTP {response.status_code}"
        errors = body.get("errors")
        if not errors:
            stats.outcomes[kind]["ok"] += 1
            return body["data"], None
        code = str((errors[0].get("extensions") or {}).get("code", "NO_CODE"))
        stats.outcomes[kind][code] += 1
        stats.codes[code] += 1
        if code == "INTERNAL_SERVER_ERROR":
            stats.violation("no INTERNAL_SERVER_ERROR", f"{kind}: {errors}")
        elif code not in expected:
            stats.violation("no error code the operation cannot answer", f"{kind}: {code} {errors} {variables}")
        return None, code

    async def data(self, kind: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        data, code = await self.call(kind, query, variables)
        if data is None:
            raise SystemExit(f"soak: {kind} failed with {code}; the workload cannot go on")
        return data


class Socket:
    """One graphql-transport-ws connection; operations get their messages through queues."""

    def __init__(self, ws: Any, stats: Stats) -> None:
        self.ws = ws
        self.stats = stats
        self.ids = itertools.count(1)
        self.inbox: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.room = asyncio.Semaphore(SOCKET_OPERATIONS)
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, ws_url: str, token: str, stats: Stats) -> Socket:
        ws = await websockets.connect(ws_url, subprotocols=[PROTOCOL], max_size=None)  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        stats.ws["sockets opened"] += 1
        return cls(ws, stats)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message.get("type") == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                    continue
                self.stats.ws["messages received"] += 1
                queue = self.inbox.get(message.get("id", ""))
                if queue is not None:
                    queue.put_nowait(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            for queue in self.inbox.values():
                queue.put_nowait({"type": "closed"})

    async def subscribe(self, query: str, variables: dict[str, Any]) -> tuple[str, asyncio.Queue[dict[str, Any]]]:
        op_id = str(next(self.ids))
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.inbox[op_id] = queue
        await self.ws.send(json.dumps({"id": op_id, "type": "subscribe",
                                       "payload": {"query": query, "variables": variables}}))
        self.stats.ws["subscriptions"] += 1
        return op_id, queue

    def abort(self) -> None:
        """Gone without a word: no `complete`, no close frame."""
        self.ws.transport.abort()
        self.reader.cancel()

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


# --- one user's film and what happened to it --------------------------------------------------

@dataclass
class Film:
    api: Api
    ws_url: str
    project: str
    branch: str
    scene: str
    shots: list[str]
    instances: list[str]
    scenes: list[str] = field(default_factory=list)
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(2))
    tags: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    accepted_updates: Counter[str] = field(default_factory=Counter)
    jobs: dict[str, str] = field(default_factory=dict)  # job -> instance
    watched: dict[str, list[str]] = field(default_factory=dict)  # job -> statuses its jobId subscriber saw
    project_seen: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    inherited: dict[str, int] = field(default_factory=dict)  # fresh scene -> instances inserted
    sockets: list[Socket] = field(default_factory=list)
    project_socket: Socket | None = None
    watches: set[asyncio.Task[None]] = field(default_factory=set)
    # imageJobEvents(projectId) with resumes: every event handed to it, in arrival order.
    events: list[dict[str, Any]] = field(default_factory=list)
    resumes: int = 0
    cancels: Counter[str] = field(default_factory=Counter)


async def make_film(api: Api, ws_url: str, user: int) -> Film:
    project = (await api.data("setup", "mutation($t: String!) { createProject(input: {title: $t}) { id activeBranch { id } } }",
                              {"t": f"Soak film {user}"}))["createProject"]
    branch = project["activeBranch"]["id"]
    for n, (name, kind) in enumerate(ASSETS):
        given = {"branchId": branch, "name": name, "assetType": kind, "description": f"{name}, as designed"}
        if n % 2 == 0:
            given["imageKeyUrl"] = f"https://img.example/{name.replace(' ', '-').lower()}.png"
        await api.data("setup", "mutation($i: CreateProjectAssetInput!) { createProjectAsset(input: $i) { id } }", {"i": given})
    await api.data("setup", "mutation($b: UUID!) { lockProjectAssets(branchId: $b) { id } }", {"b": branch})
    await api.data("setup", "mutation($b: UUID!) { lockVisualStyle(branchId: $b, capsuleId: \"soak-noir\") { id } }", {"b": branch})
    scene = (await api.data("setup", CREATE_SCENE, {"i": {"branchId": branch, "sceneNumber": 1, "slug": "base"}}))["createScene"]["id"]
    shots = []
    for n in range(1, 7):
        shot = {"sceneId": scene, "shotLabel": f"1{chr(64 + n)}", "shotOrder": n, "durationSeconds": 4,
                "setting": "A harbour", "action": "Waiting", "camera": "Wide"}
        shots.append((await api.data("setup", "mutation($i: CreateShotInput!) { createShot(input: $i) { id } }", {"i": shot}))["createShot"]["id"])
    made = await api.data("setup", "mutation($s: UUID!) { inheritSceneAssets(sceneId: $s) { instances { id } } }", {"s": scene})
    instances = [i["id"] for i in made["inheritSceneAssets"]["instances"]]
    film = Film(api, ws_url, project["id"], branch, scene, shots, instances, scenes=[scene])
    film.sockets = [await Socket.open(ws_url, api.token, api.stats) for _ in range(3)]
    cursor = (await api.data("setup", CURSOR, {"p": project["id"]}))["project"]["jobEventsCursor"]
    await watch_project(film)
    follower = asyncio.create_task(follow_events(film, cursor))
    film.watches.add(follower)
    return film


async def follow_events(film: Film, after: str) -> None:
    """imageJobEvents for the project from `after`; now and then the socket is dropped
    abruptly (no complete, no close frame) and the stream resumes on a new one."""
    stats = film.api.stats
    while True:
        try:
            sock = await Socket.open(film.ws_url, film.api.token, stats)
        except (OSError, TimeoutError, websockets.WebSocketException) as error:
            stats.violation("subscriptions answer", f"events of {film.project}: {error!r}")
            await asyncio.sleep(0.5)
            continue
        _, queue = await sock.subscribe(EVENTS_BY_PROJECT, {"p": film.project, "a": after})
        drop_after = random.randint(3, 30)
        try:
            while True:
                message = await queue.get()
                if message["type"] != "next" or message["payload"].get("errors"):
                    if message["type"] != "closed":
                        stats.violation("subscriptions answer", f"events of {film.project}: {message}")
                    return
                event = message["payload"]["data"]["imageJobEvents"]
                film.events.append(event)
                after = event["cursor"]
                drop_after -= 1
                if drop_after == 0:
                    break
        finally:
            sock.abort()
        film.resumes += 1
        stats.ws["event streams dropped and resumed with after"] += 1


async def watch_project(film: Film) -> None:
    """The user's projectId subscription, live before the load: a probe job proves it."""
    film.project_socket = await Socket.open(film.ws_url, film.api.token, film.api.stats)
    _, queue = await film.project_socket.subscribe(BY_PROJECT, {"p": film.project})

    async def record() -> None:
        while True:
            message = await queue.get()
            if message["type"] != "next" or message["payload"].get("errors"):
                if message["type"] != "closed":
                    film.api.stats.violation("subscriptions answer", f"project subscription: {message}")
                return
            job = message["payload"]["data"]["imageJobUpdated"]
            film.project_seen[job["id"]].append(job["status"])

    recorder = asyncio.create_task(record())
    film.watches.add(recorder)  # kept referenced; cancelled at the end
    probe = await generate_job(film, film.instances[0], key=f"probe-{uuid.uuid4()}")
    if probe is None:
        raise SystemExit("soak: the probe job could not be queued")
    if not await until(lambda: probe in film.project_seen, time.monotonic() + 30):
        raise SystemExit("soak: the project subscription saw no update of the probe job")


async def generate_job(film: Film, instance: str, key: str) -> str | None:
    data, _ = await film.api.call("generateSceneAssetImage", GENERATE, {"i": instance, "k": key})
    if data is None:
        return None
    job = str(data["generateSceneAssetImage"]["id"])
    if job not in film.jobs:
        film.jobs[job] = instance
        task = asyncio.create_task(watch_job(film, job))
        film.watches.add(task)
        task.add_done_callback(film.watches.discard)
    return job


async def watch_job(film: Film, job: str) -> None:
    stats = film.api.stats
    seen: list[str] = []
    try:
        if random.random() < 0.1:
            # A subscriber that vanishes after the first message; it comes back on another socket.
            gone = await Socket.open(film.ws_url, film.api.token, stats)
            _, queue = await gone.subscribe(BY_JOB, {"j": job})
            await asyncio.wait_for(queue.get(), 30)
            gone.abort()
            stats.ws["dropped abruptly and resumed"] += 1
        sock = min(film.sockets, key=lambda s: len(s.inbox))
        async with sock.room:
            op_id, queue = await sock.subscribe(BY_JOB, {"j": job})
            try:
                while True:
                    message = await queue.get()
                    if message["type"] == "complete":
                        break
                    if message["type"] != "next" or message["payload"].get("errors"):
                        stats.violation("subscriptions answer", f"job {job}: {message}")
                        break
                    seen.append(message["payload"]["data"]["imageJobUpdated"]["status"])
            finally:
                sock.inbox.pop(op_id, None)
    except (OSError, TimeoutError, websockets.WebSocketException) as error:
        stats.violation("subscriptions answer", f"job {job}: {error!r}")
    finally:
        film.watched[job] = seen


# --- the operations ---------------------------------------------------------------------------

async def read_scene_page(film: Film) -> None:
    await film.api.call("scene page", SCENE_PAGE, {"s": random.choice(film.scenes)})


async def read_frame_references(film: Film) -> None:
    await film.api.call("frame references", FRAME_REFERENCES, {"s": film.scene})


async def inherit_fresh_scene(film: Film) -> None:
    number = next(film.numbers)
    made, _ = await film.api.call("createScene", CREATE_SCENE,
                                  {"i": {"branchId": film.branch, "sceneNumber": number, "slug": f"fresh-{number}"}})
    if made is None:
        return
    scene = made["createScene"]["id"]
    film.scenes.append(scene)
    calls = random.choice((1, 1, 2, 3))
    results = await asyncio.gather(*(
        film.api.call("inheritSceneAssets", INHERIT, {"s": scene}, expected=("SCENE_NOT_EMPTY",)) for _ in range(calls)))
    inserted = [d["inheritSceneAssets"]["count"] for d, _ in results if d is not None and d["inheritSceneAssets"]["count"]]
    refused = sum(1 for _, code in results if code == "SCENE_NOT_EMPTY")
    if len(inserted) > 1 or (refused and len(inserted) != 1):
        film.api.stats.violation("concurrent inherits insert once", f"scene {scene}: {results}")
    film.inherited[scene] = inserted[0] if inserted else 0


async def create_assignment(film: Film) -> None:
    await film.api.call("createShotAssetAssignments", CREATE_ASSIGNMENT, {
        "s": film.scene, "sh": random.choice(film.shots), "i": random.choice(film.instances),
        "p": random.choice(PRESENCES)}, expected=("CONFLICT",))


async def _some_assignment(film: Film) -> dict[str, Any] | None:
    data, _ = await film.api.call("scene assignments", ASSIGNMENTS, {"s": film.scene})
    rows = [] if data is None else data["scene"]["shotAssignments"]
    return random.choice(rows) if rows else None


async def update_assignment(film: Film) -> None:
    row = await _some_assignment(film)
    if row is None:
        return
    racers = 2 if random.random() < 0.3 else 1
    others = [p for p in PRESENCES if p != row["presenceType"]]
    results = await asyncio.gather(*(
        film.api.call("updateShotAssetAssignment", UPDATE_ASSIGNMENT,
                      {"id": row["id"], "p": random.choice(others), "at": row["updatedAt"]},
                      expected=("CONFLICT", "NOT_FOUND")) for _ in range(racers)))
    if sum(1 for d, _ in results if d is not None) > 1:
        film.api.stats.violation("one of two racing edits wins", f"assignment {row}: {results}")


async def delete_assignment(film: Film) -> None:
    row = await _some_assignment(film)
    if row is not None:
        await film.api.call("deleteShotAssetAssignment", DELETE_ASSIGNMENT, {"id": row["id"]}, expected=("NOT_FOUND",))


async def auto_populate(film: Film) -> None:
    await film.api.call("autoPopulateShotAssignments", AUTO_POPULATE, {"s": film.scene})


async def update_instance(film: Film) -> None:
    instance = random.choice(film.instances)
    data, _ = await film.api.call("instance count", INSTANCE_COUNT, {"id": instance})
    if data is None:
        return
    expected = data["sceneAssetInstance"]["modificationCount"]
    racers = 2 if random.random() < 0.3 else 1
    # A new tag every time: an accepted update is always a real change (and counted).
    results = await asyncio.gather(*(
        film.api.call("updateSceneAssetInstance", UPDATE_INSTANCE,
                      {"id": instance, "tags": [f"soak-{next(film.tags)}"], "n": expected}, expected=("CONFLICT",))
        for _ in range(racers)))
    accepted = [d["updateSceneAssetInstance"] for d, _ in results if d is not None]
    film.accepted_updates[instance] += len(accepted)
    if len(accepted) > 1:
        film.api.stats.violation("one of two racing edits wins", f"instance {instance}: {results}")
    for row in accepted:
        if row["modificationCount"] != expected + 1:
            film.api.stats.violation("an accepted update counts once", f"instance {instance}: {expected} -> {row}")


async def image_job(film: Film) -> None:
    instance = random.choice(film.instances)
    key = str(uuid.uuid4())
    job = await generate_job(film, instance, key)
    if random.random() < 0.2:  # a client retrying the same intent
        again = await generate_job(film, instance, key)
        if again != job:
            film.api.stats.violation("a retried idempotency key returns its job", f"{key}: {job} then {again}")
    if job is not None and random.random() < 0.15:  # a user changing their mind while it is in flight
        data, code = await film.api.call("cancelImageJob", CANCEL, {"id": job}, expected=("CONFLICT",))
        film.cancels[code or (data or {}).get("cancelImageJob", {}).get("status", "?")] += 1


async def cancel_job(film: Film) -> None:
    """Cancels one of the film's jobs, whatever its state: finished ones answer CONFLICT."""
    if not film.jobs:
        return
    job = random.choice(list(film.jobs))
    data, code = await film.api.call("cancelImageJob", CANCEL, {"id": job}, expected=("CONFLICT",))
    film.cancels[code or (data or {}).get("cancelImageJob", {}).get("status", "?")] += 1


OPERATIONS: list[tuple[Callable[[Film], Awaitable[None]], int]] = [
    (read_scene_page, 25),
    (read_frame_references, 15),
    (inherit_fresh_scene, 5),
    (create_assignment, 8),
    (update_assignment, 8),
    (delete_assignment, 8),
    (auto_populate, 1),
    (update_instance, 15),
    (image_job, 4),
    (cancel_job, 1),
]


async def drive(films: list[Film], deadline: float) -> None:
    operations, weights = zip(*OPERATIONS, strict=True)
    while time.monotonic() < deadline:
        operation = random.choices(operations, weights)[0]
        await operation(random.choice(films))


# --- invariants -------------------------------------------------------------------------------

@dataclass
class Verdict:
    lines: list[tuple[bool, str]] = field(default_factory=list)

    def check(self, ok: bool, text: str) -> None:
        self.lines.append((ok, text))

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.lines)


async def until(condition: Callable[[], bool], deadline: float) -> bool:
    """Polls a condition on what the subscriptions recorded (nothing announces it)."""
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)


async def settle_jobs(films: list[Film], drain: float) -> bool:
    """Waits (at most `drain` seconds) for every jobId subscription to end, then for the
    projectId subscriptions, which may trail them by a message."""
    deadline = time.monotonic() + drain
    settled = await until(lambda: not any(f.jobs.keys() - f.watched.keys() for f in films), deadline)
    await until(lambda: all(set(f.project_seen.get(j, ())) & set(TERMINAL) for f in films for j in f.jobs), deadline)
    await until(lambda: all({e["job"]["id"] for e in f.events if e["status"] in TERMINAL} >= f.jobs.keys()
                            for f in films), deadline)
    return settled


async def replay(film: Film, job: str) -> list[dict[str, Any]]:
    """Every stored event of the job, from a fresh jobId stream (it completes after the terminal one)."""
    sock = await Socket.open(film.ws_url, film.api.token, film.api.stats)
    try:
        _, queue = await sock.subscribe(EVENTS_BY_JOB, {"j": job})
        events = []
        while True:
            message = await asyncio.wait_for(queue.get(), 30)
            if message["type"] != "next":
                return events
            events.append(message["payload"]["data"]["imageJobEvents"])
    finally:
        await sock.close()


def _in_order(seen: list[str], whole: bool) -> bool:
    """Each message one step of the job's life; `whole`: from its start (QUEUED) on."""
    if not seen or (whole and seen[0] != "QUEUED"):
        return False
    return all(step in STEPS for step in itertools.pairwise(seen))


async def verify(films: list[Film], stats: Stats, settled: bool) -> Verdict:
    verdict = Verdict()
    finals: dict[str, str] = {}
    limit = asyncio.Semaphore(8)

    async def final(film: Film, job: str) -> None:
        async with limit:
            data, _ = await film.api.call("verify: imageJob", JOB_STATUS, {"id": job})
            finals[job] = "?" if data is None or data["imageJob"] is None else data["imageJob"]["status"]

    await asyncio.gather(*(final(f, j) for f in films for j in f.jobs))
    jobs = sum(len(f.jobs) for f in films)
    not_terminal = [j for j, s in finals.items() if s not in TERMINAL]
    verdict.check(settled and not not_terminal,
                  f"every job terminal: {jobs} jobs, {Counter(finals.values()).most_common()}")
    missed_by_job = [j for f in films for j in f.jobs if (f.watched.get(j) or ["-"])[-1] != finals.get(j)]
    verdict.check(not missed_by_job,
                  f"every jobId subscriber saw its job's terminal state ({jobs} subscribers; missed: {missed_by_job[:5]})")
    missed_by_project = [j for f in films for j in f.jobs if finals.get(j) not in f.project_seen.get(j, ())]
    verdict.check(not missed_by_project,
                  f"every projectId subscriber saw the terminal state of each of its jobs ({len(films)} subscribers, "
                  f"{jobs} jobs; missed: {missed_by_project[:5]})")

    limit_replays = asyncio.Semaphore(8)

    async def replayed(film: Film, job: str) -> tuple[str, list[dict[str, Any]]]:
        async with limit_replays:
            return job, await replay(film, job)

    delivered = duplicates = missed = reordered = 0
    event_examples: list[str] = []
    for film in films:
        cursors = [e["cursor"] for e in film.events]
        duplicates += len(cursors) - len(set(cursors))
        by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in film.events:
            by_job[event["job"]["id"]].append(event)
        delivered += len(film.events)
        for job, stored in await asyncio.gather(*(replayed(film, j) for j in film.jobs)):
            seen = by_job.get(job, [])
            if seen != stored:
                got = {e["cursor"] for e in seen}
                missed += len([e for e in stored if e["cursor"] not in got])
                reordered += 1
                if len(event_examples) < 3:
                    event_examples.append(f"{job}: saw {[e['status'] for e in seen]}, stored {[e['status'] for e in stored]}")
    resumes = sum(f.resumes for f in films)
    retried = len({e["job"]["id"] for f in films for e in f.events if e["status"] == "QUEUED" and e["job"]["nextAttemptAt"]})
    verdict.check(not duplicates and not missed and not reordered,
                  f"each event subscriber saw every stored event of its jobs exactly once, in order: {delivered} events "
                  f"delivered, {resumes} resumes, duplicates {duplicates}, missed {missed}, "
                  f"jobs out of order {reordered}; {retried} jobs retried after a backoff {event_examples}")
    cancels = Counter[str]()
    for film in films:
        cancels.update(film.cancels)
    verdict.check(True, f"cancels: {dict(cancels)}; final states {Counter(finals.values()).most_common()}")

    skipped = [f"{j}: {seen}" for f in films for j in f.jobs for seen, whole in
               ((f.project_seen.get(j, []), True), (f.watched.get(j, []), False)) if not _in_order(seen, whole)]
    verdict.check(not skipped, f"every subscriber saw each change in order, none skipped {skipped[:3]}")

    duplicates_i = duplicates_a = scenes = instance_rows = assignment_rows = 0
    count_mismatches: list[str] = []
    inherit_mismatches: list[str] = []
    for film in films:
        data = await film.api.data("verify: film", FILM_STATE, {"b": film.branch})
        completed_jobs = Counter(i for j, i in film.jobs.items() if finals.get(j) == "COMPLETED")
        for scene in data["branch"]["scenes"]:
            scenes += 1
            pairs = [(scene["id"], i["projectAsset"]["id"]) for i in scene["assetInstances"]]
            instance_rows += len(pairs)
            duplicates_i += len(pairs) - len(set(pairs))
            casting = [(a["shot"]["id"], a["sceneAssetInstance"]["id"]) for a in scene["shotAssignments"]]
            assignment_rows += len(casting)
            duplicates_a += len(casting) - len(set(casting))
            if scene["id"] in film.inherited and film.inherited[scene["id"]] != len(pairs):
                inherit_mismatches.append(f"{scene['id']}: inserted {film.inherited[scene['id']]}, holds {len(pairs)}")
            if scene["id"] == film.scene:
                for instance in scene["assetInstances"]:
                    want = film.accepted_updates[instance["id"]] + completed_jobs[instance["id"]]
                    if instance["modificationCount"] != want:
                        count_mismatches.append(f"{instance['id']}: {instance['modificationCount']} != "
                                                f"{film.accepted_updates[instance['id']]} updates + "
                                                f"{completed_jobs[instance['id']]} completed jobs")
    verdict.check(not duplicates_i, f"no duplicate instance per (scene, asset): {scenes} scenes, {instance_rows} instances")
    verdict.check(not duplicates_a, f"no duplicate assignment per (shot, instance): {assignment_rows} assignments")
    verdict.check(not inherit_mismatches, f"each fresh scene holds what its one inherit inserted "
                  f"({sum(len(f.inherited) for f in films)} scenes) {inherit_mismatches[:3]}")
    accepted = sum(sum(f.accepted_updates.values()) for f in films)
    verdict.check(not count_mismatches, f"modificationCount = accepted updates + completed image jobs, per instance "
                  f"({sum(len(f.instances) for f in films)} instances, {accepted} accepted updates) {count_mismatches[:3]}")
    for rule in ("no HTTP 5xx", "no transport error", "no INTERNAL_SERVER_ERROR",
                 "no error code the operation cannot answer", "subscriptions answer",
                 "concurrent inherits insert once", "one of two racing edits wins", "an accepted update counts once",
                 "a retried idempotency key returns its job"):
        verdict.check(not stats.violations[rule], f"{rule}" + (f": {stats.violations[rule]} times" if stats.violations[rule] else ""))
    return verdict


# --- the server -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Errors a server logs that are not incidents of its own: a subscriber's socket that closed
# while a message was on its way to it.
_EXPECTED_LOG = re.compile(r"strawberry\.ws\.task: Exception in worker task|WebSocketDisconnected|ClientDisconnected")


@dataclass
class Served:
    url: str
    secret: str | None
    describe: str
    # Unexpected ERROR lines of the log of a server started here, once it has stopped.
    log_errors: list[str] | None = None


def unexpected_errors(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines()
            if re.search(r"\b(ERROR|CRITICAL)\b", line) and not _EXPECTED_LOG.search(line)]


@contextlib.asynccontextmanager
async def server(args: argparse.Namespace) -> AsyncIterator[Served]:
    if args.url:
        yield Served(args.url.rstrip("/"), None, f"{args.url} (running)")
        return
    tmp = Path(tempfile.mkdtemp(prefix="continuity-soak-"))
    secret = secrets.token_urlsafe(48)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTINUITY_") and k != "DATABASE_URL"}
    env.update(PYTHONPATH=str(REPO / "src"), CONTINUITY_DATA_DIR=str(tmp / "data"),
               CONTINUITY_MEDIA_DIR=str(tmp / "media"), CONTINUITY_JWT_SECRET=secret, CONTINUITY_DEV_AUTH="0",
               CONTINUITY_IMAGE_PROVIDER="bench.providers:FlakyProvider", CONTINUITY_RETRY_BASE_SECONDS="0.5")
    env["PYTHONPATH"] = f"{REPO / 'src'}{os.pathsep}{REPO}"
    serve = ["serve", "--port", str(port), "--log-level", "warning"]
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
        serve.append("--migrate")
    if args.worker_processes:
        serve.append("--no-worker")
    database = "PostgreSQL at DATABASE_URL" if args.database_url else "embedded PostgreSQL"
    workers = f"{args.worker_processes} worker processes" if args.worker_processes else "in-process worker"
    served = Served(url, secret, f"{url} (started here: {database}, {workers})")
    log = tmp / "server.log"
    processes: list[asyncio.subprocess.Process] = []
    with log.open("wb") as sink:
        try:
            processes.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "continuity", *serve, env=env, cwd=REPO, stdout=sink, stderr=sink))
            async with httpx.AsyncClient(base_url=url) as http:
                deadline = time.monotonic() + 120
                while True:
                    if processes[0].returncode is not None or time.monotonic() > deadline:
                        raise SystemExit(f"soak: `continuity serve` did not start:\n{log.read_text()}")
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
            for _ in range(args.worker_processes):
                processes.append(await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "continuity", "worker", env={**env, "CONTINUITY_PUBLIC_URL": url},
                    cwd=REPO, stdout=sink, stderr=sink))
            yield served
        finally:
            for process in reversed(processes):
                if process.returncode is None:
                    process.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 60)
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            served.log_errors = unexpected_errors(log)
            if args.keep:
                print(f"soak: the server's directory is kept: {tmp}", flush=True)
            else:
                shutil.rmtree(tmp, ignore_errors=True)


# --- the run ----------------------------------------------------------------------------------

def summary(args: argparse.Namespace, served: Served, stats: Stats, films: list[Film], elapsed: float,
            load_requests: int, verdict: Verdict) -> str:
    lines = [f"soak: {elapsed:.1f} s of load against {served.describe}; {len(films)} users, "
             f"concurrency {args.concurrency}, seed {args.seed}"]
    total = sum(stats.requests.values())
    lines.append(f"requests: {load_requests} in the load window ({load_requests / elapsed:.0f}/s); "
                 f"{total} with setup and checks")
    lines.append(f"  {'kind':<30} {'count':>7} {'p50 ms':>7} {'p99 ms':>7}  outcomes")
    for kind, n in sorted(stats.requests.items(), key=lambda kv: -kv[1]):
        times = sorted(stats.latencies[kind]) or [0.0]
        p50, p99 = times[len(times) // 2] * 1000, times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
        outcomes = ", ".join(f"{code} {count}" for code, count in stats.outcomes[kind].most_common())
        lines.append(f"  {kind:<30} {n:>7} {p50:>7.1f} {p99:>7.1f}  {outcomes}")
    codes = ", ".join(f"{code} {n}" for code, n in stats.codes.most_common()) or "none"
    lines.append(f"errors by code: {codes}")
    lines.append("websockets: " + ", ".join(f"{k} {v}" for k, v in stats.ws.items()))
    lines.append("invariants:")
    lines.extend(f"  {'OK  ' if ok else 'FAIL'} {text}" for ok, text in verdict.lines)
    for rule, examples in stats.examples.items():
        lines.append(f"  e.g. {rule}:")
        lines.extend(f"    {example}" for example in examples)
    lines.append("RESULT: " + ("OK" if verdict.ok else "FAIL"))
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    random.seed(args.seed)
    stats = Stats()
    async with server(args) as served:
        settings = load_settings()
        if served.secret is not None:
            settings = replace(settings, jwt_secret_env=served.secret)
        ws_url = served.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/graphql"
        limits = httpx.Limits(max_connections=args.concurrency * 3 + 8)
        async with httpx.AsyncClient(base_url=served.url, timeout=60, limits=limits) as http:
            apis = [Api(http, issue_token(settings, str(uuid.uuid4())), stats) for _ in range(args.users)]
            films = list(await asyncio.gather(*(make_film(api, ws_url, n) for n, api in enumerate(apis, 1))))
            before, started = sum(stats.requests.values()), time.monotonic()
            await asyncio.gather(*(drive(films, started + args.duration) for _ in range(args.concurrency)))
            elapsed = time.monotonic() - started
            load_requests = sum(stats.requests.values()) - before
            settled = await settle_jobs(films, args.drain)
            verdict = await verify(films, stats, settled)
            for film in films:
                for task in list(film.watches):
                    task.cancel()
                for sock in [*film.sockets, *([film.project_socket] if film.project_socket else [])]:
                    with contextlib.suppress(Exception):
                        await sock.close()
    # The log is complete once the server has stopped.
    log_errors = served.log_errors
    if log_errors is not None:
        verdict.check(not log_errors, f"no unexpected error in the server's log ({len(log_errors)} lines)")
        for line in log_errors[:5]:
            stats.examples["server log"].append(line[:600])
    print(summary(args, served, stats, films, elapsed, load_requests, verdict), flush=True)
    return 0 if verdict.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--concurrency", type=int, default=8, help="operations in flight at once (default 8)")
    parser.add_argument("--users", type=int, default=3, help="users, one film each (default 3)")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to wait for queued jobs afterwards")
    parser.add_argument("--url", help="a running server instead of starting one")
    parser.add_argument("--database-url", help="start the server on this database (migrated first) "
                        "instead of an embedded one")
    parser.add_argument("--worker-processes", type=int, default=0,
                        help="run images in this many `continuity worker` processes (serve --no-worker)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a new one, printed)")
    parser.add_argument("--keep", action="store_true", help="keep the started server's directory and log")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.randrange(1_000_000)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
