"""Bearer tokens: HS256 JWTs whose `sub` is the user's UUID."""

from __future__ import annotations

import time
import uuid

import jwt

from services.config import Settings
from services.errors import Unauthenticated


def issue_token(settings: Settings, user_id: str, ttl_seconds: int = 86400) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": str(uuid.UUID(user_id)), "iat": now, "exp": now + ttl_seconds}
    claims["aud"] = settings.jwt_audience or "authenticated"
    claims["role"] = "authenticated"
    return jwt.encode(claims, settings.jwt_secret(), algorithm="HS256")


def verify_token(settings: Settings, token: str) -> str:
    """The user id the token speaks for; any fault is UNAUTHENTICATED."""
    options = {"require": ["sub", "exp"], "verify_aud": settings.jwt_audience is not None}
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret(),
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            options=options,  # type: ignore[arg-type]
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthenticated("token expired") from error
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"invalid token: {error}") from error
    try:
        return str(uuid.UUID(str(claims["sub"])))
    except ValueError as error:
        raise Unauthenticated("invalid token: sub is not a UUID") from error


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` value; None when absent; invalid shapes raise."""
    if header is None or header.strip() == "":
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token>'")
    return token.strip()
