"""Property-based fuzzing of the served schema: whatever a client sends, the server answers
without an internal error or a 5xx, and never changes another user's data.

Two generators: hypothesis-graphql writes whole documents (queries and mutations, arguments as
literals); a variables fuzzer sends every mutation hostile JSON variables (NUL bytes, huge and
negative numbers, malformed UUIDs, long strings and lists, wrong types, other users' ids).
CI runs a small number of cases; set CONTINUITY_FUZZ_EXAMPLES for a longer run.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import graphql
import hypothesis_graphql as hg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes

from gql.schema import schema_sdl
from tests.support import Client
from tests.support.film import Film, new_film

EXAMPLES = int(os.environ.get("CONTINUITY_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("CONTINUITY_FUZZ_RANDOM") != "1",
)
SCHEMA = graphql.build_schema(schema_sdl())

SNAPSHOT = """
query($b: UUID!) {
  branch(id: $b) {
    name lockedVisualStyleCapsuleId
    assets { id name description imageKeyUrl locked version }
    scenes {
      id sceneNumber slug scriptExcerpt endStateSummary stageLocks { stage status }
      assetInstances { id descriptionOverride imageKeyUrl statusTags carryForward effectiveDescription modificationCount }
      shots { id shotLabel shotOrder durationSeconds framePrompt videoPrompt assetAssignments { id presenceType } }
    }
  }
}
"""


async def _film(client: Client) -> tuple[Film, list[str]]:
    film = await new_film(client, "Fuzz target")
    for name, kind in (("Mara", "CHARACTER"), ("Pier", "LOCATION"), ("Lamp", "PROP")):
        await film.asset(name, kind)
    await film.lock_assets()
    await film.lock_style()
    ids = [film.project_id, film.branch_id, *film.assets.values()]
    for n in (1, 2):
        ids.append(await film.scene(n))
        ids.append(await film.shot(n, f"{n}A", 1))
        data = await client.data("mutation($s: UUID!) { inheritSceneAssets(sceneId: $s) { instances { id } } }",
                                 {"s": film.scenes[n]})
        ids += [i["id"] for i in data["inheritSceneAssets"]["instances"]]
    return film, ids


@pytest.fixture(scope="module")
async def targets(make_client: Any) -> dict[str, Any]:
    alice, bob = make_client(), make_client()
    alice_film, alice_ids = await _film(alice)
    bob_film, bob_ids = await _film(bob)
    before = await bob.data(SNAPSHOT, {"b": bob_film.branch_id})
    return {"alice": alice, "bob": bob, "bob_branch": bob_film.branch_id, "before": before,
            "ids": alice_ids + bob_ids, "alice_film": alice_film}


def _assert_no_internal_error(status: int, body: dict[str, Any], sent: Any, outcomes: Counter[str]) -> None:
    assert status < 500, (status, sent)
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
    outcomes.update(codes or ["ok"])
    assert "INTERNAL_SERVER_ERROR" not in codes, (body, sent)
    assert all(codes), (body, sent)  # every error carries a code


async def _post(client: Client, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.http.post("/graphql", content=json.dumps(payload), headers={
        **client.headers(), "Content-Type": "application/json"})
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, body


def _uuid_values(ids: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(ids), st.uuids().map(str),
                     st.sampled_from(["", "nope", "00000000-0000-0000-0000-000000000000", "x" * 100, "'; drop table projects; --"]))


HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "nul\x00byte", "x" * 201, "y" * 10_001, "ß" * 65, "\u202e\u0000",
                     "https://", "javascript:alert(1)", "http://127.0.0.1/a.png", "https://cdn.example/" + "a" * 2100]),
)
HOSTILE_INT = st.one_of(st.integers(-5, 50), st.sampled_from([0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**53, 10**30]))


def _value_for(type_: graphql.GraphQLInputType, ids: list[str], depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON for a variable of this type: mostly plausible, often hostile, sometimes the wrong type."""
    wrong = st.sampled_from([None, 7, "seven", [], {}, True, 1.5])
    if isinstance(type_, graphql.GraphQLNonNull):
        return st.one_of(_value_for(type_.of_type, ids, depth), st.just(None).filter(lambda _: depth == 0) | wrong)
    if isinstance(type_, graphql.GraphQLList):
        inner = _value_for(type_.of_type, ids, depth + 1)
        return st.one_of(st.lists(inner, max_size=5), st.just([]), wrong,
                         st.integers(1001, 1002).flatmap(lambda n: st.lists(inner, min_size=n, max_size=n)) if depth == 0 else st.just([]))
    if isinstance(type_, graphql.GraphQLInputObjectType):
        fields = {name: _value_for(field.type, ids, depth + 1) for name, field in type_.fields.items()}
        return st.one_of(st.fixed_dictionaries({}, optional=fields), wrong)
    if isinstance(type_, graphql.GraphQLEnumType):
        return st.one_of(st.sampled_from(list(type_.values)), st.sampled_from(["throughout", "NOPE", ""]))
    name = getattr(type_, "name", "")
    if name == "UUID":
        return _uuid_values(ids)
    if name == "Int":
        return HOSTILE_INT
    if name == "Boolean":
        return st.one_of(st.booleans(), wrong)
    if name == "DateTime":
        return st.one_of(st.datetimes().map(lambda d: d.isoformat()), st.sampled_from(["", "yesterday", "2026-13-45T99:99:99"]))
    return HOSTILE_TEXT


