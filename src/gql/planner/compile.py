"""Compiles a field's selection (aliases, fragments, @skip/@include already resolved by
graphql-core's field collection) into one SQL statement that emits the response as JSON.

Fields the catalog does not know become *holes*: the statement emits the parent's id there and
the executor later runs the field's own resolver on the object (the reference semantics).
A relation with arguments the catalog declares reads them as bind parameters (`Argument`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLField, GraphQLObjectType, get_named_type, is_non_null_type

from gql.planner.catalog import BY_ID_LOADER, FIELDS, TABLES, Column, Field, Relation, Root, plain_field
from gql.relations import RelationName
from services.db.predicates import chain_walk

# json_build_object takes at most 100 arguments: 50 keys. A wider selection is left to the loaders.
MAX_KEYS = 50

Collect = Callable[[GraphQLObjectType, Any], dict[str, Any]]


class NotCompilable(Exception):
    """The selection cannot be answered by one statement: the loader path answers it."""


@dataclass
class Hole:
    parent_type: GraphQLObjectType
    field_details: Any
    loader: RelationName


@dataclass
class Shape:
    """Where holes are, below one object: its own holes and the relations leading to more."""

    holes: dict[str, Hole] = field(default_factory=dict)
    # response key -> (is a list, field is nullable, shape of each child)
    edges: dict[str, tuple[bool, bool, Shape]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.holes or self.edges)


@dataclass(frozen=True)
class Argument:
    """One argument of a compiled field, bound as `:{bind}`: its value is the argument's in this
    request (a literal of the document or a variable), turned into the parameter by `convert`."""

    bind: str
    field_def: GraphQLField
    node: Any
    name: str
    convert: Callable[[Any], Any]


@dataclass
class Plan:
    sql: str
    shape: Shape | None
    statement: Any = None
    arguments: tuple[Argument, ...] = ()


class Compiler:
    def __init__(self, collect: Collect) -> None:
        self._collect = collect
        self._aliases = 0
        self._arguments: list[Argument] = []
        # (row alias, key column) -> alias of the row a relation's source already joins on it.
        self._joined: dict[tuple[str, str], str] = {}
        # Row alias -> a query of every row it can be in this statement (`select {alias}.* ...`),
        # for the lists whose rows are known that way: a chain under one is walked for all of
        # them at once (`_chains`).
        self._scopes: dict[str, str] = {}
        # Common table expressions of the whole statement (the set-based chain walks).
        self._ctes: list[str] = []

    def _alias(self) -> str:
        self._aliases += 1
        return f"t{self._aliases}"

    def root(self, root: Root, gtype: GraphQLObjectType, details: Any) -> Plan:
        table = TABLES[root.target].name
        joins: list[str] = []
        where = root.where.format(t="t0")
        self._scopes["t0"] = f"select t0.* from {table} t0 where {where}"
        obj, shape = self._object(gtype, details, "t0", joins)
        joined = "".join(joins)
        with_ = f"with recursive {', '.join(self._ctes)} " if self._ctes else ""
        if root.many:
            order = (root.order or "t0.id").format(t="t0")
            sql = (
                f"{with_}select coalesce(json_agg({obj} order by {order}), '[]'::json)::text"
                f" from {table} t0{joined} where {where}"
            )
        else:
            sql = f"{with_}select ({obj})::text from {table} t0{joined} where {where}"
        return Plan(sql=sql, shape=shape or None, arguments=tuple(self._arguments))

    def _object(
        self,
        gtype: GraphQLObjectType,
        details: Any,
        t: str,
        joins: list[str],
        fields: dict[str, Field] | None = None,
    ) -> tuple[str, Shape]:
        """The JSON of the row `t`; to-one relations it needs are added to `joins`, the left
        joins of the query that reads `t`. `fields` replaces the type's catalog entries."""
        type_name = gtype.name
        grouped = self._collect(gtype, details)
        if len(grouped) > MAX_KEYS:
            raise NotCompilable(f"more than {MAX_KEYS} fields on {type_name}")
        specs = fields if fields is not None else FIELDS.get(type_name)
        if specs is None:
            raise NotCompilable(type_name)
        parts: list[str] = []
        shape = Shape()
        for key, field_details in grouped.items():
            node = field_details[0].node
            name = node.name.value
            if name == "__typename":
                parts.append(f"'{key}', '{type_name}'")
                continue
            field_def = gtype.fields[name]
            spec = specs.get(name) or plain_field(type_name, field_def)
            if spec is None or ((field_def.args or node.arguments) and not _binds_arguments(spec, field_def)):
                loader = BY_ID_LOADER.get(type_name)
                if loader is None:
                    raise NotCompilable(f"{type_name}.{name}")
                shape.holes[key] = Hole(gtype, field_details, loader)
                parts.append(f"'{key}', {t}.id")
            elif isinstance(spec, Column):
                parts.append(f"'{key}', {spec.sql.format(t=t)}")
            else:
                target = get_named_type(field_def.type)
                assert isinstance(target, GraphQLObjectType) and target.name == spec.target
                expr, child = self._relation(spec, target, field_details, t, joins, field_def)
                parts.append(f"'{key}', {expr}")
                if child:
                    shape.edges[key] = (spec.many, not is_non_null_type(field_def.type), child)
        return f"json_build_object({', '.join(parts)})", shape

    def _relation(
        self,
        spec: Relation,
        target: GraphQLObjectType,
        details: Any,
        p: str,
        joins: list[str],
        field_def: GraphQLField | None = None,
    ) -> tuple[str, Shape]:
        binds: dict[str, str] = {}
        if spec.arguments:
            assert field_def is not None
            if getattr(details[0], "fragment_variable_values", None) is not None:
                # Values that differ per fragment spread: not one parameter per field.
                raise NotCompilable("fragment arguments")
            for name, convert in spec.arguments:
                bind = f"arg{len(self._arguments) + 1}"
                self._arguments.append(Argument(bind, field_def, details[0].node, name, convert))
                binds[name] = f":{bind}"
        if spec.fk is not None:
            grouped = self._collect(target, details)
            if all(d[0].node.name.value in ("id", "__typename") for d in grouped.values()):
                # A to-one `{ id }` is read from the key column: no join (same answer, the
                # foreign keys keep the child in the parent's project).
                fk = f"{p}.{spec.fk}"
                pairs = ", ".join(
                    f"'{k}', " + (fk if d[0].node.name.value == "id" else f"'{target.name}'")
                    for k, d in grouped.items()
                )
                return f"(case when {fk} is null then null else json_build_object({pairs}) end)", Shape()
        if not spec.source:
            # Made of the parent's own row.
            return self._object(target, details, p, joins)
        if spec.chain and p in self._scopes:
            return self._chains(spec, target, details, p, joins)
        if spec.fk is not None and (p, spec.fk) in self._joined:
            # The parent's source joins this row already (an inner join on the same key).
            return self._object(target, details, self._joined[(p, spec.fk)], joins)
        c = self._alias()
        if spec.table is not None and spec.fk is not None:
            joins.append(f" left join {spec.table} {c} on {c}.id = {p}.{spec.fk}")
            obj, shape = self._object(target, details, c, joins)
            return f"(case when {c}.id is null then null else {obj} end)", shape
        for owner, key, alias in spec.joined:
            self._joined[(owner.format(c=c), key)] = alias.format(c=c)
        source = spec.source.format(p=p, c=c, **binds)
        if spec.many and p in self._scopes and not (binds or spec.with_ or spec.chain or "{p}_" in spec.source):
            # Every row of this list in the statement: the list's source over every parent row.
            self._scopes[c] = (
                f"select {c}.* from ({self._scopes[p]}) {p} cross join lateral (select {c}.* {source}) {c}"
            )
        inner: list[str] = []
        obj, shape = self._object(target, details, c, inner, spec.fields)
        source = _with_joins(source, "".join(inner))
        order = spec.order.format(c=c) if spec.order else None
        ordered = f" order by {order}" if order else ""
        with_ = f"with {spec.with_.format(p=p, c=c)} " if spec.with_ else ""
        if spec.many:
            return f"({with_}select coalesce(json_agg({obj}{ordered}), '[]'::json) {source})", shape
        return f"({with_}select {obj} {source}{ordered} limit 1)", shape


    def _chains(
        self, spec: Relation, target: GraphQLObjectType, details: Any, p: str, joins: list[str]
    ) -> tuple[str, Shape]:
        """The chains of every row `p` can be in the statement, walked at once (one recursive
        walk and one grouping, as statement-level CTEs hash-joined to the list reading `p`),
        instead of one correlated walk per row. Same rows and order as CHAIN_SOURCE: the walk
        of services.db.predicates, root first."""
        c = self._alias()
        inner: list[str] = []
        obj, shape = self._object(target, details, c, inner, spec.fields)
        seed = f"r0.id in (select {p}.id from ({self._scopes[p]}) {p})"
        # The walk carries ids only and the links' rows are joined once afterwards: carrying
        # whole rows through a walk of every chain spills it to disk (docs/benchmark.md).
        self._ctes.append(chain_walk(seed, name=f"{c}_walk"))
        self._ctes.append(
            f"{c}_chains as materialized (select {c}_w.start_id,"
            f" json_agg({obj} order by {c}_w.depth desc) as chain"
            f" from {c}_walk {c}_w join scene_asset_instances {c} on {c}.id = {c}_w.id{''.join(inner)}"
            f" group by {c}_w.start_id)"
        )
        joins.append(f" left join {c}_chains {c}_j on {c}_j.start_id = {p}.id")
        return f"coalesce({c}_j.chain, '[]'::json)", shape


def _binds_arguments(spec: Any, field_def: GraphQLField) -> bool:
    """Whether the catalog's relation reads every argument the field has."""
    return isinstance(spec, Relation) and bool(spec.arguments) and set(field_def.args) <= {n for n, _ in spec.arguments}


def _with_joins(source: str, joins: str) -> str:
    """`from ... [where ...]` with more joins before its own (outermost) where."""
    if not joins:
        return source
    depth = 0
    for index, char in enumerate(source):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and source.startswith(" where ", index):
            return source[:index] + joins + source[index:]
    return source + joins
