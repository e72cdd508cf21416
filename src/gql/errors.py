"""The one place where errors get their `extensions.code`, and unexpected ones are masked."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError, GraphQLObjectType, GraphQLSchema, get_named_type
from strawberry.extensions import SchemaExtension
from strawberry.types import StreamExecutionResult

from gql.scalars import ScalarInputError
from services.core.errors import DomainError

log = logging.getLogger("continuity.errors")

MASKED_MESSAGE = "Internal server error."
# graphql-core's parser stops at the token limit with a syntax error saying so.
_TOO_MANY_TOKENS = re.compile(r"^Syntax Error: Document contains more than (\d+) tokens")


class LimitExceeded(GraphQLError):
    """A request refused by a limit before execution (depth, aliases, cost, ...)."""

    def __init__(self, message: str, code: str, **extensions: object) -> None:
        super().__init__(message, extensions={"code": code, **extensions})


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(
        original, (DomainError, GraphQLError, ScalarInputError)
    )


_NULL_FIELD = re.compile(r"^Cannot return null for non-nullable field (\w+)\.(\w+)\.$")


def _vanished_relation(error: GraphQLError, schema: GraphQLSchema | None) -> str | None:
    """`Type.field` when a non-null relation came back null. The foreign keys make that
    impossible within one snapshot, so another request deleted the row between this
    request's units of work (e.g. after a mutation committed, before its answer was read)."""
    match = _NULL_FIELD.match(error.message) if schema is not None else None
    if match is None or schema is None:
        return None
    parent = schema.get_type(match.group(1))
    field = (getattr(parent, "fields", None) or {}).get(match.group(2))
    if field is None or not isinstance(get_named_type(field.type), GraphQLObjectType):
        return None
    return f"{match.group(1)}.{match.group(2)}"


def classify(error: GraphQLError, schema: GraphQLSchema | None = None) -> GraphQLError:
    """Returns the error with its code; an unexpected one is logged and replaced."""
    if error.extensions and "code" in error.extensions:
        return error
    original = error.original_error
    extra: dict[str, object] = {}
    if isinstance(original, DomainError):
        code = original.code
        message = original.message
    elif vanished := _vanished_relation(error, schema):
        code = "CONFLICT"
        message = f"{vanished} was deleted by a concurrent request; refetch"
    elif _is_unexpected(error):
        log.error("unexpected error at %s", error.path, exc_info=original)
        return GraphQLError(
            MASKED_MESSAGE,
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR"},
        )
    elif isinstance(original, ScalarInputError) or error.message.startswith("Variable '$"):
        code, message = "BAD_USER_INPUT", error.message
    elif error.path is not None and error.message.startswith("Argument '"):
        # An argument that validation could not judge (a directive's `if: $v` where `$v` has a
        # default but was sent as null) fails while the field executes: it is still the input.
        code, message = "BAD_USER_INPUT", error.message
    elif tokens := _TOO_MANY_TOKENS.match(error.message):
        code, message = "TOO_MANY_TOKENS", error.message
        extra = {"maxTokens": int(tokens.group(1))}
    elif error.message.startswith("Syntax Error"):
        code, message = "GRAPHQL_PARSE_FAILED", error.message
    elif error.path is None:
        code, message = "GRAPHQL_VALIDATION_FAILED", error.message
    else:
        log.error("uncoded error at %s: %s", error.path, error.message)
        code, message = "INTERNAL_SERVER_ERROR", MASKED_MESSAGE
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**(error.extensions or {}), **extra, "code": code},
    )


def classify_all(errors: list[GraphQLError], schema: GraphQLSchema | None = None) -> list[GraphQLError]:
    return [classify(e, schema) for e in errors]


def _unauthenticated_first(errors: list[GraphQLError], context: object) -> list[GraphQLError]:
    """UNAUTHENTICATED outranks input errors, even those raised before any resolver ran
    (variable coercion)."""
    auth_error = getattr(context, "auth_error", None)
    failure = auth_error() if callable(auth_error) else None
    if failure is None:
        return errors
    if any(e.path is None and (e.extensions or {}).get("code") == "BAD_USER_INPUT" for e in errors):
        return [GraphQLError(failure.message, extensions={"code": failure.code})]
    return errors


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            coded = _unauthenticated_first(classify_all(errors, self._schema()), self.execution_context.context)
            result.errors = coded

    def _schema(self) -> GraphQLSchema | None:
        schema = getattr(self.execution_context, "schema", None)
        return getattr(schema, "_schema", None)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        # Websockets send each result as it is yielded, before on_operation resumes.
        errors = getattr(result, "errors", None)
        if errors:
            coded = _unauthenticated_first(classify_all(errors, self._schema()), self.execution_context.context)
            result.errors = coded  # type: ignore[union-attr]
        yield
