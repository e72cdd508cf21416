"""CORS on /graphql and /media (README, For frontend engineers).

Starlette's CORSMiddleware does the matching and the header bookkeeping. Three of the
project's rules it cannot express, so they are its only overrides here: a granted preflight
answers 204 (Starlette: 200 "OK"); an origin that is not allowed gets no CORS header at all,
neither on its preflight (Starlette lists the allowed methods and headers on the 400) nor on
its requests (Starlette adds Access-Control-Expose-Headers to every request with an Origin).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Any port of the three loopback spellings: where a frontend dev server (Vite, webpack) runs.
DEV_LOOPBACK_ORIGINS = r"http://(localhost|127\.0\.0\.1|\[::1\]):[0-9]{1,5}"
METHODS = ("GET", "POST", "OPTIONS")
EXPOSED = ("X-Request-Id",)
MAX_AGE = 600


@dataclass(frozen=True)
class CorsRule:
    """Which origins may call: exact ones, or those matching a pattern (full match)."""

    origins: tuple[str, ...] = ()
    pattern: str | None = None

    @property
    def allows_any(self) -> bool:
        return bool(self.origins) or self.pattern is not None


def cors_rule(setting: str | None, dev_auth: bool) -> CorsRule:
    """`CONTINUITY_CORS_ORIGINS`: a comma-separated list of exact origins, or `*`; unset (or
    blank), the loopback origins in development mode and none otherwise."""
    entries = [e.strip().rstrip("/") for e in (setting or "").split(",") if e.strip()]
    if not entries:
        return CorsRule(pattern=DEV_LOOPBACK_ORIGINS) if dev_auth else CorsRule()
    if "*" in entries:
        # A pattern rather than Starlette's "*": the answer echoes the caller's origin.
        return CorsRule(pattern=".*")
    return CorsRule(origins=tuple(entries))


class Cors(CORSMiddleware):
    def __init__(self, app: ASGIApp, rule: CorsRule) -> None:
        super().__init__(
            app,
            allow_origins=rule.origins,
            allow_origin_regex=rule.pattern,
            allow_methods=METHODS,
            # Mirrors whatever the preflight asks for (Authorization, Content-Type, ...).
            allow_headers=("*",),
            expose_headers=EXPOSED,
            max_age=MAX_AGE,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        if not self.is_allowed_origin(request_headers["origin"]):
            return PlainTextResponse("This origin may not call this server.", 403, {"vary": "Origin"})
        response = super().preflight_response(request_headers)
        if response.status_code != 200:
            return response
        return Response(status_code=204, headers={
            k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
        })

    async def simple_response(
        self, scope: Scope, receive: Receive, send: Send, request_headers: Headers
    ) -> None:
        origin = request_headers.get("origin")
        if origin is not None and self.is_allowed_origin(origin):
            await super().simple_response(scope, receive, send, request_headers)
            return
        await self.app(scope, receive, functools.partial(_vary_on_origin, send=send))


async def _vary_on_origin(message: Message, send: Send) -> None:
    # The answer depends on the Origin even when it grants nothing: caches must keep them apart.
    if message["type"] == "http.response.start":
        headers = MutableHeaders(scope=message)
        headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])
    await send(message)
