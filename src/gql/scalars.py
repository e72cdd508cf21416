"""UUID and DateTime as docs/errors.md describes them: malformed input is BAD_USER_INPUT, DateTimes are
ISO 8601 in UTC with microseconds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import strawberry


class ScalarInputError(ValueError):
    """A malformed scalar value in the request: the client's fault."""


def _parse_uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or len(value) > 64:
        raise ScalarInputError("UUID must be a string like 00000000-0000-4000-8000-000000000001")
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise ScalarInputError(f"malformed UUID: {value!r}") from error


def _serialize_uuid(value: Any) -> str:
    return str(value)


def serialize_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise ScalarInputError("DateTime must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise ScalarInputError(f"malformed DateTime: {value!r}") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


UUIDScalar = strawberry.scalar(name="UUID", serialize=_serialize_uuid, parse_value=_parse_uuid)
DateTimeScalar = strawberry.scalar(
    name="DateTime", serialize=serialize_datetime, parse_value=_parse_datetime
)

SCALAR_MAP: dict[object, Any] = {uuid.UUID: UUIDScalar, datetime: DateTimeScalar}
