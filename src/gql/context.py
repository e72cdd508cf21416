"""The per-request (per-operation, on websockets) context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry

from gql.loaders import Loaders
from services.core import auth
from services.core.config import DEV_USER_ID, Settings
from services.core.errors import Unauthenticated
from services.db.database import Database


@dataclass
class AppState:
    """What lives as long as the server process: shared by every request."""

    db: Database
    settings: Settings
    dev_auth: bool
    public_url: str
    # The image-job event hub (LISTEN/NOTIFY fan-out), when the app runs one.
    events: Any = None
    # The PromptWriter of generateShotPrompts; made from settings.prompt_writer on first use.
    prompt_writer: Any = None
    # Whether plannable selections are answered by one compiled statement (gql.planner).
    planner: bool = True
    # The process's Prometheus metrics (services.core.metrics), when the app keeps them.
    metrics: Any = None
    # Persisted and trusted documents (gql.documents).
    documents: Any = None
    # The HTTP fast path of fully planned queries (gql.planner.fast_path), when it is served.
    fast_path: Any = None


@dataclass
class Context:
    app: AppState
    request: Any = None
    response: Any = None
    authorization: str | None = None
    connection_params: dict[str, Any] | None = None
    # Set when the query planner answered a field of this request (metrics).
    planned: bool = False
    _uid: str | None = field(default=None, init=False)
    _auth_error: Unauthenticated | None = field(default=None, init=False)
    _resolved: bool = field(default=False, init=False)
    _loaders: Loaders | None = field(default=None, init=False)
    # Project.jobEventsCursor of this operation: one read however many projects ask for it.
    job_events_cursor: Any = field(default=None, init=False)

    @property
    def db(self) -> Database:
        return self.app.db

    @property
    def planner(self) -> bool:
        return self.app.planner

    def _authenticate(self) -> None:
        header = self.authorization
        if self.connection_params is not None:
            param = self.connection_params.get("Authorization") or self.connection_params.get(
                "authorization"
            )
            header = param if isinstance(param, str) else header
        try:
            token = auth.bearer(header)
            if token is not None:
                self._uid = auth.verify_token(self.app.settings, token)
            elif self.app.dev_auth:
                self._uid = DEV_USER_ID
            else:
                self._auth_error = Unauthenticated("authentication required: send a Bearer token")
        except Unauthenticated as error:
            self._auth_error = error
        self._resolved = True

    def auth_error(self) -> Unauthenticated | None:
        """Why this request is not authenticated, or None when it is."""
        if not self._resolved:
            self._authenticate()
        return self._auth_error

    @property
    def uid(self) -> str:
        """The viewer's user id; raises UNAUTHENTICATED for a missing or invalid token."""
        if not self._resolved:
            self._authenticate()
        if self._auth_error is not None:
            raise self._auth_error
        assert self._uid is not None
        return self._uid

    @property
    def viewer_id(self) -> str | None:
        """The viewer's id when the request is authenticated, else None; never raises."""
        return None if self.auth_error() is not None else self._uid

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.app.db, self.uid)
        return self._loaders

    def fresh_loaders(self) -> Loaders:
        """Websocket operations share one context: each operation wants its own caches."""
        self.job_events_cursor = None
        self._loaders = Loaders(self.app.db, self.uid)
        return self._loaders


Info = strawberry.Info[Context, None]
