"""The ASGI application: GraphQL (HTTP + websockets), GraphiQL, health, media."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gql.context import AppState, Context
from gql.schema import create_schema
from services.config import Settings
from services.db.database import Database

log = logging.getLogger("continuity.app")

# Started with the app, stopped with it: (name, start(state) -> stop coroutine factory).
Background = Callable[[AppState], Awaitable[Callable[[], Awaitable[None]]]]


class ContinuityGraphQL(GraphQL):
    def __init__(self, state: AppState, **kwargs: Any) -> None:
        super().__init__(
            create_schema(state.settings),
            graphql_ide="graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=__import__("datetime").timedelta(
                seconds=state.settings.ws_init_timeout_seconds
            ),
            **kwargs,
        )
        self.state = state

    async def get_context(self, request: Any, response: Any) -> Context:  # type: ignore[override]
        return Context(
            app=self.state,
            request=request,
            response=response,
            authorization=request.headers.get("authorization"),
        )


def create_app(
    settings: Settings,
    database_url: str,
    *,
    public_url: str,
    dev_auth: bool,
    background: Sequence[Background] | None = None,
) -> Starlette:
    db = Database(database_url, pool_size=settings.pool_size, max_overflow=settings.max_overflow)
    state = AppState(db=db, settings=settings, dev_auth=dev_auth, public_url=public_url)
    graphql = ContinuityGraphQL(state)
    settings.media_dir.mkdir(parents=True, exist_ok=True)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        stops: list[Callable[[], Awaitable[None]]] = []
        try:
            for start in background or ():
                stops.append(await start(state))
            yield
        finally:
            for stop in reversed(stops):
                try:
                    await stop()
                except Exception:
                    log.exception("stopping a background task failed")
            await db.dispose()

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        if await db.ping():
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "database unreachable"}, status_code=503)

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Mount("/media", StaticFiles(directory=settings.media_dir, check_dir=False), name="media"),
        ],
        lifespan=lifespan,
    )
    app.state.continuity = state
    return app
