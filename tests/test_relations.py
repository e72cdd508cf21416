"""Every relation the loaders know has its read (services.db.reads) and its GraphQL type."""

from __future__ import annotations

from typing import get_args

import gql.schema  # noqa: F401  (imports every type module, which registers its relations)
from gql.relations import RelationName, ValueRelation, registered_names
from services.db import reads


def test_every_relation_has_one_read_and_object_relations_have_a_type() -> None:
    names, values = set(get_args(RelationName)), set(get_args(ValueRelation))
    assert names | values == set(reads._READS), set(reads._READS) ^ (names | values)
    assert registered_names() == names, registered_names() ^ names
