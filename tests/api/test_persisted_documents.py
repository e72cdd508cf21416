"""Automatic persisted queries and trusted documents over real HTTP and websockets."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import serving
from tests.support.subscriptions import connect

GRAPHQL_RESPONSE = "application/graphql-response+json"
VIEWER = "query Viewer { viewer { userId } }"
PROJECTS = "query Projects { viewer { projects { id } } }"
BAD_EVENTS = "subscription Events { imageJobEvents { cursor } }"


def digest(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def apq(document: str, with_query: bool = True, version: int = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": version, "sha256Hash": digest(document)}}}
    if with_query:
        body["query"] = document
    return body


def token_headers() -> dict[str, str]:
    from services.core.auth import issue_token
    from services.core.config import load_settings

    return {"Authorization": f"Bearer {issue_token(load_settings(), str(uuid.uuid4()))}"}


def code(response: httpx.Response) -> str:
    body = response.json()
    assert "data" not in body, body  # a request error
    return str(body["errors"][0]["extensions"]["code"])


async def test_apq_round_trip_by_post_and_get(http: httpx.AsyncClient) -> None:
    headers = token_headers()
    document = f"query Apq{uuid.uuid4().hex[:8]} {{ viewer {{ userId }} }}"
    unknown = await http.post("/graphql", json=apq(document, with_query=False), headers=headers)
    assert unknown.status_code == 200 and code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    strict = await http.post("/graphql", json=apq(document, with_query=False), headers={**headers, "Accept": GRAPHQL_RESPONSE})
    assert strict.status_code == 400 and code(strict) == "PERSISTED_QUERY_NOT_FOUND"
    registered = await http.post("/graphql", json=apq(document), headers=headers)
    assert registered.json()["data"]["viewer"]["userId"]
    by_hash = await http.post("/graphql", json=apq(document, with_query=False), headers=headers)
    assert by_hash.json() == registered.json()
    extensions = json.dumps(apq(document, with_query=False)["extensions"])
    by_get = await http.get("/graphql", params={"extensions": extensions}, headers=headers)
    assert by_get.status_code == 200 and by_get.json() == registered.json()


async def test_a_hash_that_is_not_its_querys_is_bad_request(http: httpx.AsyncClient) -> None:
    body = apq(VIEWER)
    body["extensions"]["persistedQuery"]["sha256Hash"] = digest(PROJECTS)
    for accept, status in (("application/json", 200), (GRAPHQL_RESPONSE, 400)):
        response = await http.post("/graphql", json=body, headers={"Accept": accept})
        assert response.status_code == status and code(response) == "BAD_REQUEST"
    for bad in (apq(VIEWER, version=2), {"query": VIEWER, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "xyz"}}}):
        assert code(await http.post("/graphql", json=bad)) == "BAD_REQUEST"
    # The mismatched pair was not remembered.
    assert code(await http.post("/graphql", json=apq(PROJECTS, with_query=False))) == "PERSISTED_QUERY_NOT_FOUND"


async def test_the_apq_cache_is_bounded(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTINUITY_PERSISTED_QUERY_CACHE_SIZE", "2")
    documents = [f"query Bounded{n} {{ __typename }}" for n in range(3)]
    async with serving(database_url, []) as state, httpx.AsyncClient(base_url=state.public_url) as http:
        for document in documents:
            assert (await http.post("/graphql", json=apq(document))).json()["data"]
        # The least recently used (the first) made room for the third.
        assert code(await http.post("/graphql", json=apq(documents[0], with_query=False))) == "PERSISTED_QUERY_NOT_FOUND"
        for document in documents[1:]:
            assert (await http.post("/graphql", json=apq(document, with_query=False))).json()["data"]


@pytest.fixture
async def trusted(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    manifest = tmp_path / "persisted-documents.json"
    # One file may mix both spellings of a key.
    manifest.write_text(json.dumps({f"sha256:{digest(VIEWER)}": VIEWER, digest(BAD_EVENTS): BAD_EVENTS}))
    monkeypatch.setenv("CONTINUITY_TRUSTED_DOCUMENTS", str(manifest))
    from continuity.background import job_events

    async with serving(database_url, [job_events]) as state:
        yield state


async def test_trusted_documents_run_by_id_by_hash_or_in_full(trusted: Any) -> None:
    headers = token_headers()
    async with httpx.AsyncClient(base_url=trusted.public_url) as http:
        answers = [
            await http.post("/graphql", json={"documentId": f"sha256:{digest(VIEWER)}"}, headers=headers),
            await http.post("/graphql", json={"documentId": digest(VIEWER)}, headers=headers),
            await http.post("/graphql", json=apq(VIEWER, with_query=False), headers=headers),
            await http.post("/graphql", json={"query": VIEWER}, headers=headers),
            await http.get("/graphql", params={"documentId": f"sha256:{digest(VIEWER)}"}, headers=headers),
        ]
        for answer in answers:
            assert answer.status_code == 200 and answer.json()["data"]["viewer"]["userId"], answer.text


async def test_any_other_document_is_refused_before_authentication_and_sql(trusted: Any) -> None:
    statements = trusted.db.statements
    async with httpx.AsyncClient(base_url=trusted.public_url) as http:
        statements.take()
        refused = [
            await http.post("/graphql", json={"query": PROJECTS}),  # no token: still not UNAUTHENTICATED
            await http.post("/graphql", json={"query": PROJECTS}, headers={"Authorization": "Bearer not-a-token"}),
            await http.post("/graphql", json=apq(PROJECTS)),  # APQ cannot add a document
            await http.post("/graphql", json=apq(PROJECTS, with_query=False)),
            await http.post("/graphql", json={"documentId": digest(PROJECTS)}),
            await http.post("/graphql", json={"documentId": "nonsense"}),
            await http.get("/graphql", params={"query": PROJECTS}),
        ]
        assert statements.take() == 0
        for response in refused:
            assert response.status_code == 200 and code(response) == "PERSISTED_QUERY_NOT_FOUND", response.text
        strict = await http.post("/graphql", json={"query": PROJECTS}, headers={"Accept": GRAPHQL_RESPONSE})
        assert strict.status_code == 400 and code(strict) == "PERSISTED_QUERY_NOT_FOUND"
        # GraphiQL is off: it would send its users' own documents.
        page = await http.get("/graphql", headers={"Accept": "text/html,*/*;q=0.8"})
        assert "text/html" not in page.headers["content-type"]


async def test_trusted_documents_hold_on_websockets(trusted: Any) -> None:
    token = token_headers()["Authorization"].removeprefix("Bearer ")
    async with connect(trusted.public_url, token) as socket:
        unknown = await socket.subscribe("subscription { imageJobUpdated(jobId: null) { id } }")
        assert await unknown.error_code() == "PERSISTED_QUERY_NOT_FOUND"
        # A listed document runs (and reaches its own argument check).
        op = await socket.subscribe("", None)
        op_by_id = await socket.subscribe_payload({"documentId": f"sha256:{digest(BAD_EVENTS)}"})
        assert await op_by_id.error_code() == "BAD_USER_INPUT"
        assert await op.error_code() == "PERSISTED_QUERY_NOT_FOUND"


def test_a_manifest_key_that_is_not_its_documents_hash_stops_the_start(tmp_path: Path) -> None:
    from gql.documents import load_manifest

    path = tmp_path / "bad.json"
    path.write_text(json.dumps({digest(PROJECTS): VIEWER}))
    with pytest.raises(ValueError, match="not the sha256"):
        load_manifest(path)
    path.write_text("[]")
    with pytest.raises(ValueError):
        load_manifest(path)
