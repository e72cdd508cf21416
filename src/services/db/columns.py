"""The services' column lists, read from the catalogue (`services.db.tables`): what a create
inserts, what an update may change and how a value is checked unless a column has a rule of its
own, what a fork copies.

Each list is "every column of the table except ...": the services name what a column is *not*
(a key, written by the system, owned by another operation, translated by a fork), so a new
column is created, updated and copied without a line of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Column, Integer, Table, Text, bindparam
from sqlalchemy.sql.elements import TextClause

from services.core import validation
from services.core.errors import BadUserInput
from services.db.predicates import PARAMETER_TYPES, typed

# (field name, value) -> the value to store; raises BadUserInput naming the field.
Rule = Callable[[str, Any], Any]


def field_name(column: str) -> str:
    """The input field that sets `column`, as a client spells it (`shot_label` -> `shotLabel`):
    inputs name their fields after the columns, so messages name the field at fault."""
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


def _known(table: Table, columns: Iterable[str]) -> list[str]:
    listed = list(columns)
    unknown = sorted(set(listed) - set(table.c.keys()))
    if unknown:
        raise ValueError(f"not columns of {table.name}: {unknown}")
    return listed


def all_but(table: Table, *excluded: Iterable[str]) -> frozenset[str]:
    """The columns of `table` except the ones listed (each list checked against the table)."""
    left_out = {name for names in excluded for name in _known(table, names)}
    return frozenset(c.name for c in table.c if c.name not in left_out)


def _has_default_rule(column: Column[Any]) -> bool:
    return isinstance(column.type, (Text, Integer, Boolean))


def settable(table: Table, excluded: Iterable[str], rules: Mapping[str, Rule]) -> frozenset[str]:
    """The columns clients may set: all but the `excluded` ones. Each needs a rule in `rules`
    or a default one by its type (`by_type`); a column with neither fails here, at import,
    rather than on the first request that sends it."""
    columns = all_but(table, excluded)
    _known(table, rules)
    missing = sorted(c for c in columns if c not in rules and not _has_default_rule(table.c[c]))
    if missing:
        raise ValueError(f"settable columns of {table.name} without a rule: {missing}")
    return columns


def by_type(column: Column[Any], field: str, value: Any) -> Any:
    """The default rule of a column without one of its own, by its SQL type: text is long text
    (docs/limits.md); integers and booleans need none beyond GraphQL's own (Int is 32-bit, as
    the columns are). A column of another type must be given a rule."""
    if isinstance(column.type, Text):
        return validation.long_text(field, value)
    if _has_default_rule(column):
        return value
    raise ValueError(f"{column} has no default rule: give it one")


def created(columns: Mapping[str, Any]) -> dict[str, Any]:
    """A create's values: null is the same as leaving a column out (its default applies)."""
    return {column: value for column, value in columns.items() if value is not None}


def checked(
    table: Table,
    values: Mapping[str, Any],
    allowed: frozenset[str],
    rules: Mapping[str, Rule] | None = None,
    cleared: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`values` (by column, in the input's order, null meaning "clear") checked for a write of
    `table`: every null first (refused for a column that must hold a value, unless `cleared`
    says what a null stands for there), then each value by its column's rule in `rules`, else
    by its type (`by_type`). A column outside `allowed` is a programming error."""
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValueError(f"not a settable column of {table.name}: {unknown}")
    rules = rules or {}
    cleared = cleared or {}
    out = dict(values)
    for name, value in values.items():
        if value is None and name in cleared:
            out[name] = cleared[name]
        elif value is None and not table.c[name].nullable:
            raise BadUserInput(f"{field_name(name)} must not be null")
    for name, value in out.items():
        if value is None:
            continue
        rule = rules.get(name)
        field = field_name(name)
        out[name] = rule(field, value) if rule is not None else by_type(table.c[name], field, value)
    return out


def typed_by(table: Table, sql: str) -> TextClause:
    """`predicates.typed(sql)`, and each other parameter named like a column of `table` typed
    as that column (no casts in the statement, asyncpg sends the types)."""
    clause = typed(sql)
    names = [name for name in clause._bindparams if name in table.c and name not in PARAMETER_TYPES]
    return clause.bindparams(*(bindparam(name, type_=table.c[name].type) for name in names))


def insert_select(table: Table, keys: Mapping[str, str], columns: Iterable[str], source: str = "") -> TextClause:
    """`insert into <table> (<keys>, <columns>) select <key expressions>, :<column>... <source>
    returning *`: the keys come from `source` (the parent row, its ownership checked there),
    each of `columns` is bound by its own name and typed as its column (`typed_by`)."""
    names = _known(table, [*_known(table, keys), *columns])
    values = [*keys.values(), *(f":{name}" for name in names[len(keys):])]
    tail = f" {source}" if source else ""
    sql = f"insert into {table.name} ({', '.join(names)}) select {', '.join(values)}{tail} returning *"
    return typed_by(table, sql)


@dataclass(frozen=True)
class Copy:
    """The two lists of an `insert into <table> (columns) select values ...` that copies rows."""

    columns: str
    values: str


def copy_of(table: Table, alias: str, translated: Mapping[str, str | None]) -> Copy:
    """Every column of `table` copied from the row `alias`, except the `translated` ones: those
    take the given expression (an id through the fork's id map, the new branch), or, for None,
    are left out so their default makes a new value (a fresh id)."""
    _known(table, translated)
    columns = [c.name for c in table.c if not (c.name in translated and translated[c.name] is None)]
    values = [translated.get(name) or f"{alias}.{name}" for name in columns]
    return Copy(", ".join(columns), ", ".join(values))
