"""Omitted versus null in inputs (docs/errors.md, Explicit nulls).

Frontends build inputs from forms and send `null` for an empty field. In a create input and
for an optional argument `null` means the same as leaving the field out (`optional`). In an
update input `null` clears a field that may be empty and is refused for one that must hold a
value; update inputs keep the difference with `changes_of` (or the services' OMITTED marker)."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any, TypeVar

import strawberry

T = TypeVar("T")


def optional(value: T | Any | None) -> T | None:
    """A create input's field or an optional argument: omitted and null are both None."""
    if value is strawberry.UNSET:
        return None
    return value


def _column_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def changes_of(input: Any) -> dict[str, Any]:
    """An update input's fields the client sent (null included), by column: an input's fields
    are named like the columns they set, an enum is given as its database spelling. A new
    column is settable by adding its field to the input."""
    return {
        f.name: _column_value(value)
        for f in dataclasses.fields(input)
        if (value := getattr(input, f.name)) is not strawberry.UNSET
    }


def values_of(input: Any) -> dict[str, Any]:
    """A create input's fields the client gave, by column as in `changes_of`; omitted and null
    are both left out (the column's default applies)."""
    return {column: value for column, value in changes_of(input).items() if value is not None}
