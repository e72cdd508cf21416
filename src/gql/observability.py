"""Request ids on every HTTP request and websocket connection, and the request log line.

The id is the client's `X-Request-Id` when it is 1-200 visible ASCII characters, else a new
one; it is returned in the `X-Request-Id` response header (for a websocket, on the upgrade's
answer) and in `extensions.requestId` of every error, and holds for the whole websocket
connection (docs/operations.md, Logs and request ids).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core import request_context

HEADER = b"x-request-id"
log = logging.getLogger("continuity.requests")


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", ()) if k == HEADER), None)
        request_id = request_context.request_id_from(given.decode("latin-1") if given is not None else None)
        encoded = request_id.encode("ascii")

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, encoded)]}
            await send(message)

        token = request_context.begin(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_context.end(token)


def with_request_id(errors: Iterable[Any]) -> None:
    """Adds the current request's id to each formatted error (dicts, changed in place)."""
    stats = request_context.current()
    if stats is None:
        return
    for error in errors:
        if isinstance(error, dict):
            extensions = error.setdefault("extensions", {})
            if isinstance(extensions, dict):
                extensions["requestId"] = stats.request_id


def error_codes(errors: Iterable[Any]) -> list[str]:
    codes = []
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        codes.append(str(code or "INTERNAL_SERVER_ERROR"))
    return codes


def log_request(
    *, operation: str, seconds: float, statements: int, user_id: str | None, codes: list[str], status: int,
    transport: str,
) -> None:
    """The one line per request: never its document's values, variables, body or token."""
    stats = request_context.current()
    log.info(
        "%s %s %s in %.1f ms, %d statements", transport, operation, ",".join(codes) or "ok", seconds * 1000, statements,
        extra={
            "request_id": stats.request_id if stats is not None else None,
            "operation": operation, "duration_ms": round(seconds * 1000, 3), "statements": statements,
            "user_id": user_id, "error_codes": codes, "status": status, "transport": transport,
        },
    )
