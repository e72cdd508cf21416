"""imageJobEvents and Project.jobEventsCursor over real websockets, with the server's worker:
stored events after a cursor, then live ones, none twice, none missed (docs/operations.md)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from services.images.events import Position
from tests.api.test_image_jobs import _terminate_listener, generate, until
from tests.support import Client
from tests.support.film import film_with_instances
from tests.support.subscriptions import CURSOR, EVENTS_BY_JOB, EVENTS_BY_PROJECT, connect

MISSING = "00000000-0000-4000-8000-00000000dead"
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


async def cursor_of(client: Client, project_id: str) -> str:
    return str((await client.data(CURSOR, {"p": project_id}))["project"]["jobEventsCursor"])


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def finished(job_ids: set[str]) -> Any:
    """`done` for events_until: every one of these jobs has had its terminal event."""
    return lambda seen: {e["job"]["id"] for e in seen if e["status"] in TERMINAL} >= job_ids


def assert_exactly_once_in_order(events: list[dict[str, Any]]) -> None:
    cursors = [e["cursor"] for e in events]
    assert len(set(cursors)) == len(cursors), "an event came twice"
    by_job: dict[str, list[str]] = {}
    for e in events:
        by_job.setdefault(e["job"]["id"], []).append(e["status"])
    for statuses in by_job.values():
        assert statuses == ["QUEUED", "PROCESSING", "COMPLETED"], by_job


async def test_a_jobs_stream_replays_its_stored_events_then_completes(alice: Client, server: Any) -> None:
    _, instances = await film_with_instances(alice)
    job = await generate(alice, instances["Mara"])
    async with connect(server.base_url, alice.token) as socket:
        op = await socket.subscribe(EVENTS_BY_JOB, {"j": job["id"]})
        events = await op.events_until(lambda seen: seen and seen[-1]["status"] in TERMINAL)
        assert (await op.message())["type"] == "complete"
        assert [e["status"] for e in events] == ["QUEUED", "PROCESSING", "COMPLETED"]
        # The job as it was at each event, at the time of each change.
        queued, processing, completed = events
        assert [e["job"]["status"] for e in events] == ["QUEUED", "PROCESSING", "COMPLETED"]
        assert (queued["job"]["attempts"], processing["job"]["attempts"]) == (0, 1)
        assert queued["job"]["imageUrl"] is None and completed["job"]["imageUrl"]
        assert _time(queued["job"]["createdAt"]) <= _time(queued["at"]) < _time(processing["at"]) < _time(completed["at"])
        assert _time(completed["job"]["completedAt"]) <= _time(completed["at"])
        # The job is terminal: a new stream replays the same events and completes at once.
        again = await socket.subscribe(EVENTS_BY_JOB, {"j": job["id"]})
        assert await again.events_until(lambda seen: len(seen) == 3) == events
        assert (await again.message())["type"] == "complete"
        # Resuming after the first event gives the rest; after the last, nothing.
        rest = await socket.subscribe(EVENTS_BY_JOB, {"j": job["id"], "a": queued["cursor"]})
        assert await rest.events_until(lambda seen: len(seen) == 2) == [processing, completed]
        assert (await rest.message())["type"] == "complete"
        none = await socket.subscribe(EVENTS_BY_JOB, {"j": job["id"], "a": completed["cursor"]})
        assert (await none.message())["type"] == "complete"


async def test_a_project_stream_from_the_projects_cursor_misses_nothing(alice: Client, server: Any) -> None:
    film, instances = await film_with_instances(alice)
    start = await cursor_of(alice, film.project_id)
    jobs = [await generate(alice, instances[name]) for name in ("Mara", "Lighthouse", "Anchor")]
    async with connect(server.base_url, alice.token) as socket:
        op = await socket.subscribe(EVENTS_BY_PROJECT, {"p": film.project_id, "a": start})
        events = await op.events_until(finished({j["id"] for j in jobs}))
    assert_exactly_once_in_order(events)
    assert {e["job"]["id"] for e in events} == {j["id"] for j in jobs}
    # A later cursor of the project comes after all of them.
    later = await cursor_of(alice, film.project_id)
    async with connect(server.base_url, alice.token) as socket:
        op = await socket.subscribe(EVENTS_BY_PROJECT, {"p": film.project_id, "a": later})
        fourth = await generate(alice, instances["Mara"], key="fourth")
        tail = await op.events_until(finished({fourth["id"]}))
    assert [(e["job"]["id"], e["status"]) for e in tail] == [(fourth["id"], s) for s in ("QUEUED", "PROCESSING", "COMPLETED")]


async def test_without_a_cursor_a_project_stream_is_live_only(alice: Client, server: Any) -> None:
    film, instances = await film_with_instances(alice)
    old = await generate(alice, instances["Mara"])
    async with connect(server.base_url, alice.token) as socket:
        done = await socket.subscribe(EVENTS_BY_JOB, {"j": old["id"]})
        await done.events_until(lambda seen: seen and seen[-1]["status"] in TERMINAL)
        hub = server.state.events
        before = hub.subscribers
        op = await socket.subscribe(EVENTS_BY_PROJECT, {"p": film.project_id})
        await until(lambda: hub.subscribers > before)
        new = await generate(alice, instances["Anchor"])
        events = await op.events_until(finished({new["id"]}))
    assert {e["job"]["id"] for e in events} == {new["id"]}
    assert_exactly_once_in_order(events)


async def test_nothing_is_missed_or_repeated_across_a_listen_outage(alice: Client, server: Any) -> None:
    film, instances = await film_with_instances(alice)
    start = await cursor_of(alice, film.project_id)
    hub = server.state.events
    reconnects = hub.reconnects
    async with connect(server.base_url, alice.token) as socket:
        op = await socket.subscribe(EVENTS_BY_PROJECT, {"p": film.project_id, "a": start})
        first = await generate(alice, instances["Mara"])
        seen = await op.events_until(finished({first["id"]}))
        # The listener's backend is killed; a job is made and runs while it reconnects.
        await _terminate_listener(server)
        second = await generate(alice, instances["Anchor"])
        seen += await op.events_until(lambda more: finished({second["id"]})(seen + more))
    assert hub.reconnects > reconnects
    assert_exactly_once_in_order(seen)
    assert Counter(e["job"]["id"] for e in seen) == {first["id"]: 3, second["id"]: 3}


async def test_arguments_and_cursors_are_checked_in_the_error_order(alice: Client, bob: Client, server: Any) -> None:
    film, instances = await film_with_instances(alice)
    job = await generate(alice, instances["Mara"])
    cursor = await cursor_of(alice, film.project_id)
    future = Position(2**60, 1).encode()
    cases = [
        ("subscription { imageJobEvents { cursor } }", {}, "BAD_USER_INPUT"),
        (f'subscription {{ imageJobEvents(projectId: "{film.project_id}", jobId: "{job["id"]}") {{ cursor }} }}', {},
         "BAD_USER_INPUT"),
        ("subscription { imageJobEvents(projectId: null, jobId: null) { cursor } }", {}, "BAD_USER_INPUT"),
        # The cursor's shape comes before NOT_FOUND ...
        (EVENTS_BY_PROJECT, {"p": MISSING, "a": "not-a-cursor"}, "BAD_USER_INPUT"),
        (EVENTS_BY_JOB, {"j": job["id"], "a": cursor + "x"}, "BAD_USER_INPUT"),
        (EVENTS_BY_PROJECT, {"p": MISSING, "a": cursor}, "NOT_FOUND"),
        (EVENTS_BY_JOB, {"j": MISSING}, "NOT_FOUND"),
        # ... an unknown or expired one after it.
        (EVENTS_BY_PROJECT, {"p": MISSING, "a": future}, "NOT_FOUND"),
        (EVENTS_BY_PROJECT, {"p": film.project_id, "a": future}, "BAD_USER_INPUT"),
        (EVENTS_BY_JOB, {"j": job["id"], "a": future}, "BAD_USER_INPUT"),
    ]
    async with connect(server.base_url, alice.token) as socket:
        for query, variables, code in cases:
            op = await socket.subscribe(query, variables)
            assert await op.error_code() == code, (query, variables)
    async with connect(server.base_url, bob.token) as socket:
        for query, variables in ((EVENTS_BY_PROJECT, {"p": film.project_id}), (EVENTS_BY_JOB, {"j": job["id"]})):
            op = await socket.subscribe(query, variables)
            assert await op.error_code() == "NOT_FOUND"
    assert (await bob.data(CURSOR, {"p": film.project_id}))["project"] is None


async def test_the_cursor_of_many_projects_costs_one_statement(make_client: Any, statements: Any) -> None:
    query = "{ viewer { projects { id jobEventsCursor } } }"
    counts = []
    for n in (1, 4):
        client = make_client()
        for k in range(n):
            await client.data('mutation($t: String!) { createProject(input: {title: $t}) { id } }', {"t": f"p{k}"})
        statements.take()
        projects = (await client.data(query))["viewer"]["projects"]
        counts.append(statements.take())
        assert len(projects) == n and len({p["jobEventsCursor"] for p in projects}) == 1
    assert counts[0] == counts[1], counts
