"""Bearer tokens: HS256 JWTs whose `sub` is the user's UUID."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict

import jwt

from services.core.config import Settings
from services.core.errors import Unauthenticated


def issue_token(settings: Settings, user_id: str, ttl_seconds: int = 86400) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": str(uuid.UUID(user_id)), "iat": now, "exp": now + ttl_seconds}
    claims["aud"] = settings.jwt_audience or "authenticated"
    claims["role"] = "authenticated"
    return jwt.encode(claims, settings.jwt_secret(), algorithm="HS256")


# Tokens already verified: (secret source, audience, token) -> (user id, exp). A client sends
# the same token with every request; checking its signature again cost about a third of a
# millisecond per request. The expiry is still checked on every use.
_VERIFIED: OrderedDict[tuple[str | None, str, str | None, str], tuple[str, float]] = OrderedDict()
_VERIFIED_SIZE = 4096


def verify_token(settings: Settings, token: str) -> str:
    """The user id the token speaks for; any fault is UNAUTHENTICATED."""
    key = (settings.jwt_secret_env, str(settings.data_dir), settings.jwt_audience, token)
    known = _VERIFIED.get(key)
    if known is not None:
        user_id, expires = known
        if expires <= time.time():
            raise Unauthenticated("token expired")
        return user_id
    user_id, expires = _verify(settings, token)
    _VERIFIED[key] = (user_id, expires)
    if len(_VERIFIED) > _VERIFIED_SIZE:
        _VERIFIED.popitem(last=False)
    return user_id


def _verify(settings: Settings, token: str) -> tuple[str, float]:
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
        return str(uuid.UUID(str(claims["sub"]))), float(claims["exp"])
    except (TypeError, ValueError) as error:
        raise Unauthenticated("invalid token: sub is not a UUID") from error


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` value; None when absent; invalid shapes raise."""
    if header is None or header.strip() == "":
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token>'")
    return token.strip()
