"""Plain columns need no hand-written entry: the table-backed types are built from their rows by
field name (`gql.rows`) and the planner reads the same fields from the same columns
(`gql.planner.catalog.plain_field`), both from the catalogue `services.db.tables`."""

from __future__ import annotations

import pytest
from graphql import GraphQLObjectType
from sqlalchemy import ARRAY

from gql.planner.catalog import FIELDS, TABLES, plain_field
from gql.relations import registered
from gql.schema import create_schema

SCHEMA = create_schema()._schema
BY_ID = {"Project": "project", "Branch": "branch", "Scene": "scene", "Shot": "shot", "ProjectAsset": "asset",
         "SceneAssetInstance": "instance", "ShotAssetAssignment": "assignment"}


def _object(name: str) -> GraphQLObjectType:
    gtype = SCHEMA.type_map[name]
    assert isinstance(gtype, GraphQLObjectType)
    return gtype


@pytest.mark.parametrize("type_name", sorted(TABLES))
def test_every_field_without_a_resolver_is_planned(type_name: str) -> None:
    """A field that is neither a relation nor computed is a column the planner writes itself; one
    it cannot (say a jsonb column) needs an entry in FIELDS rather than silently becoming a hole."""
    holes = []
    for name, field in _object(type_name).fields.items():
        definition = field.extensions["strawberry-definition"]
        if name in FIELDS[type_name] or definition.base_resolver is not None:
            continue
        if plain_field(type_name, field) is None:
            holes.append(name)
    assert holes == []


@pytest.mark.parametrize("type_name", sorted(BY_ID))
def test_a_row_of_the_table_builds_the_type(type_name: str) -> None:
    """Every field the type holds is a column of its table under the same name (a KeyError
    otherwise): a new column is one field on the type, not a line in `from_row` too."""
    row = {c.name: [c.name] if isinstance(c.type, ARRAY) else c.name for c in TABLES[type_name].c}
    built = registered(BY_ID[type_name]).build(row)
    planned = 0
    for field in _object(type_name).fields.values():
        column = plain_field(type_name, field)
        if column is not None:
            # The planner's column is the one the object holds under the field's name.
            python_name = field.extensions["strawberry-definition"].python_name
            assert python_name in column.sql
            assert getattr(built, python_name) == row[python_name]
            planned += 1
    assert planned >= 2


def test_fields_named_like_a_column_with_a_resolver_are_not_plain() -> None:
    shot = _object("Shot")
    assert plain_field("Shot", shot.fields["referenceImageOrder"]) is None
    assert plain_field("Scene", _object("Scene").fields["stageLocks"]) is None
    assert plain_field("Shot", shot.fields["setting"]) is not None


def test_enums_and_datetimes_are_written_as_graphql_writes_them() -> None:
    scene = _object("Scene")
    time_of_day = plain_field("Scene", scene.fields["timeOfDay"])
    updated_at = plain_field("Scene", scene.fields["updatedAt"])
    assert time_of_day is not None and time_of_day.sql == "upper({t}.time_of_day)"
    assert updated_at is not None and updated_at.sql.startswith("to_char({t}.updated_at at time zone 'UTC'")
