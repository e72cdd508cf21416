"""What one request (or one websocket connection) has done so far: its id, its statements.

Set by the GraphQL layer when a request arrives and read wherever work is done for it: the
units of work count its SQL statements, logs and error answers carry its id. A context
variable, so every task the request starts (loaders, websocket operations) shares it.
"""

from __future__ import annotations

import contextvars
import secrets
from dataclasses import dataclass

MAX_ID = 200


@dataclass
class RequestStats:
    request_id: str
    statements: int = 0


_CURRENT: contextvars.ContextVar[RequestStats | None] = contextvars.ContextVar("continuity_request", default=None)


def current() -> RequestStats | None:
    return _CURRENT.get()


def begin(request_id: str) -> contextvars.Token[RequestStats | None]:
    return _CURRENT.set(RequestStats(request_id))


def end(token: contextvars.Token[RequestStats | None]) -> None:
    _CURRENT.reset(token)


def request_id_from(header: str | None) -> str:
    """The client's X-Request-Id when it is 1-200 visible ASCII characters, else a new one."""
    if header is not None and 1 <= len(header) <= MAX_ID and all("!" <= c <= "~" for c in header):
        return header
    return secrets.token_hex(16)
