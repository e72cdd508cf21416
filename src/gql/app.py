"""The ASGI application: GraphQL (HTTP + websockets), GraphiQL, health, media."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from gql import graphiql
from gql.context import AppState, Context
from gql.cors import Cors, cors_rule
from gql.documents import DocumentRefused, Documents
from gql.errors import LimitExceeded
from gql.observability import RequestIds, error_codes, log_request, with_request_id
from gql.planner.executor import planner_enabled_by_env
from gql.schema import create_schema
from gql.transport import GraphQLOverHTTP
from services.core import request_context
from services.core.config import Settings
from services.core.metrics import CONTENT_TYPE, Metrics, operation_name
from services.db.database import Database

log = logging.getLogger("continuity.app")

# Started with the app, stopped with it: (name, start(state) -> stop coroutine factory).
Background = Callable[[AppState], Awaitable[Callable[[], Awaitable[None]]]]


class SubscriptionCap(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws with the per-connection cap answered as a coded error: the
    operation is refused, the connection and its other operations go on. Every error sent
    carries the connection's request id; connections and operations are counted."""

    async def handle(self) -> None:
        metrics = self._metrics()
        if metrics is not None:
            metrics.websockets.inc()
        try:
            await super().handle()
        finally:
            if metrics is not None:
                metrics.websockets.dec()

    def _metrics(self) -> Any:
        view = getattr(self, "view", None)
        state = getattr(view, "state", None)
        return getattr(state, "metrics", None)

    async def run_operation(self, operation: Any) -> None:
        """Counted while it runs; one log line when it ends, with the connection's request id
        and this operation's own statements and error codes."""
        metrics = self._metrics()
        if metrics is not None:
            metrics.subscriptions.inc()
        connection = request_context.current()
        token = request_context.begin(connection.request_id) if connection is not None else None
        started = time.monotonic()
        try:
            await super().run_operation(operation)
        finally:
            if metrics is not None:
                metrics.subscriptions.dec()
            stats = request_context.current()
            context = self.context
            log_request(
                operation=operation_name(operation.operation_name, operation.query),
                seconds=time.monotonic() - started, statements=stats.statements if stats is not None else 0,
                user_id=context.viewer_id if isinstance(context, Context) else None,
                codes=self._codes.pop(operation.id, []), status=0, transport="websocket",
            )
            if token is not None:
                request_context.end(token)

    async def send_message(self, message: Any) -> None:
        errors: Any = ()
        if message.get("type") == "error":
            errors = message.get("payload") or ()
        elif message.get("type") == "next":
            errors = (message.get("payload") or {}).get("errors") or ()
        if errors:
            with_request_id(errors)
            if "id" in message:
                self._codes.setdefault(message["id"], error_codes(errors))
        await super().send_message(message)

    @property
    def _codes(self) -> dict[str, list[str]]:
        """The first error codes each operation answered (for its log line)."""
        if not hasattr(self, "_operation_codes"):
            self._operation_codes: dict[str, list[str]] = {}
        return self._operation_codes

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        documents = getattr(getattr(self.view, "state", None), "documents", None)
        payload = message.get("payload")
        if documents is not None and self.connection_acknowledged and isinstance(payload, dict):
            # Persisted and trusted documents hold on websockets too, refused before anything runs.
            try:
                query = documents.resolve(payload.get("query"), payload.get("documentId"), payload.get("extensions"))
            except DocumentRefused as refused:
                refusal = {"message": refused.message, "extensions": {"code": refused.code}}
                await self.send_message({"id": message["id"], "type": "error", "payload": [refusal]})
                return
            if query is not None:
                message = {**message, "payload": {**payload, "query": query}}
        cap = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and cap is not None
            and len(self.operations) >= cap
            and message["id"] not in self.operations
        ):
            error = LimitExceeded(
                f"At most {cap} operations may run at once on one connection.",
                "TOO_MANY_SUBSCRIPTIONS",
                maxSubscriptions=cap,
            )
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [error.formatted]}
            )
            return
        await super().handle_subscribe(message)


