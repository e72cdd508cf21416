"""Tokens: missing (production mode), invalid, expired, wrong audience; __typename still works."""

from __future__ import annotations

import time
import uuid

import jwt

from tests.support import TEST_SECRET, Client

VIEWER = "{ viewer { userId } }"


async def test_a_valid_token_speaks_for_its_user(alice: Client) -> None:
    assert (await alice.data(VIEWER))["viewer"]["userId"] == alice.user_id


async def test_missing_token_outside_dev_mode_is_unauthenticated(anonymous: Client) -> None:
    body = await anonymous.post(VIEWER)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await anonymous.code('{ project(id: "00000000-0000-4000-8000-000000000001") { id } }')) == "UNAUTHENTICATED"
    assert (await anonymous.code('mutation { createProject(input: {title: "x"}) { id } }')) == "UNAUTHENTICATED"
    assert (await anonymous.data("{ __typename }")) == {"__typename": "Query"}


def _token(**claims: object) -> str:
    base: dict[str, object] = {"sub": str(uuid.uuid4()), "exp": int(time.time()) + 60, "aud": "authenticated"}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, TEST_SECRET, algorithm="HS256")


async def test_invalid_tokens_are_unauthenticated(anonymous: Client) -> None:
    bad = [
        "not-a-jwt",
        _token(exp=int(time.time()) - 10),  # expired
        jwt.encode({"sub": str(uuid.uuid4()), "exp": int(time.time()) + 60}, "another-secret-of-enough-length-0123456789", algorithm="HS256"),
        _token(sub="not-a-uuid"),
        _token(exp=None),  # no expiry
    ]
    for token in bad:
        client = Client(anonymous.http, token, None)
        assert await client.code(VIEWER) == "UNAUTHENTICATED", token
    raw = await anonymous.http.post("/graphql", json={"query": VIEWER}, headers={"Authorization": "Basic abc"})
    assert raw.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"




async def test_unauthenticated_outranks_malformed_input(anonymous: Client) -> None:
    query = "query($id: UUID!) { scene(id: $id) { id } }"
    body = await anonymous.post(query, {"id": "not-a-uuid"})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
