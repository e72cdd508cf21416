"""The ownership predicate every service lookup carries, on top of row-level security.

Defined in `services.db.predicates`; services import it from here by habit."""

from services.db.predicates import owned

__all__ = ["owned"]
