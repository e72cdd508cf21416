"""GraphQL over HTTP, as the graphql-over-http specification has it, for POST and GET.

- POST takes `application/json` (utf-8); GET takes the parameters in the query string and runs
  queries only: a mutation over GET is 405.
- The response is `application/graphql-response+json` when the Accept header prefers it,
  `application/json` otherwise (also without an Accept header, or with `*/*`); an Accept
  header naming neither is 406.
- A request that is not a well-formed GraphQL request (body too large, not JSON, no query,
  variables not an object, ...) is a 4xx whatever the media type. A GraphQL request error
  (parse, validation, a limit, variable coercion) answers without `data`: 200 in
  `application/json`, 400 in `application/graphql-response+json`. Field errors are 200.
- The body is read as it streams in and refused with 413 once it passes the limit (at once
  when Content-Length already says so): an oversized body is never held whole.
Every refusal carries a GraphQL error with `extensions.code` (docs/limits.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from gql.documents import DocumentRefused, Documents
from gql.errors import MASKED_MESSAGE, classify_all
from gql.observability import error_codes, log_request, with_request_id
from gql.planner.fast_path import FastPath, fast_path_enabled_by_env
from services.core import request_context
from services.core.metrics import operation_name


class View(Protocol):
    """What the HTTP side needs of the strawberry view (gql.app's): its schema, context and
    JSON encoder, and GraphiQL. A protocol, so that this module does not import the app."""

    schema: BaseSchema
    # The process's state: its metrics and persisted documents (gql.context.AppState).
    state: Any

    async def render_graphql_ide(self, request: Request) -> Response: ...

    async def get_sub_response(self, request: Request) -> Response: ...

    async def get_context(self, request: Request, response: Response) -> Any: ...

    def encode_json(self, data: object) -> str | bytes: ...

log = logging.getLogger("continuity.http")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
ALLOWED_METHODS = "GET, POST"


class Refusal(Exception):
    """A request answered before (or instead of) GraphQL execution."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None,
        **extensions: object,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extensions = extensions


def bad_request(message: str) -> Refusal:
    return Refusal(400, "BAD_REQUEST", message)


def negotiate(accept: str | None) -> str:
    """The response media type the Accept header prefers; 406 when it allows neither."""
    if accept is None or not accept.strip():
        return JSON
    best: str | None = None
    best_quality = 0.0
    for entry in accept.split(","):
        media, *params = (part.strip() for part in entry.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media == GRAPHQL_RESPONSE_JSON:
            candidate: str | None = GRAPHQL_RESPONSE_JSON
        elif media in (JSON, "application/*", "*/*"):
            candidate = JSON
        else:
            candidate = None
        # Ties keep the earlier entry: the client listed it first.
        if candidate is not None and quality > best_quality:
            best, best_quality = candidate, quality
    if best is None:
        raise Refusal(
            406,
            "NOT_ACCEPTABLE",
            f"Responses are {GRAPHQL_RESPONSE_JSON} or {JSON}; the Accept header allows neither.",
        )
    return best


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it is known to pass `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large(limit)
    return bytes(body)


def too_large(limit: int) -> Refusal:
    # The rest of the body is never read: the connection cannot be reused.
    return Refusal(
        413,
        "PAYLOAD_TOO_LARGE",
        f"The request body is larger than {limit} bytes.",
        {"connection": "close"},
        maxBodyBytes=limit,
    )


@dataclass
class Params:
    query: str
    operation_name: str | None
    variables: dict[str, Any] | None
    extensions: dict[str, Any] | None


def resolve_document(data: Any, documents: Documents | None) -> Any:
    """The body or query string with its `query` taken from a persisted document when it names
    one (gql/documents.py); unchanged without persisted documents."""
    if documents is None or not isinstance(data, dict):
        return data
    document_id = data.get("documentId")
    query = documents.resolve(data.get("query"), document_id, data.get("extensions"))
    return {**data, "query": query}


def _decode_json(text: str | bytes, what: str) -> Any:
    try:
        # utf-8 only: json.loads would guess utf-16 and utf-32 from raw bytes.
        return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except (ValueError, RecursionError) as error:
        # ValueError covers bad JSON and bytes that are not utf-8.
        raise bad_request(f"{what} is not valid JSON: {error}") from None


def params_of(data: Any) -> Params:
    """The GraphQL request parameters of a decoded body or query string, checked."""
    if isinstance(data, list):
        raise bad_request("Batched requests are not supported: send one operation per request.")
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    query = data.get("query")
    if query is None or query == "":
        raise bad_request("The request has no query.")
    if not isinstance(query, str):
        raise bad_request("The query must be a string.")
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise bad_request("operationName must be a string or null.")
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise bad_request("variables must be an object or null.")
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise bad_request("extensions must be an object or null.")
    return Params(query, operation_name, variables, extensions)


def get_params(request: Request, limit: int, documents: Documents | None = None) -> Params:
    if len(request.scope.get("query_string", b"")) > limit:
        raise Refusal(
            414, "PAYLOAD_TOO_LARGE", f"The query string is longer than {limit} bytes.",
            maxBodyBytes=limit,
        )
    data: dict[str, Any] = dict(request.query_params)
    for key in ("variables", "extensions"):
        if data.get(key):
            data[key] = _decode_json(data[key], key)
        else:
            data.pop(key, None)
    return params_of(resolve_document(data, documents))


async def post_params(request: Request, limit: int, documents: Documents | None = None) -> Params:
    content_type = request.headers.get("content-type")
    media, *attributes = (part.strip().lower() for part in (content_type or "").split(";"))
    charset = next(
        (a.partition("=")[2].strip('" ') for a in attributes if a.startswith("charset=")), None
    )
    if media != JSON or charset not in (None, "utf-8", "utf8"):
        raise Refusal(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"POST a GraphQL request as {JSON} (utf-8); got {content_type or 'no Content-Type'}.",
        )
    body = await read_body(request, limit)
    if not body.strip():
        raise bad_request("The request body is empty.")
    return params_of(resolve_document(_decode_json(body, "The request body"), documents))


def is_request_error(result: ExecutionResult) -> bool:
    """Errors raised before execution began: no data, and no error has a path."""
    return bool(result.errors) and result.data is None and all(
        error.path is None for error in result.errors or ()
    )


def error_payload(message: str, code: str, **extensions: object) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {**extensions, "code": code}}]}


class GraphQLOverHTTP:
    """Serves the HTTP side of a strawberry view: its schema, context and JSON encoder."""

    def __init__(self, view: View, max_body_bytes: int) -> None:
        self.view = view
        self.max_body_bytes = max_body_bytes
        verdicts = getattr(view.schema, "verdicts", None)
        # Queries compiled whole skip graphql-core's execution (docs/planner.md, The fast path).
        self.fast = (
            FastPath(view.schema, verdicts, fast_path_enabled_by_env()) if verdicts is not None else None
        )

    async def __call__(self, request: Request) -> Response:
        started = time.monotonic()
        response = await self._answer(request)
        self._observe(request, response, time.monotonic() - started)
        return response

    def _observe(self, request: Request, response: Response, seconds: float) -> None:
        """The request's log line and metrics (docs/operations.md)."""
        state = request.state
        codes: list[str] = getattr(state, "continuity_codes", [])
        context = getattr(state, "continuity_context", None)
        operation = getattr(state, "continuity_operation", None) or "none"
        stats = request_context.current()
        statements = stats.statements if stats is not None else 0
        user_id = context.viewer_id if context is not None else None
        log_request(
            operation=operation, seconds=seconds, statements=statements, user_id=user_id, codes=codes,
            status=response.status_code, transport="http",
        )
        metrics = self.view.state.metrics
        if metrics is not None:
            metrics.request_finished(
                operation, codes[0] if codes else "ok", seconds, statements, bool(getattr(context, "planned", False))
            )

    async def _answer(self, request: Request) -> Response:
        media = JSON
        try:
            if request.method not in ("GET", "POST"):
                raise Refusal(
                    405, "METHOD_NOT_ALLOWED", "GraphQL is served over GET and POST.",
                    {"allow": ALLOWED_METHODS},
                )
            accept = request.headers.get("accept")
            documents = self.view.state.documents
            trusted_only = documents is not None and documents.trusted_only
            if request.method == "GET" and "query" not in request.query_params and (
                "text/html" in (accept or "")
            ) and not trusted_only:  # GraphiQL sends documents of its users' own: off then
                return await self.view.render_graphql_ide(request)
            media = negotiate(accept)
            if request.method == "GET":
                params = get_params(request, self.max_body_bytes, documents)
            else:
                params = await post_params(request, self.max_body_bytes, documents)
            request.state.continuity_operation = operation_name(params.operation_name, params.query)
            return await self.execute(request, params, media)
        except Refusal as refusal:
            return self.respond(
                error_payload(refusal.message, refusal.code, **refusal.extensions),
                refusal.status,
                media,
                refusal.headers,
                request,
            )
        except DocumentRefused as refused:
            # A request error: 200 in application/json, 400 in application/graphql-response+json.
            status = 400 if media == GRAPHQL_RESPONSE_JSON else 200
            return self.respond(error_payload(refused.message, refused.code), status, media, None, request)
        except Exception:
            log.exception("unexpected error serving a GraphQL request")
            return self.respond(error_payload(MASKED_MESSAGE, "INTERNAL_SERVER_ERROR"), 500, media, None, request)

    async def execute(self, request: Request, params: Params, media: str) -> Response:
        view = self.view
        sub_response = await view.get_sub_response(request)
        context = await view.get_context(request, sub_response)
        request.state.continuity_context = context
        if self.fast is not None:
            body = await self.fast.answer(
                params.query, params.operation_name, params.variables, params.extensions, context
            )
            if body is not None:
                request.state.continuity_codes = []
                return Response(body, status_code=200, media_type=f"{media}; charset=utf-8")
        allowed = (
            {OperationType.QUERY}
            if request.method == "GET"
            else {OperationType.QUERY, OperationType.MUTATION}
        )
        try:
            result = await view.schema.execute(
                params.query,
                variable_values=params.variables,
                context_value=context,
                root_value=None,
                operation_name=params.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=params.extensions,
            )
        except InvalidOperationTypeError as error:
            if request.method == "GET" and error.operation_type == OperationType.MUTATION:
                raise Refusal(
                    405, "METHOD_NOT_ALLOWED", "Mutations are served over POST only.",
                    {"allow": "POST"},
                ) from None
            result = ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        "Subscriptions are served over websockets (graphql-transport-ws).",
                        extensions={"code": "BAD_REQUEST"},
                    )
                ],
            )
        except CannotGetOperationTypeError as error:
            message = (
                f'The document has no operation named "{error.operation_name}".'
                if error.operation_name
                else "Name the operation to run with operationName: the document does not "
                "hold exactly one."
            )
            result = ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(message, extensions={"code": "OPERATION_RESOLUTION_FAILURE"})
                ],
            )
        if result.errors:
            # A parse error raised inside strawberry's parser cache skips the ErrorCodes hooks.
            result.errors = classify_all(result.errors)
        request_error = is_request_error(result)
        payload: dict[str, Any] = {} if request_error else {"data": result.data}
        if result.errors:
            payload["errors"] = [error.formatted for error in result.errors]
        if result.extensions:
            payload["extensions"] = result.extensions
        status = 200
        if request_error and media == GRAPHQL_RESPONSE_JSON:
            codes = {(e.extensions or {}).get("code") for e in result.errors or ()}
            status = 500 if "INTERNAL_SERVER_ERROR" in codes else 400
        response = self.respond(payload, status, media, None, request)
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        return response

    def respond(
        self, payload: dict[str, Any], status: int, media: str,
        headers: Mapping[str, str] | None = None, request: Request | None = None,
    ) -> Response:
        errors = payload.get("errors") or []
        with_request_id(errors)
        if request is not None:
            request.state.continuity_codes = error_codes(errors)
        body = self.view.encode_json(payload)
        return Response(
            body,
            status_code=status,
            media_type=f"{media}; charset=utf-8",
            headers=dict(headers or {}),
        )
