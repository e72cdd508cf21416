"""The served schema is exported to schema/schema.graphql and keeps every name of the contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema

from gql.schema import schema_sdl

REPO = Path(__file__).resolve().parents[1]
CONTRACT = REPO.parent / "shared" / "contract" / "schema.graphql"


def test_exported_schema_is_up_to_date() -> None:
    exported = (REPO / "schema" / "schema.graphql").read_text()
    assert exported == schema_sdl(), "run `continuity export-schema` and commit schema/schema.graphql"


def test_served_schema_keeps_every_contract_name() -> None:
    if not CONTRACT.exists():
        pytest.skip(f"no contract at {CONTRACT}")
    want, have = build_schema(CONTRACT.read_text()), build_schema(schema_sdl())
    gaps = []
    for name, wanted in want.type_map.items():
        if name.startswith("__"):
            continue
        got = have.type_map.get(name)
        if got is None:
            gaps.append(f"type {name}")
            continue
        for value in getattr(wanted, "values", {}) or {}:
            if value not in (getattr(got, "values", {}) or {}):
                gaps.append(f"{name}.{value}")
        for field_name, field in (getattr(wanted, "fields", {}) or {}).items():
            served = (getattr(got, "fields", {}) or {}).get(field_name)
            if served is None or str(served.type) != str(field.type):
                gaps.append(f"{name}.{field_name}")
                continue
            for arg, arg_def in (getattr(field, "args", {}) or {}).items():
                served_arg = served.args.get(arg)
                if served_arg is None or str(served_arg.type) != str(arg_def.type):
                    gaps.append(f"{name}.{field_name}({arg})")
    assert not gaps, gaps
