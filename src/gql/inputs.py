"""Omitted versus null in inputs (docs/errors.md, Explicit nulls).

Frontends build inputs from forms and send `null` for an empty field. In a create input and
for an optional argument `null` means the same as leaving the field out (`optional`). In an
update input `null` clears a field that may be empty and is refused for one that must hold a
value; update inputs keep the difference with `given` (or the services' OMITTED marker)."""

from __future__ import annotations

from typing import Any, TypeVar

import strawberry

T = TypeVar("T")


def optional(value: T | Any | None) -> T | None:
    """A create input's field or an optional argument: omitted and null are both None."""
    if value is strawberry.UNSET:
        return None
    return value


def given(changes: dict[str, Any], column: str, value: Any) -> None:
    """Records an update input's field only when the client sent it (null included)."""
    if value is not strawberry.UNSET:
        changes[column] = value
