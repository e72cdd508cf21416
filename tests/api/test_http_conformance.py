"""GraphQL over HTTP (the graphql-over-http specification), each case over real HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support import Client

GQL = "application/graphql-response+json"
JSON = "application/json"
TYPENAME = {"query": "{ __typename }"}
# 19 levels of fields: deeper than the default limit of 15.
DEEP = "{ viewer { projects { " + "branches { project { " * 8 + "id" + " } }" * 8 + " } } }"


def codes(response: httpx.Response) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in response.json().get("errors", [])]


async def post(
    http: httpx.AsyncClient, body: Any, accept: str | None = None, *,
    content_type: str | None = JSON, raw: bytes | None = None, token: str | None = None,
) -> httpx.Response:
    headers = {}
    if accept is not None:
        headers["accept"] = accept
    if content_type is not None:
        headers["content-type"] = content_type
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    content = raw if raw is not None else json.dumps(body).encode()
    return await http.post("/graphql", content=content, headers=headers)


# --- media types and Accept negotiation -------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, JSON),
        (JSON, JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (GQL, GQL),
        (f"{GQL}, {JSON};q=0.9", GQL),
        (f"{JSON};q=0.5, {GQL}", GQL),
        (f"{JSON}, {GQL}", JSON),
        (f"text/html, {JSON};q=0.1", JSON),
        (f"{GQL}; charset=utf-8", GQL),
    ],
)
async def test_the_response_media_type_follows_the_accept_header(
    http: httpx.AsyncClient, accept: str | None, media: str
) -> None:
    response = await post(http, TYPENAME, accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{media}; charset=utf-8"
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("accept", ["text/html", "application/xml, text/plain", f"{GQL};q=0"])
async def test_an_accept_header_allowing_no_graphql_media_type_is_406(
    http: httpx.AsyncClient, accept: str
) -> None:
    response = await post(http, TYPENAME, accept)
    assert response.status_code == 406
    assert codes(response) == ["NOT_ACCEPTABLE"]
    assert "data" not in response.json()


async def test_a_request_in_utf8_is_answered_in_utf8(http: httpx.AsyncClient) -> None:
    response = await post(
        http, {"query": '{ __type(name: "Run🏃Swim🏊") { name } }'}, content_type=f"{JSON}; charset=utf-8"
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"__type": None}}
    response.content.decode("utf-8")


# --- POST --------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/graphql", f"{JSON}; charset=latin-1"])
async def test_a_post_that_is_not_json_is_415(http: httpx.AsyncClient, content_type: str | None) -> None:
    response = await post(http, TYPENAME, content_type=content_type)
    assert response.status_code == 415
    assert codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]


@pytest.mark.parametrize("accept", [JSON, GQL])
@pytest.mark.parametrize(
    "raw",
    [b"", b"   ", b'{ "not a JSON', b"\xff\xfe{}", b"[" * 100_000, b'"a string"', b"42"],
    ids=["empty", "blank", "truncated", "not-utf8", "nested-too-deep", "string", "number"],
)
async def test_an_unparseable_body_is_400_whatever_the_media_type(
    http: httpx.AsyncClient, accept: str, raw: bytes
) -> None:
    response = await post(http, None, accept, raw=raw)
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]
    assert response.headers["content-type"] == f"{accept}; charset=utf-8"


@pytest.mark.parametrize("accept", [JSON, GQL])
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"qeury": "{ __typename }"},
        {"query": None},
        {"query": ""},
        {"query": {"obj": "ect"}},
        {"query": 0},
        {"query": False},
        {"query": ["array"]},
        {"query": "{ __typename }", "variables": "string"},
        {"query": "{ __typename }", "variables": ["array"]},
        {"query": "{ __typename }", "variables": 0},
        {"query": "{ __typename }", "operationName": 7},
        {"query": "{ __typename }", "operationName": {"obj": "ect"}},
        {"query": "{ __typename }", "extensions": "string"},
        {"query": "{ __typename }", "extensions": False},
        [{"query": "{ __typename }"}, {"query": "{ __typename }"}],
    ],
)
async def test_a_malformed_graphql_request_is_400_whatever_the_media_type(
    http: httpx.AsyncClient, accept: str, body: Any
) -> None:
    response = await post(http, body, accept)
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]
    assert "data" not in response.json()


@pytest.mark.parametrize("accept", [JSON, GQL])
@pytest.mark.parametrize("key", ["variables", "operationName", "extensions"])
async def test_null_optional_parameters_are_accepted(
    http: httpx.AsyncClient, accept: str, key: str
) -> None:
    response = await post(http, {**TYPENAME, key: None}, accept)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_an_extensions_map_is_accepted(http: httpx.AsyncClient) -> None:
    response = await post(http, {**TYPENAME, "extensions": {"some": "value"}}, GQL)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


# --- GraphQL request errors: 200 in application/json, 400 in graphql-response+json --------------


REQUEST_ERRORS = [
    ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
    ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
    (
        {"query": "query($id: UUID!) { scene(id: $id) { id } }", "variables": {"id": "not-a-uuid"}},
        "BAD_USER_INPUT",
    ),
    ({"query": "query($n: Int!) { __typename }", "variables": {"n": "seven"}}, "BAD_USER_INPUT"),
    ({"query": "query($n: Int!) { __typename }", "variables": {}}, "BAD_USER_INPUT"),
    ({"query": "query A { __typename } query B { __typename }"}, "OPERATION_RESOLUTION_FAILURE"),
    ({"query": "query A { __typename }", "operationName": "B"}, "OPERATION_RESOLUTION_FAILURE"),
    ({"query": "subscription { __typename }"}, "BAD_REQUEST"),
    ({"query": DEEP}, "QUERY_TOO_DEEP"),
]


@pytest.mark.parametrize(("body", "code"), REQUEST_ERRORS)
async def test_a_request_error_in_application_json_is_200_without_data(
    http: httpx.AsyncClient, alice: Client, body: dict[str, Any], code: str
) -> None:
    response = await post(http, body, JSON, token=alice.token)
    assert response.status_code == 200
    assert code in codes(response)
    assert "data" not in response.json()


@pytest.mark.parametrize(("body", "code"), REQUEST_ERRORS)
async def test_a_request_error_in_graphql_response_json_is_400_without_data(
    http: httpx.AsyncClient, alice: Client, body: dict[str, Any], code: str
) -> None:
    response = await post(http, body, GQL, token=alice.token)
    assert response.status_code == 400
    assert code in codes(response)
    assert "data" not in response.json()


async def test_a_field_error_keeps_data_and_200_in_graphql_response_json(
    http: httpx.AsyncClient, alice: Client
) -> None:
    missing = "00000000-0000-4000-8000-00000000abcd"
    query = "mutation($id: UUID!) { setSceneStageStatus(sceneId: $id, stage: 9, status: LOCKED) { id } }"
    response = await post(http, {"query": query, "variables": {"id": missing}}, GQL, token=alice.token)
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert codes(response) == ["NOT_FOUND"]


async def test_unauthenticated_fields_are_field_errors(http: httpx.AsyncClient) -> None:
    response = await post(http, {"query": "{ __typename viewer { userId } }"}, GQL)
    assert response.status_code == 200
    assert codes(response) == ["UNAUTHENTICATED"]


# --- GET -----------------------------------------------------------------------------------------


async def test_get_runs_queries_with_json_encoded_variables(
    http: httpx.AsyncClient, alice: Client
) -> None:
    for accept in (JSON, GQL, None):
        response = await http.get(
            "/graphql",
            params={
                "query": "query Type($name: String!) { __type(name: $name) { name } }",
                "variables": json.dumps({"name": "Scene"}),
                "operationName": "Type",
            },
            headers={"accept": accept} if accept else {},
        )
        assert response.status_code == 200
        assert response.json() == {"data": {"__type": {"name": "Scene"}}}
    response = await http.get(
        "/graphql", params={"query": "{ viewer { userId } }"}, headers=alice.headers()
    )
    assert response.json() == {"data": {"viewer": {"userId": alice.user_id}}}


@pytest.mark.parametrize("accept", [JSON, GQL])
async def test_a_mutation_over_get_is_405_and_changes_nothing(
    http: httpx.AsyncClient, alice: Client, accept: str, statements: Any
) -> None:
    statements.take()
    response = await http.get(
        "/graphql",
        params={"query": 'mutation { createProject(input: {title: "via GET"}) { id } }'},
        headers={"accept": accept, **alice.headers()},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert codes(response) == ["METHOD_NOT_ALLOWED"]
    assert statements.take() == 0
    projects = await alice.data("{ viewer { projects { title } } }")
    assert projects["viewer"]["projects"] == []


async def test_get_with_bad_json_variables_is_400(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", params={"query": "{ __typename }", "variables": "{oops"})
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


async def test_get_without_a_query_is_400_unless_a_browser_asks_for_graphiql(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/graphql", headers={"accept": JSON})
    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]
    page = await http.get("/graphql", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "graphiql" in page.text.lower()


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
async def test_other_methods_are_405(http: httpx.AsyncClient, method: str) -> None:
    response = await http.request(method, "/graphql", json=TYPENAME)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    if method != "HEAD":
        assert codes(response) == ["METHOD_NOT_ALLOWED"]


# --- body size ----------------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_413(http: httpx.AsyncClient, server: Any) -> None:
    limit = server.settings.max_body_bytes
    padding = " " * limit
    response = await post(http, None, GQL, raw=b'{"query": "{ __typename }"' + padding.encode() + b"}")
    assert response.status_code == 413
    assert codes(response) == ["PAYLOAD_TOO_LARGE"]
    assert response.json()["errors"][0]["extensions"]["maxBodyBytes"] == limit
    # Just under the limit is an ordinary request.
    body = b'{"query": "{ __typename }"' + b" " * (limit - 40) + b"}"
    assert len(body) <= limit
    response = await post(http, None, GQL, raw=body)
    assert response.status_code == 200


async def _raw_request(server: Any, head: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = urlsplit(server.base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(head)
    await writer.drain()
    return reader, writer


async def test_a_declared_oversized_body_is_refused_before_it_is_sent(server: Any) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 104857600\r\n\r\n"
    )
    reader, writer = await _raw_request(server, head)
    try:
        # No byte of the 100 MiB body is sent: the answer cannot be waiting for it.
        status = await asyncio.wait_for(reader.readline(), timeout=30)
        assert status.startswith(b"HTTP/1.1 413"), status
    finally:
        writer.close()


async def _stream_past_the_limit(server: Any) -> tuple[bytes, int] | None:
    """Streams a chunked body far over the limit while reading the answer: its status line and
    how much was sent by the time the server stopped reading; None when the connection was reset
    before the status line could be read (the server closes with the client's bytes unread, and
    TCP may then drop the 413 it had sent: the reset race of closing mid-body)."""
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    reader, writer = await _raw_request(server, head)
    chunk = b" " * 65536
    total = 256 * 1024 * 1024
    sent = 0

    async def stream() -> None:
        nonlocal sent
        start = b'{"query": "{ __typename }", "padding": "'
        writer.write(b"%x\r\n%s\r\n" % (len(start), start))
        with pytest.raises((ConnectionError, OSError)):
            while sent < total:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                sent += len(chunk)
            raise ConnectionError("the server read the whole body")

    writing = asyncio.create_task(stream())
    try:
        try:
            status = await asyncio.wait_for(reader.readline(), timeout=60)
        except ConnectionResetError:
            return None
        await asyncio.wait_for(writing, timeout=60)
        return status, sent
    finally:
        writing.cancel()
        writer.close()


async def test_a_streamed_body_is_refused_while_it_streams(server: Any) -> None:
    for _ in range(3):
        if (answer := await _stream_past_the_limit(server)) is not None:
            break
    else:
        pytest.fail("the connection was reset before the status line three times")
    status, sent = answer
    assert status.startswith(b"HTTP/1.1 413"), status
    # The server stopped reading near the limit; kernel buffers take a few MiB more.
    assert sent < 64 * 1024 * 1024, sent
