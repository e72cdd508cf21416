"""Domain errors. Each carries the code clients branch on; the GraphQL layer maps them."""

from __future__ import annotations


class DomainError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class NotFound(DomainError):
    code = "NOT_FOUND"


class BadUserInput(DomainError):
    code = "BAD_USER_INPUT"


class Conflict(DomainError):
    code = "CONFLICT"


class SceneNotEmpty(DomainError):
    code = "SCENE_NOT_EMPTY"


class TemporalParadox(DomainError):
    code = "TEMPORAL_PARADOX"


class VisualStyleRequired(DomainError):
    code = "VISUAL_STYLE_REQUIRED"


class ServiceUnavailable(DomainError):
    """The database cannot be reached right now; the request may be retried."""

    code = "SERVICE_UNAVAILABLE"


def not_found(kind: str, ident: object) -> NotFound:
    return NotFound(f"{kind} {ident} not found")