def _document(field_name: str, field: graphql.GraphQLField, root: str) -> str:
    variables = ", ".join(f"${a}: {arg.type}" for a, arg in field.args.items())
    arguments = ", ".join(f"{a}: ${a}" for a in field.args)
    head = f"{root}({variables})" if variables else root
    call = f"{field_name}({arguments})" if arguments else field_name
    return f"{head} {{ {call} {{ __typename }} }}"


MUTATIONS = sorted(SCHEMA.mutation_type.fields.items()) if SCHEMA.mutation_type else []


def _drawn(draw_one: Any) -> list[dict[str, Any]]:
    """The payloads hypothesis draws with `draw_one(data)`, as many as FUZZ allows: drawn up
    front (deterministically unless CONTINUITY_FUZZ_RANDOM=1) so that one test can send them all
    and then check what must hold after all of them."""
    payloads: list[dict[str, Any]] = []

    @FUZZ
    @given(data=st.data())
    def collect(data: st.DataObject) -> None:
        payloads.append(draw_one(data))

    collect()
    return payloads


def _hostile_mutation(ids: list[str]) -> Any:
    def draw_one(data: st.DataObject) -> dict[str, Any]:
        name, field = data.draw(st.sampled_from(MUTATIONS), label="mutation")
        variables = data.draw(st.fixed_dictionaries({a: _value_for(arg.type, ids) for a, arg in field.args.items()}),
                              label="variables")
        return {"query": _document(name, field, "mutation"), "variables": variables}

    return draw_one


def _generated_document(ids: list[str]) -> Any:
    strategy = hg.from_schema(
        SCHEMA,
        custom_scalars={"UUID": _uuid_values(ids).map(nodes.String),
                        "DateTime": st.datetimes().map(lambda d: nodes.String(d.isoformat()))},
    )

    def draw_one(data: st.DataObject) -> dict[str, Any]:
        return {"query": data.draw(strategy, label="document")}

    return draw_one


async def _send_all(client: Client, payloads: list[dict[str, Any]]) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for payload in payloads:
        status, body = await _post(client, payload)
        _assert_no_internal_error(status, body, payload, outcomes)
    return outcomes


async def test_mutations_with_hostile_variables_never_fail_internally_nor_touch_bobs_film(
    targets: dict[str, Any],
) -> None:
    outcomes = await _send_all(targets["alice"], _drawn(_hostile_mutation(targets["ids"])))
    # Alice's variables carry Bob's ids throughout.
    assert await targets["bob"].data(SNAPSHOT, {"b": targets["bob_branch"]}) == targets["before"]
    print(f"fuzz outcomes: {dict(outcomes)}")
    # Not vacuous: cases got past validation into the resolvers, and some succeeded.
    assert outcomes["NOT_FOUND"] > 0 and outcomes["BAD_USER_INPUT"] > 0, outcomes


