"""GraphQL objects built from the services' rows by field name.

A type's fields without a resolver (public or `strawberry.Private`) are named like the columns
they hold, so `from_columns` copies each from the row's column of the same name and a new
column needs only its field on the type. The planner relies on the same naming: it answers
such a field from the column itself (`gql.planner.catalog.plain_field`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

_FIELDS: dict[type[Any], tuple[str, ...]] = {}


def _fields(cls: type[Any]) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        # Fields with a resolver are dataclass fields too, but not constructor arguments.
        names = tuple(f.name for f in dataclasses.fields(cls) if f.init)
        _FIELDS[cls] = names
    return names


def from_columns(cls: type[T], row: Mapping[str, Any], **computed: Any) -> T:
    """`cls` with each field from the row's column of that name, except those in `computed`
    (fields whose value is not the column's as it is). A missing column is a KeyError: a row
    without a column the type holds is a bug, not an empty field."""
    values = {name: row[name] for name in _fields(cls) if name not in computed}
    return cls(**values, **computed)