class TextFrames(ASGIWebSocketAdapter):
    """Every websocket message goes out as a text frame: graphql-transport-ws requires text, and
    a browser hands a binary frame to the page as a Blob that graphql-ws and GraphiQL refuse."""

    async def send_json(self, message: Any) -> None:
        encoded = self.view.encode_json(message)
        text = encoded.decode("utf-8") if isinstance(encoded, bytes) else encoded
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class ContinuityGraphQL(GraphQL):
    graphql_transport_ws_handler_class = SubscriptionCap
    websocket_adapter_class = TextFrames

    def __init__(self, state: AppState, schema: BaseSchema | None = None, **kwargs: Any) -> None:
        settings = state.settings
        super().__init__(
            schema or create_schema(settings),
            graphql_ide="graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.ws_max_subscriptions,
            # Tokens travel in connection_init, never in cookies, so no origin gains anything a
            # page could not already do: pages on every origin may open a socket.
            allowed_origins=("*",),
            **kwargs,
        )
        self.state = state
        self.http = GraphQLOverHTTP(self, settings.max_body_bytes)
        state.fast_path = self.http.fast

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        # HTTP follows the GraphQL-over-HTTP spec (gql/transport.py); websockets stay strawberry's.
        response = await self.http(Request(scope, receive))
        await response(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql.page(dev_auth=self.state.dev_auth))

    def encode_json(self, data: object) -> bytes:
        # orjson also writes a planner's completed subtree (orjson.Fragment) verbatim.
        return orjson.dumps(data)

    async def get_context(self, request: Any, response: Any) -> Context:  # type: ignore[override]
        return Context(
            app=self.state,
            request=request,
            response=response,
            authorization=request.headers.get("authorization"),
        )


async def serve_metrics(app: Starlette, host: str, port: int) -> Callable[[], Awaitable[None]]:
    """`/metrics` alone on its own port (CONTINUITY_METRICS_PORT), e.g. reachable only by Prometheus."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(), name="continuity-metrics")
    while not server.started:
        if task.done():
            task.result()  # could not bind: fail the start
            break
        await asyncio.sleep(0.01)

    async def stop() -> None:
        server.should_exit = True
        await task

    return stop


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn settings that belong to the limits: a websocket message is a request body too."""
    return {"ws_max_size": settings.max_body_bytes}


def create_app(
    settings: Settings,
    database_url: str,
    *,
    public_url: str,
    dev_auth: bool,
    background: Sequence[Background] | None = None,
    metrics_host: str = "127.0.0.1",
) -> Starlette:
    db = Database(database_url, pool_size=settings.pool_size, max_overflow=settings.max_overflow)
    metrics = Metrics()
    metrics.watch_pool(db.engine)
    state = AppState(
        db=db, settings=settings, dev_auth=dev_auth, public_url=public_url,
        planner=planner_enabled_by_env(), metrics=metrics, documents=Documents.from_settings(settings),
    )
    graphql = ContinuityGraphQL(state)
    settings.media_dir.mkdir(parents=True, exist_ok=True)

    async def metrics_page(_: Request) -> Response:
        try:
            await metrics.read_queue(db)
        except Exception as error:  # the rest of the figures are still worth having
            log.warning("metrics: reading the job queue failed (%s)", type(error).__name__)
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    metrics_routes = [Route("/metrics", metrics_page)]
    own_port = settings.metrics and settings.metrics_port is not None

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        stops: list[Callable[[], Awaitable[None]]] = []
        try:
            for start in background or ():
                stops.append(await start(state))
            metrics.hub = state.events
            if own_port:
                assert settings.metrics_port is not None
                stops.append(await serve_metrics(Starlette(routes=metrics_routes), metrics_host, settings.metrics_port))
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

    rule = cors_rule(settings.cors_origins, dev_auth)
    media = StaticFiles(directory=settings.media_dir, check_dir=False)
    app = Starlette(
        routes=[
            # Every method reaches the view, which answers the unsupported ones with a coded 405.
            Route("/graphql", Cors(graphql, rule)),
            WebSocketRoute("/graphql", graphql),
            Mount(graphiql.ASSETS_PATH, StaticFiles(directory=graphiql.assets_dir()), name="graphiql"),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Mount("/media", Cors(media, rule), name="media"),
            *(metrics_routes if settings.metrics and not own_port else []),
        ],
        middleware=[Middleware(RequestIds)],
        lifespan=lifespan,
    )
    app.state.continuity = state
    return app
