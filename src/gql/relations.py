"""The relations the loaders read (`services.db.reads`), each with the GraphQL type it builds.

Each type module registers its relations beside the type (`@relations(...)` on the class), so
the loaders (`gql.loaders`) know a relation, never a type, and neither module imports the
other. The names are a closed set: mypy checks every `loaders.one("...")` against it, and
tests/test_relations.py checks that each has its read and its type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, Self, TypeVar

# Rows of one entity type each.
RelationName = Literal[
    "project",
    "branch",
    "branches_of_project",
    "scene",
    "scenes_of_branch",
    "prior_scene",
    "shot",
    "shots_of_scene",
    "asset",
    "assets_of_branch",
    "instance",
    "instances_of_scene",
    "instances_of_asset",
    "chain_of_instance",
    "assignment",
    "assignments_of_shot",
    "assignments_of_scene",
    "assignments_of_instance",
    "events_of_shot",
    "image_job",
    "start_frame_of_shot",
    "end_frame_of_shot",
]
# Reads that answer one column per key, not objects (`Loaders.value`).
ValueRelation = Literal["scene_has_assignments", "visual_style_of_branch"]


class Entity(Protocol):
    id: Any

    @classmethod
    def from_row(cls, row: Any) -> Self: ...


E = TypeVar("E", bound=type[Entity])


@dataclass(frozen=True)
class Registered:
    build: Callable[[Any], Any]
    # The by-id relation a list primes with what it read (None: nothing to prime).
    primes: RelationName | None


_REGISTRY: dict[str, Registered] = {}


def relations(*lists: RelationName, by_id: RelationName | None = None) -> Callable[[E], E]:
    """Registers the decorated type as what `by_id` and `lists` build; each list primes `by_id`."""

    def register(cls: E) -> E:
        for name, primes in [(by_id, None), *((name, by_id) for name in lists)]:
            if name is None:
                continue
            if name in _REGISTRY:
                raise ValueError(f"relation {name} is registered twice")
            _REGISTRY[name] = Registered(cls.from_row, primes)
        return cls

    return register


def registered(name: RelationName) -> Registered:
    found = _REGISTRY.get(name)
    if found is None:
        raise LookupError(f"relation {name} has no GraphQL type: is its type module imported (gql.schema)?")
    return found


def registered_names() -> set[str]:
    return set(_REGISTRY)


def handed_on(future: Awaitable[Any]) -> Any:
    """A loader's future returned from a synchronous resolver: graphql-core awaits it, and no
    coroutine is made per field (the loader path's hottest cost after execution itself)."""
    return future
