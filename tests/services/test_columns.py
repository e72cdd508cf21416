"""The services' column lists come from the catalogue: a new column is inserted, checked,
updated and copied without a line of its own (services.db.columns)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from services.core import validation
from services.core.errors import BadUserInput
from services.db.columns import all_but, checked, copy_of, field_name, insert_select, settable

# A table of its own: the rules must hold for a column nobody wrote a line for.
_t = Table(
    "things",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("label", Text, nullable=False),
    Column("note", Text, nullable=True),
    Column("body", Text, nullable=False),
    Column("count", Integer, nullable=True),
    Column("data", JSONB, nullable=True),
)
ALLOWED = all_but(_t, ["id"])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"note": "a lens"}, {"note": "a lens"}),
        ({"note": None}, {"note": None}),
        ({"count": 3, "label": "A"}, {"count": 3, "label": "A"}),
        ({"body": None}, {"body": ""}),
        ({"label": "  A  "}, {"label": "  A  "}),
    ],
)
def test_values_are_checked_by_their_columns(values: dict[str, Any], expected: dict[str, Any]) -> None:
    assert checked(_t, values, ALLOWED, cleared={"body": ""}) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"label": None}, "label must not be null"),
        ({"note": "x" * (validation.LONG_MAX + 1)}, f"note must be at most {validation.LONG_MAX} characters"),
        ({"note": "a\x00b"}, "note must not contain a NUL character"),
        # Nulls are refused before any other value is checked.
        ({"note": "a\x00b", "label": None}, "label must not be null"),
        ({"label": " "}, "label must not be blank"),
    ],
)
def test_bad_values_name_the_field(values: dict[str, Any], message: str) -> None:
    with pytest.raises(BadUserInput, match=message):
        checked(_t, values, ALLOWED, rules={"label": validation.short_text})


def test_a_column_outside_the_settable_ones_or_without_a_rule_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not a settable column"):
        checked(_t, {"id": 1}, ALLOWED)
    with pytest.raises(ValueError, match="no default rule"):
        checked(_t, {"data": {}}, ALLOWED)
    with pytest.raises(ValueError, match="not columns of things"):
        all_but(_t, ["nope"])


def test_a_settable_column_without_a_rule_or_a_default_one_fails_at_once() -> None:
    with pytest.raises(ValueError, match=r"without a rule: \['data'\]"):
        settable(_t, ["id"], {})
    assert settable(_t, ["id"], {"data": lambda field, value: value}) == ALLOWED
    assert settable(_t, ["id", "data"], {}) == ALLOWED - {"data"}


def test_field_names_are_the_inputs_spelling() -> None:
    assert field_name("end_frame_reference_image_order") == "endFrameReferenceImageOrder"
    assert field_name("slug") == "slug"


def test_a_copy_takes_every_column_but_the_translated_ones() -> None:
    copy = copy_of(_t, "x", {"id": None, "label": "upper(x.label)"})
    assert copy.columns == "label, note, body, count, data"
    assert copy.values == "upper(x.label), x.note, x.body, x.count, x.data"


def test_an_insert_binds_each_column_typed_as_the_column() -> None:
    clause = insert_select(_t, {"id": "p.id"}, ["note", "count"], "from parents p where p.id = :id")
    assert str(clause) == "insert into things (id, note, count) select p.id, :note, :count from parents p where p.id = :id returning *"
    types = {name: type(bind.type) for name, bind in clause._bindparams.items()}
    assert types["note"] is Text and types["count"] is Integer
