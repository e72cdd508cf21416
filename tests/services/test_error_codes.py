"""The error layer: a non-null relation that vanished between units of work is CONFLICT (a
concurrent delete), a non-null scalar that is null stays an internal error."""

from __future__ import annotations

from graphql import GraphQLError

from gql.errors import classify
from gql.schema import create_schema


def _null(field: str) -> GraphQLError:
    return GraphQLError(f"Cannot return null for non-nullable field {field}.", path=["x"],
                        original_error=TypeError(f"Cannot return null for non-nullable field {field}."))


def test_a_vanished_relation_is_a_conflict() -> None:
    schema = create_schema()._schema
    error = classify(_null("TransformationEvent.sceneAssetInstance"), schema)
    assert error.extensions == {"code": "CONFLICT"}
    assert "deleted by a concurrent request" in error.message


def test_a_null_scalar_stays_internal() -> None:
    schema = create_schema()._schema
    error = classify(_null("TransformationEvent.postDescription"), schema)
    assert error.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert "postDescription" not in error.message
