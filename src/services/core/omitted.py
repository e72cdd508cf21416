"""The marker of an input field the client did not send, as opposed to one sent as null.

Update inputs keep the difference (docs/errors.md, *Explicit nulls*): an omitted field is left
as it is, a null one is cleared or refused. A one-member enum rather than a bare `object()`,
so that `value is OMITTED` narrows `str | None | Omitted` to `str | None` for mypy.
"""

from __future__ import annotations

import enum
from typing import Final, TypeAlias, TypeVar


class Omitted(enum.Enum):
    OMITTED = "omitted"

    def __repr__(self) -> str:
        return "OMITTED"


OMITTED: Final = Omitted.OMITTED

T = TypeVar("T")

# A field that may be left out: `Maybe[str | None]` is a string, a null or nothing sent.
Maybe: TypeAlias = T | Omitted
