"""Apollo Client's persisted-query link against the real server (docs/operations.md, Persisted
documents): the first request goes by hash and answers PERSISTED_QUERY_NOT_FOUND, the link
retries with the query, and the next run needs only the hash, over GET."""

from __future__ import annotations

from typing import Any

import pytest

from tests.clients.test_real_clients import node
from tests.support import Client

pytestmark = pytest.mark.clients


async def test_apollo_persisted_query_link_round_trip(server: Any, alice: Client) -> None:
    result = await node("apollo_apq.mjs", server.base_url, alice.token or "")
    assert result["answers"] == [alice.user_id] * 2, result
    first, retry, again = result["requests"]
    # Unknown hash (GET): the request error the link retries on; 400 because Apollo prefers
    # application/graphql-response+json.
    assert (first["method"], first["withQuery"], first["codes"], first["status"]) == (
        "GET", False, ["PERSISTED_QUERY_NOT_FOUND"], 400), result
    assert first["hash"] and retry["hash"] == first["hash"] == again["hash"], result
    assert retry["withQuery"] and retry["codes"] == [] and retry["status"] == 200, result
    # Remembered now: the hash alone, over GET.
    assert (again["method"], again["withQuery"], again["codes"], again["status"]) == ("GET", False, [], 200), result
