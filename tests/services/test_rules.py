"""Table-driven tests of the pure rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.core import validation
from services.core.errors import BadUserInput


@pytest.mark.parametrize(
    ("override", "base", "effective"),
    [
        (None, "An old keeper", "An old keeper"),
        ("Muddy keeper", "An old keeper", "Muddy keeper"),
        ("", "An old keeper", "An old keeper"),
    ],
)
def test_effective_description(override: str | None, base: str, effective: str) -> None:
    assert validation.effective_description(override, base) == effective


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (None, None),
        ("  Muddy  ", "Muddy"),
        ("", None),
        ("   \n ", None),
        ("Line one\nline two", "Line one\nline two"),
    ],
)
def test_overrides_are_stored_trimmed_and_empty_means_none(given: str | None, stored: str | None) -> None:
    assert validation.normalize_override(given) == stored


@pytest.mark.parametrize(
    ("tags", "normalized"),
    [
        ([], []),
        ([" muddy ", "torn_shirt"], ["muddy", "torn_shirt"]),
        (["Muddy", "muddy", "MUDDY", "wet"], ["Muddy", "wet"]),
        (["wet", "Wet "], ["wet"]),
        (["ß", "SS"], ["ß"]),  # casefold: ß and SS are one tag
        (["x" * 64], ["x" * 64]),
        ([f"t{i}" for i in range(32)] + ["T1", "t2"], [f"t{i}" for i in range(32)]),
    ],
)
def test_status_tags_are_normalized(tags: list[str], normalized: list[str]) -> None:
    assert validation.normalize_tags(tags) == normalized


@pytest.mark.parametrize(
    "tags",
    [
        [""],
        ["  "],
        ["ok", "\t"],
        ["x" * 65],
        [f"t{i}" for i in range(33)],
        ["nul\x00"],
        ["t"] * 1001,
    ],
)
def test_bad_status_tags_are_refused(tags: list[str]) -> None:
    with pytest.raises(BadUserInput):
        validation.normalize_tags(tags)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://cdn.example.com/a.png", True),
        ("http://127.0.0.1:8000/media/x.png", True),
        ("ftp://example.com/a.png", False),
        ("/media/a.png", False),
        ("https://", False),
        ("https://exa mple.com/a.png", False),
        ("javascript:alert(1)", False),
        ("https://x.example/" + "a" * 2030, True),  # exactly 2,048
        ("https://x.example/" + "a" * 2031, False),
    ],
)
def test_image_urls(url: str, ok: bool) -> None:
    if ok:
        assert validation.image_url("imageKeyUrl", url) == url
    else:
        with pytest.raises(BadUserInput):
            validation.image_url("imageKeyUrl", url)


@pytest.mark.parametrize(
    ("check", "value", "ok"),
    [
        (validation.short_text, "a", True),
        (validation.short_text, "a" * 200, True),
        (validation.short_text, "a" * 201, False),
        (validation.short_text, " ", False),
        (validation.long_text, "a" * 10_000, True),
        (validation.long_text, "a" * 10_001, False),
        (validation.long_text, "", True),
        (validation.positive, 1, True),
        (validation.positive, 0, False),
        (validation.positive, -1, False),
    ],
)
def test_limits(check: Callable[[str, object], object], value: object, ok: bool) -> None:
    if ok:
        check("field", value)
    else:
        with pytest.raises(BadUserInput, match="field"):
            check("field", value)
