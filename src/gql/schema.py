"""The served schema: query, mutation and subscription roots merged from their modules."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types.execution import ExecutionContext

from gql.errors import ErrorCodes
from gql.limits import Limits, LimitSettings, Verdicts
from gql.mutations.casting import CastingMutation
from gql.mutations.editing import EditingMutation
from gql.mutations.film import FilmMutation
from gql.mutations.images import ImageMutation
from gql.mutations.instances import InstanceMutation
from gql.mutations.revisions import RevisionMutation
from gql.planner.executor import PlanningExecutionContext
from gql.queries import Query
from gql.scalars import SCALAR_MAP
from gql.subscriptions import OperationLoaders, Subscription
from services.core.config import Settings, load_settings

MUTATIONS: tuple[type, ...] = (
    FilmMutation,
    EditingMutation,
    InstanceMutation,
    CastingMutation,
    ImageMutation,
    RevisionMutation,
)
SUBSCRIPTION: type | None = Subscription


class ContinuitySchema(strawberry.Schema):
    # The limits' and validation's verdicts (gql.limits), shared with the fast path.
    verdicts: Verdicts | None = None

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors are answers, not incidents: ErrorCodes logs only the unexpected ones."""


def create_schema(settings: Settings | None = None) -> ContinuitySchema:
    settings = settings or load_settings()
    verdicts = Verdicts(LimitSettings.of(settings))
    extensions: list[Any] = [
        ErrorCodes,
        OperationLoaders,
        # Depth, aliases, cost, tokens, operations, duplicates (docs/limits.md); it also caches
        # validation, in place of strawberry's ValidationCache.
        lambda: Limits(verdicts),
        lambda: ParserCache(maxsize=256),
    ]
    schema = ContinuitySchema(
        query=Query,
        mutation=merge_types("Mutation", MUTATIONS),
        subscription=SUBSCRIPTION,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=extensions,
        execution_context_class=PlanningExecutionContext,
    )
    schema.verdicts = verdicts
    return schema


def schema_sdl() -> str:
    return create_schema().as_str() + "\n"
