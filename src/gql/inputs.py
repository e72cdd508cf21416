"""Omitted versus null in input objects (SPEC: only a few fields may be null)."""

from __future__ import annotations

from typing import Any, TypeVar

import strawberry

from services.errors import BadUserInput

T = TypeVar("T")


def optional(value: T | Any | None, field: str) -> T | None:
    """An optional field that may be omitted but not null: omitted -> None, null -> BAD_USER_INPUT."""
    if value is strawberry.UNSET:
        return None
    if value is None:
        raise BadUserInput(f"{field} must not be null")
    return value


def given(changes: dict[str, Any], column: str, value: Any) -> None:
    """Records a field only when the client sent it (null included)."""
    if value is not strawberry.UNSET:
        changes[column] = value
