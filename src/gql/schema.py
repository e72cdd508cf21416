"""The served schema: query, mutation and subscription roots merged from their modules."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
    max_aliases,
    query_depth_limiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types.execution import ExecutionContext

from gql.errors import ErrorCodes
from gql.mutations.film import FilmMutation
from gql.mutations.instances import InstanceMutation
from gql.planner.executor import PlanningExecutionContext
from gql.queries import Query
from gql.scalars import SCALAR_MAP
from services.config import Settings, load_settings

MUTATIONS: tuple[type, ...] = (FilmMutation, InstanceMutation)
SUBSCRIPTION: type | None = None


class ContinuitySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors are answers, not incidents: ErrorCodes logs only the unexpected ones."""


def create_schema(settings: Settings | None = None) -> ContinuitySchema:
    settings = settings or load_settings()
    # The depth and alias rules are built once: QueryDepthLimiter and MaxAliasesLimiter make a
    # new rule class per instance (per request), which misses the validation cache every time
    # (about 9 ms of validation per benchmark request).
    limits: list[type[ASTValidationRule]] = [
        query_depth_limiter.create_validator(settings.max_depth, None, None),
        max_aliases.create_validator(settings.max_aliases),
    ]
    extensions: list[Any] = [
        ErrorCodes,
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules(limits),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ]
    return ContinuitySchema(
        query=Query,
        mutation=merge_types("Mutation", MUTATIONS),
        subscription=SUBSCRIPTION,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=extensions,
        execution_context_class=PlanningExecutionContext,
    )


def schema_sdl() -> str:
    return create_schema().as_str() + "\n"
