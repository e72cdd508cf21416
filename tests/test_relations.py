"""Every relation the loaders know has its read (services.<domain>.reads) and its GraphQL type."""

from __future__ import annotations

from typing import get_args

import gql.schema  # noqa: F401  (imports every type module, which registers its relations)
from gql.loaders import READS
from gql.relations import RelationName, ValueRelation, registered_names


def test_every_relation_has_one_read_and_object_relations_have_a_type() -> None:
    names, values = set(get_args(RelationName)), set(get_args(ValueRelation))
    assert names | values == set(READS), set(READS) ^ (names | values)
    assert registered_names() == names, registered_names() ^ names
