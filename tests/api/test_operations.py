"""Metrics, request ids and logs, on real servers (docs/operations.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from services.images.events import asyncpg_dsn
from tests.api.test_image_jobs import generate, wait_completed
from tests.support import REPO, Client, free_port, serving
from tests.support.film import film_with_instances
from tests.support.subscriptions import PROTOCOL, WAIT


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def scrape(http: httpx.AsyncClient, url: str = "/metrics") -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await http.get(url)  # never behind a token
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def value(figures: dict[Any, float], name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_move_with_requests_and_jobs(alice: Client, server: Any, http: httpx.AsyncClient) -> None:
    before = await scrape(http)
    film, instances = await film_with_instances(alice)
    for _ in range(3):
        await alice.data("query Ping { viewer { userId } }")
    await alice.post("query Missing($id: UUID!) { project(id: $id) { id } }", {"id": str(uuid.uuid4())})
    assert await alice.code("mutation Gone { cancelImageJob(id: \"00000000-0000-4000-8000-00000000dead\") { id } }") == "NOT_FOUND"
    job = await wait_completed(alice, server, (await generate(alice, instances["Mara"]))["id"])
    assert job["status"] == "COMPLETED"
    after = await scrape(http)
    assert value(after, "continuity_requests_total", operation="Ping", outcome="ok") - \
        value(before, "continuity_requests_total", operation="Ping", outcome="ok") == 3
    assert value(after, "continuity_requests_total", operation="Gone", outcome="NOT_FOUND") >= 1
    assert value(after, "continuity_request_duration_seconds_count") - value(before, "continuity_request_duration_seconds_count") >= 5
    assert value(after, "continuity_request_sql_statements_count") > value(before, "continuity_request_sql_statements_count")
    assert value(after, "continuity_request_sql_statements_sum") > value(before, "continuity_request_sql_statements_sum")
    assert value(after, "continuity_requests_by_path_total", path="planned") > value(before, "continuity_requests_by_path_total", path="planned")
    assert value(after, "continuity_requests_by_path_total", path="loaders") > value(before, "continuity_requests_by_path_total", path="loaders")
    assert value(after, "continuity_image_job_duration_seconds_count", job_type="scene_asset", outcome="completed") >= 1
    assert value(after, "continuity_db_pool_size") == server.settings.pool_size + server.settings.max_overflow
    assert 0 <= value(after, "continuity_db_pool_in_use") <= value(after, "continuity_db_pool_size")
    assert ("continuity_image_jobs", (("status", "queued"),)) in after
    assert ("continuity_image_jobs", (("status", "processing"),)) in after
    assert ("continuity_listener_reconnects_total", ()) in after
    assert ("continuity_websocket_connections", ()) in after and ("continuity_subscriptions", ()) in after
    assert film.project_id


async def test_websocket_connections_and_subscriptions_are_gauged(alice: Client, server: Any, http: httpx.AsyncClient) -> None:
    from tests.support.subscriptions import EVENTS_BY_PROJECT, connect

    film, _ = await film_with_instances(alice)
    base = await scrape(http)
    async with connect(server.base_url, alice.token) as socket:
        await socket.subscribe(EVENTS_BY_PROJECT, {"p": film.project_id})

        def gauged(figures: dict[Any, float]) -> bool:
            return value(figures, "continuity_websocket_connections") >= value(base, "continuity_websocket_connections") + 1 \
                and value(figures, "continuity_subscriptions") >= value(base, "continuity_subscriptions") + 1

        # The subscription starts on the server a moment after it is sent: scrape until it shows.
        deadline = asyncio.get_running_loop().time() + WAIT
        during = await scrape(http)
        while not gauged(during) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
            during = await scrape(http)
    assert gauged(during), during


async def test_operation_names_are_capped_at_a_hundred(database_url: str) -> None:
    # A server of its own: once the session server's 100 names are taken, every later test's
    # operation names would be counted as "other".
    async with serving(database_url, []) as state, httpx.AsyncClient(base_url=state.public_url) as http:
        for n in range(105):
            response = await http.post("/graphql", json={"query": f"query Name{n}_{uuid.uuid4().hex[:6]} {{ __typename }}"})
            assert response.status_code == 200, response.text
        figures = await scrape(http)
    names = {dict(labels)["operation"] for (name, labels) in figures if name == "continuity_requests_total"}
    # A fresh server: the first hundred names are kept, the last five counted as "other".
    assert len(names - {"other"}) == 100 and "other" in names


async def test_metrics_can_be_off_or_on_their_own_port(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTINUITY_METRICS", "0")
    async with serving(database_url, []) as state, httpx.AsyncClient(base_url=state.public_url) as http:
        assert (await http.get("/metrics")).status_code == 404
    monkeypatch.delenv("CONTINUITY_METRICS")
    port = free_port()
    monkeypatch.setenv("CONTINUITY_METRICS_PORT", str(port))
    async with serving(database_url, []) as state, httpx.AsyncClient(base_url=state.public_url) as http:
        assert (await http.get("/metrics")).status_code == 404  # only on its own port
        figures = await scrape(http, f"http://127.0.0.1:{port}/metrics")
        assert ("continuity_db_pool_size", ()) in figures


async def test_request_ids_are_kept_or_made_and_returned_with_every_error(alice: Client, http: httpx.AsyncClient) -> None:
    ok = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "trace-1/abc:XYZ"})
    assert ok.headers["x-request-id"] == "trace-1/abc:XYZ"
    for bad in ("", "has space", "x" * 201, "caf\u00e9"):
        response = await http.post("/graphql", json={"query": "{ __typename }"},
                                   headers={"X-Request-Id": bad.encode("utf-8")})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"]), bad
    assert (await http.post("/graphql", json={"query": "{ __typename }"})).headers["x-request-id"] != \
        (await http.post("/graphql", json={"query": "{ __typename }"})).headers["x-request-id"]
    given = "x" * 200
    headers = {**alice.headers(), "X-Request-Id": given}
    # A field error, a request error, a refusal before GraphQL: each error carries the id.
    field = await http.post("/graphql", json={"query": "mutation { cancelImageJob(id: \"00000000-0000-4000-8000-00000000dead\") { id } }"},
                            headers=headers)
    parse = await http.post("/graphql", json={"query": "{"}, headers=headers)
    refused = await http.post("/graphql", content=b"{}", headers={**headers, "Content-Type": "text/plain"})
    for response in (field, parse, refused):
        assert response.headers["x-request-id"] == given
        errors = response.json()["errors"]
        assert errors and all(e["extensions"]["requestId"] == given for e in errors), response.text


async def test_a_websocket_keeps_its_upgrades_request_id(
    alice: Client, server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="continuity.requests")
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=[PROTOCOL], additional_headers={"X-Request-Id": "ws-upgrade-7"}) as ws:  # type: ignore[list-item]
        assert ws.response.headers["x-request-id"] == "ws-upgrade-7"
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {alice.token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for n, query in enumerate(("subscription { imageJobEvents { cursor } }", "subscription { nope }")):
            await ws.send(json.dumps({"id": str(n), "type": "subscribe", "payload": {"query": query}}))
            message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
            while message.get("id") != str(n) or message["type"] not in ("error", "next"):
                message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
            errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
            assert [e["extensions"]["requestId"] for e in errors] == ["ws-upgrade-7"] * len(errors), message
    # One log line per operation, with the upgrade's id, the user and the codes answered.
    async def logged() -> list[Any]:
        while len(lines := [r for r in caplog.records if getattr(r, "request_id", None) == "ws-upgrade-7"]) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return lines

    lines = await asyncio.wait_for(logged(), WAIT)
    assert {r.transport for r in lines} == {"websocket"}  # type: ignore[attr-defined]
    assert sorted(tuple(r.error_codes) for r in lines) == [("BAD_USER_INPUT",), ("GRAPHQL_VALIDATION_FAILED",)]  # type: ignore[attr-defined]
    assert {r.user_id for r in lines} == {alice.user_id}  # type: ignore[attr-defined]


@pytest.mark.slow  # a real `continuity serve` process
async def test_json_logs_carry_request_ids_and_never_tokens_or_values(database_url: str, tmp_path: Path) -> None:
    from services.core.auth import issue_token
    from services.core.config import load_settings

    dsn = asyncpg_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    # A statement that fails inside the database, for a reason the server does not expect.
    await conn.execute(
        "create or replace function test_explode() returns trigger language plpgsql as $$ begin "
        "if new.title like 'explode%' then raise exception 'refused by a test trigger'; end if; return new; end $$; "
        "create trigger test_explode before insert on projects for each row execute function test_explode()")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTINUITY_") or k == "CONTINUITY_JWT_SECRET"}
    env.update(PYTHONPATH=str(REPO / "src"), DATABASE_URL=database_url, CONTINUITY_LOG_FORMAT="json",
               CONTINUITY_DATA_DIR=str(tmp_path / "data"), CONTINUITY_MEDIA_DIR=str(tmp_path / "media"),
               CONTINUITY_DEV_AUTH="0")
    log_path = tmp_path / "server.log"  # the logs (stderr); stdout has the start banner only
    with log_path.open("wb") as log_file, (tmp_path / "banner.txt").open("wb") as banner:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "continuity", "serve", "--no-worker", "--port", str(port), env=env, cwd=REPO,
            stdout=banner, stderr=log_file)
        user = str(uuid.uuid4())
        token = issue_token(load_settings(), user)
        secret = f"sekrit-{uuid.uuid4().hex}"
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=WAIT) as http:
                async def ready() -> None:
                    while True:
                        try:
                            if (await http.get("/readyz")).status_code == 200:
                                return
                        except httpx.TransportError:
                            pass
                        await asyncio.sleep(0.05)

                await asyncio.wait_for(ready(), WAIT)
                auth = {"Authorization": f"Bearer {token}"}
                made = await http.post("/graphql", headers={**auth, "X-Request-Id": "req-made"}, json={
                    "query": "mutation Make($t: String!) { createProject(input: {title: $t}) { id } }",
                    "variables": {"t": secret}, "operationName": "Make"})
                assert "errors" not in made.json()
                failed = await http.post("/graphql", headers={**auth, "X-Request-Id": "req-failed"}, json={
                    "query": "mutation Explode($t: String!) { createProject(input: {title: $t}) { id } }",
                    "variables": {"t": f"explode {secret}"}})
                assert failed.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
                read = await http.get("/graphql", headers=auth, params={
                    "query": "query Read($id: UUID!) { project(id: $id) { title } }",
                    "variables": json.dumps({"id": made.json()["data"]["createProject"]["id"], "unused": secret})})
                assert read.json()["data"]["project"]["title"] == secret
                await http.post("/graphql", headers={"Authorization": f"Bearer {token}x"}, json={"query": "{ viewer { userId } }"})
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), WAIT)
            await conn.execute("drop trigger test_explode on projects; drop function test_explode()")
            await conn.close()
    text = log_path.read_text()
    assert token not in text and token.split(".")[2] not in text
    assert secret not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert len(lines) == len([line for line in text.splitlines() if line.strip()]), text  # every line is JSON
    requests = {line.get("request_id"): line for line in lines if line["logger"] == "continuity.requests"}
    made_line = requests["req-made"]
    assert made_line["operation"] == "Make" and made_line["user_id"] == user and made_line["error_codes"] == []
    assert made_line["statements"] >= 2 and made_line["duration_ms"] > 0
    assert requests["req-failed"]["error_codes"] == ["INTERNAL_SERVER_ERROR"]
    assert requests["req-failed"]["operation"] == "Explode"
    # The failing statement was logged, with its traceback and SQL, for that request: no values.
    failure = [line for line in lines if line.get("request_id") == "req-failed" and "exception" in line]
    assert failure and "refused by a test trigger" in failure[0]["exception"]
    assert "SQL parameters hidden" in failure[0]["exception"]
    assert any(line.get("error_codes") == ["UNAUTHENTICATED"] for line in lines)
