"""The fully planned fast path: a query whose every root field compiles to one statement with no
hole is answered from the statements' JSON text, without graphql-core's execution and without
Strawberry's per-operation machinery (docs/planner.md, The fast path).

It runs the same checks as the normal path, from the same caches: the parse (Strawberry's
`ParserCache`, same size and token limit), the limits and the standard validation
(`gql.limits.Verdicts`), the operation's selection and the variables' coercion (graphql-core's own
functions), the root fields' collection and the compiled statements (`executor.PLANS`). Whenever
the normal path would answer anything but data (a request error, an unauthenticated request, a
root that is not compiled whole, an argument that does not coerce, a failed statement, a null in a
non-null root), the fast path declines before answering and the normal path answers the request
from the start: its errors, codes, paths and locations are the normal path's by construction. The
statements only read, so a declined request that already ran one has changed nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLField,
    GraphQLNonNull,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    specified_rules,
)
from graphql.execution.collect_fields import FieldDetails, collect_fields
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.pyutils import Path
from strawberry.extensions.parser_cache import _get_parse_cache

from gql.limits import Verdicts
from gql.planner.catalog import ROOTS
from gql.planner.compile import Plan
from gql.planner.executor import SWITCH_HEADER, PlanningExecutionContext, argument_values, planner_wanted
from services.core.config import switched_on

# The size gql.schema gives Strawberry's ParserCache: the same cache, so a document is parsed once
# whichever path answers it.
PARSER_CACHE_SIZE = 256
DOCUMENT_CACHE_SIZE = 256
# Per document: one set of root plans per value of its boolean variables (what @skip/@include
# read); more combinations than this go through the normal path.
VARIANTS_PER_DOCUMENT = 16
# graphql-core's default for execute(): how many variable coercion errors are collected.
MAX_COERCION_ERRORS = 50
# The standard rules as Strawberry's ExecutionContext holds them: the same key into Verdicts.
RULES = tuple(specified_rules)
# `X-Continuity-Planner: planned` answers with the planner but not the fast path (the
# differential tests compare the three paths).
PLANNED_ONLY = "planned"


def fast_path_enabled_by_env() -> bool:
    return switched_on("CONTINUITY_FAST_PATH")


@dataclass(frozen=True)
class _Field:
    """One root field answered by a compiled statement."""

    key: bytes  # the response key, JSON-encoded
    plan: Plan
    definition: GraphQLField
    details: FieldDetails
    non_null: bool
    sql: str  # the statement as the driver takes it, and its parameters' names in order
    names: tuple[str, ...]


@dataclass(frozen=True)
class _Literal:
    """`__typename` at the root."""

    key: bytes
    value: bytes


@dataclass
class _Document:
    """A (document text, operationName) the fast path may answer: its query operation, and the
    root plans per value of its boolean variables (None: the normal path answers)."""

    document: DocumentNode
    operation: OperationDefinitionNode
    flags: tuple[str, ...]
    variants: OrderedDict[tuple[Any, ...], tuple[_Field | _Literal, ...] | None] = field(
        default_factory=OrderedDict
    )


class FastPath:
    """Per served schema (its limits, its caches)."""

    def __init__(self, schema: Any, verdicts: Verdicts, enabled: bool = True) -> None:
        self.schema = schema  # the Strawberry schema: graphql-core's is `schema._schema`
        self.verdicts = verdicts
        self.enabled = enabled
        self._parse = _get_parse_cache(PARSER_CACHE_SIZE)
        self._documents: OrderedDict[tuple[str, str | None], _Document | None] = OrderedDict()
        # Requests answered here (tests check that the fast path, not a fallback, answered).
        self.answered = 0

    def wanted(self, context: Any) -> bool:
        if not self.enabled or not planner_wanted(context):
            return False
        headers = getattr(getattr(context, "request", None), "headers", None)
        return headers is None or headers.get(SWITCH_HEADER, "").lower() != PLANNED_ONLY

    async def answer(
        self, query: str, operation_name: str | None, variables: dict[str, Any] | None,
        extensions: dict[str, Any] | None, context: Any,
    ) -> bytes | None:
        """The response body (`{"data": ...}`), or None when the normal path must answer."""
        if not self.wanted(context) or context.auth_error() is not None:
            return None
        prepared = self._document(query, operation_name)
        if prepared is None:
            return None
        gschema: GraphQLSchema = self.schema._schema
        coerced = get_variable_values(
            gschema, prepared.operation.variable_definitions or (), variables or {},
            max_errors=MAX_COERCION_ERRORS,
        )
        if isinstance(coerced, list):
            return None  # coercion errors: the normal path reports them
        roots = self._roots(prepared, coerced, variables, operation_name, extensions, context)
        if roots is None:
            return None
        uid = context.uid
        statements: list[tuple[str, list[Any]]] = []
        for root in roots:
            if isinstance(root, _Field):
                try:
                    args = get_argument_values(
                        root.definition, root.details.node, coerced, root.details.fragment_variable_values
                    )
                    # The compiled fields' own arguments (minSeverity, first, ...).
                    values = {"uid": uid, "id": args.get("id"), **argument_values(root.plan, coerced)}
                except Exception:
                    return None  # the normal path reports what the resolver refuses
                statements.append((root.sql, [values[name] for name in root.names]))
        try:
            texts = iter(await context.db.read_json(uid, statements) if statements else ())
        except Exception:
            # The normal path runs it again and reports the failure as it always does.
            return None
        bodies: list[bytes] = []
        for root in roots:
            if isinstance(root, _Literal):
                bodies.append(root.key + root.value)
                continue
            text = next(texts)
            if text is None:
                if root.non_null:
                    return None  # graphql-core would null the parent: the normal path does
                bodies.append(root.key + b"null")
            else:
                bodies.append(root.key + text.encode())
        context.planned = True
        self.answered += 1
        return b'{"data":{' + b",".join(bodies) + b"}}"

    # -- per document ---------------------------------------------------------------------

    def _document(self, query: str, operation_name: str | None) -> _Document | None:
        key = (query, operation_name)
        try:
            known = self._documents[key]
        except KeyError:
            known = self._prepare(query, operation_name)
            self._documents[key] = known
            if len(self._documents) > DOCUMENT_CACHE_SIZE:
                self._documents.popitem(last=False)
            return known
        self._documents.move_to_end(key)
        return known

    def _prepare(self, query: str, operation_name: str | None) -> _Document | None:
        """The document's query operation when it parses, passes the limits and validation and
        names one operation; None otherwise (the normal path answers with its errors)."""
        try:
            document = self._parse(query, max_tokens=self.verdicts.limits.max_tokens)
        except GraphQLError:
            return None
        if self.verdicts(self.schema._schema, query, document, RULES):
            return None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name is None:
            if len(operations) != 1:
                return None
            operation = operations[0]
        else:
            named = [o for o in operations if o.name is not None and o.name.value == operation_name]
            if not named:
                return None
            operation = named[0]
        if operation.operation is not OperationType.QUERY:
            return None
        flags = tuple(
            d.variable.name.value for d in operation.variable_definitions or () if _is_boolean(d.type)
        )
        return _Document(document, operation, flags)

    def _roots(
        self, prepared: _Document, coerced: VariableValues, variables: dict[str, Any] | None,
        operation_name: str | None, extensions: dict[str, Any] | None, context: Any,
    ) -> tuple[_Field | _Literal, ...] | None:
        flags = tuple(coerced.coerced.get(name) for name in prepared.flags)
        variants = prepared.variants
        if flags in variants:
            variants.move_to_end(flags)
            return variants[flags]
        if len(variants) >= VARIANTS_PER_DOCUMENT:
            return None
        try:
            roots = self._compile(prepared, variables, operation_name, extensions, context)
        except GraphQLError:
            # A directive refuses its argument (`@include(if: $v)` with `$v: Boolean = true` sent
            # as null): graphql-core reports it while collecting fields, so does the normal path.
            roots = None
        variants[flags] = roots
        return roots

    def _compile(
        self, prepared: _Document, variables: dict[str, Any] | None, operation_name: str | None,
        extensions: dict[str, Any] | None, context: Any,
    ) -> tuple[_Field | _Literal, ...] | None:
        """The root fields of the operation as graphql-core collects them, each with its compiled
        statement; None when one of them is not a planner root compiled with no hole."""
        gschema: GraphQLSchema = self.schema._schema
        executor = PlanningExecutionContext.build(
            gschema, prepared.document, None, context, variables, operation_name,
            operation_extensions=extensions,
        )
        if not isinstance(executor, PlanningExecutionContext):
            return None  # errors: the normal path reports them
        query_type = gschema.query_type
        assert query_type is not None
        grouped = collect_fields(
            gschema, executor.fragments, executor.variable_values, query_type, executor.operation,
        ).grouped_field_set
        roots: list[_Field | _Literal] = []
        for response_key, details in grouped.items():
            key = orjson.dumps(response_key) + b":"
            name = details[0].node.name.value
            if name == "__typename":
                roots.append(_Literal(key, orjson.dumps(query_type.name)))
                continue
            root = ROOTS.get((query_type.name, name))
            if root is None:
                return None
            plan = executor._plan(root, query_type, details, Path(None, response_key, query_type.name))
            if plan is None or plan.shape is not None:
                return None
            definition = query_type.fields[name]
            sql, names = context.db.positional(plan.statement)
            if not set(names) <= {"uid", "id", *(a.bind for a in plan.arguments)}:
                return None
            non_null = isinstance(definition.type, GraphQLNonNull)
            roots.append(_Field(key, plan, definition, details[0], non_null, sql, names))
        return tuple(roots)


def _is_boolean(type_node: Any) -> bool:
    inner = getattr(type_node, "type", None)
    named = inner if inner is not None else type_node
    return getattr(getattr(named, "name", None), "value", None) == "Boolean"