async def test_generated_documents_never_fail_internally_nor_touch_bobs_film(targets: dict[str, Any]) -> None:
    outcomes = await _send_all(targets["alice"], _drawn(_generated_document(targets["ids"])))
    assert await targets["bob"].data(SNAPSHOT, {"b": targets["bob_branch"]}) == targets["before"]
    print(f"fuzz outcomes: {dict(outcomes)}")
    assert outcomes["ok"] > 0, outcomes


def test_the_fuzzer_reaches_every_mutation() -> None:
    assert len(MUTATIONS) >= 13
    scalars: set[str] = set()

    def visit(type_: graphql.GraphQLInputType) -> None:
        named = graphql.get_named_type(type_)
        if isinstance(named, graphql.GraphQLInputObjectType):
            if named.name not in seen:
                seen.add(named.name)
                for field in named.fields.values():
                    visit(field.type)
        elif isinstance(named, graphql.GraphQLScalarType):
            scalars.add(named.name)

    seen: set[str] = set()
    for name, field in MUTATIONS:
        graphql.parse(_document(name, field, "mutation"))
        for arg in field.args.values():
            visit(arg.type)
    # Every scalar an argument can have gets its own generator in _value_for; an unknown one
    # would silently be fuzzed with text only.
    assert "UUID" in scalars and scalars <= {"UUID", "Int", "Boolean", "DateTime", "String"}, scalars


def _object_steps(parent: Any) -> list[tuple[str, graphql.GraphQLField]]:
    """Fields leading to another object whose required arguments are all UUIDs (given as literals)."""
    return [
        (name, field) for name, field in sorted(parent.fields.items())
        if isinstance(graphql.get_named_type(field.type), graphql.GraphQLObjectType)
        and all(graphql.get_named_type(arg.type).name == "UUID"
                for arg in field.args.values() if isinstance(arg.type, graphql.GraphQLNonNull))
    ]


def _endless_types() -> set[str]:
    """Object types from which a path of object fields goes on forever (through a cycle)."""
    live = {name for name, t in SCHEMA.type_map.items() if isinstance(t, graphql.GraphQLObjectType)}
    while True:
        keep = {name for name in live
                if any(graphql.get_named_type(f.type).name in live for _, f in _object_steps(SCHEMA.type_map[name]))}
        if keep == live:
            return live
        live = keep


ENDLESS = _endless_types()


def _object_fields(parent: Any) -> list[tuple[str, graphql.GraphQLField]]:
    return [(n, f) for n, f in _object_steps(parent) if graphql.get_named_type(f.type).name in ENDLESS]


@st.composite
def _nested_documents(draw: Any, ids: list[str]) -> str:
    """A query nested past the depth limit (16 to 60 levels) along a random path of object
    fields, lists multiplying the cost level by level."""
    levels = draw(st.integers(16, 60), label="levels")
    parent: graphql.GraphQLObjectType = SCHEMA.query_type  # type: ignore[assignment]
    opened: list[str] = []
    for _ in range(levels):
        name, field = draw(st.sampled_from(_object_fields(parent)))
        required = [a for a, arg in field.args.items() if isinstance(arg.type, graphql.GraphQLNonNull)]
        arguments = ", ".join(f'{a}: "{draw(st.sampled_from(ids))}"' for a in required)
        opened.append(f"{name}({arguments})" if arguments else name)
        parent = graphql.get_named_type(field.type)  # type: ignore[assignment]
    return "{ " + " { ".join(opened) + " { __typename" + " }" * levels + " }"


async def test_documents_nested_past_the_depth_limit_are_refused_with_a_code(targets: dict[str, Any]) -> None:
    nested = _nested_documents(targets["ids"])
    payloads = _drawn(lambda data: {"query": data.draw(nested, label="document")})
    outcomes: Counter[str] = Counter()
    for payload in payloads:
        status, body = await _post(targets["alice"], payload)
        _assert_no_internal_error(status, body, payload, outcomes)
        assert "QUERY_TOO_DEEP" in {e["extensions"]["code"] for e in body["errors"]}, body
        for error in body["errors"]:
            # Plain JSON integers, whatever the cost model computed.
            assert all(not isinstance(v, int) or abs(v) < 2**53 for v in error["extensions"].values()), error
    assert outcomes["QUERY_TOO_DEEP"] == len(payloads) > 0, outcomes
