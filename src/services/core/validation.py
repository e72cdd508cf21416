"""Input rules (docs/errors.md, BAD_USER_INPUT), as plain functions that name the field at fault."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from services.core.errors import BadUserInput

SHORT_MAX = 200
LONG_MAX = 10_000
URL_MAX = 2_048
LIST_MAX = 1_000
TAG_MAX = 64
TAGS_MAX = 32
INT_MAX = 2_147_483_647


def _no_nul(field: str, value: str) -> None:
    if "\x00" in value:
        raise BadUserInput(f"{field} must not contain a NUL character")


def short_text(field: str, value: str) -> str:
    """Titles, names, slugs, shot labels, capsule ids, idempotency keys: 1-200 characters."""
    _no_nul(field, value)
    if not value.strip():
        raise BadUserInput(f"{field} must not be blank")
    if len(value) > SHORT_MAX:
        raise BadUserInput(f"{field} must be at most {SHORT_MAX} characters")
    return value


def long_text(field: str, value: str) -> str:
    """Descriptions, overrides, excerpts, end states, setting, action, camera, reasons."""
    _no_nul(field, value)
    if len(value) > LONG_MAX:
        raise BadUserInput(f"{field} must be at most {LONG_MAX} characters")
    return value


def optional_long_text(field: str, value: str | None) -> str | None:
    return None if value is None else long_text(field, value)


def image_url(field: str, value: str) -> str:
    _no_nul(field, value)
    if len(value) > URL_MAX:
        raise BadUserInput(f"{field} must be at most {URL_MAX} characters")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or any(c.isspace() for c in value):
        raise BadUserInput(f"{field} must be an absolute http(s) URL")
    return value


def optional_image_url(field: str, value: str | None) -> str | None:
    return None if value is None else image_url(field, value)


def positive(field: str, value: int) -> int:
    if value < 1 or value > INT_MAX:
        raise BadUserInput(f"{field} must be a positive integer")
    return value


def stage(value: int) -> int:
    if not 1 <= value <= 12:
        raise BadUserInput("stage must be between 1 and 12")
    return value


def list_size(field: str, items: Sequence[object]) -> None:
    if len(items) > LIST_MAX:
        raise BadUserInput(f"{field} must have at most {LIST_MAX} items")


def normalize_tags(tags: Sequence[str], field: str = "statusTags") -> list[str]:
    """Trimmed, blank refused, 1-64 characters, duplicates (ignoring case) dropped keeping the
    first spelling, at most 32 after that."""
    list_size(field, tags)
    kept: list[str] = []
    seen: set[str] = set()
    for raw in tags:
        _no_nul(field, raw)
        tag = raw.strip()
        if not tag:
            raise BadUserInput(f"{field} must not contain a blank tag")
        if len(tag) > TAG_MAX:
            raise BadUserInput(f"{field}: each tag must be at most {TAG_MAX} characters")
        key = tag.casefold()
        if key not in seen:
            seen.add(key)
            kept.append(tag)
    if len(kept) > TAGS_MAX:
        raise BadUserInput(f"{field} must have at most {TAGS_MAX} distinct tags")
    return kept


def normalize_override(value: str | None) -> str | None:
    """Overrides are stored trimmed; an empty one is no override."""
    if value is None:
        return None
    long_text("descriptionOverride", value)
    trimmed = value.strip()
    return trimmed or None


def effective_description(override: str | None, base_description: str) -> str:
    return override if override else base_description
