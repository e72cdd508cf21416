"""Subscription root: live image-job updates over graphql-transport-ws."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Iterator

import strawberry
from strawberry.extensions import SchemaExtension

from gql.context import Context, Info
from gql.inputs import optional
from gql.types.images import ImageJob, ImageJobEvent
from services.core.errors import BadUserInput, DomainError
from services.images import event_stream, jobs
from services.images.events import Position


class JobEventsUnavailable(DomainError):
    """The process runs no job-event hub (an app built without `background.job_events`)."""


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "Every status change of the given job, or of every job of the given project. "
            "One of the two arguments is required."
        )
    )
    async def image_job_updated(
        self,
        info: Info,
        project_id: uuid.UUID | None = strawberry.UNSET,
        job_id: uuid.UUID | None = strawberry.UNSET,
    ) -> AsyncGenerator[ImageJob, None]:
        ctx = info.context
        uid = ctx.uid
        # An argument sent as null counts as left out (docs/errors.md, Explicit nulls).
        project, job = optional(project_id), optional(job_id)
        if (project is None) == (job is None):
            raise BadUserInput("imageJobUpdated takes exactly one of projectId and jobId")
        hub = ctx.app.events
        if hub is None:
            raise JobEventsUnavailable("this server process does not relay job updates")
        if job is not None:
            rows = jobs.watch_job(ctx.db, uid, hub, job)
        else:
            assert project is not None
            rows = jobs.watch_project(ctx.db, uid, hub, project)
        try:
            async for row in rows:
                yield ImageJob.from_row(row)
        finally:
            await rows.aclose()

    @strawberry.subscription(
        description=(
            "Stored events of the project's (or the job's) image jobs after the cursor, then live ones: "
            "none missed, none twice."
        )
    )
    async def image_job_events(
        self,
        info: Info,
        project_id: uuid.UUID | None = strawberry.UNSET,
        job_id: uuid.UUID | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> AsyncGenerator[ImageJobEvent, None]:
        ctx = info.context
        uid = ctx.uid
        # An explicit null is the same as leaving the argument out.
        project_id, job_id, after = optional(project_id), optional(job_id), optional(after)
        if (project_id is None) == (job_id is None):
            raise BadUserInput("imageJobEvents takes exactly one of projectId and jobId")
        position = None
        if after is not None:
            try:
                position = Position.decode(after)
            except ValueError:
                raise BadUserInput("after: not a cursor of imageJobEvents or Project.jobEventsCursor") from None
        hub = ctx.app.events
        if hub is None:
            raise JobEventsUnavailable("this server process does not relay job events")
        events = event_stream.stream_events(
            ctx.db, uid, hub, project_id=project_id, job_id=job_id, after=position
        )
        try:
            async for event in events:
                yield ImageJobEvent.of(event)
        finally:
            await events.aclose()


class OperationLoaders(SchemaExtension):
    """A websocket keeps one context for all its operations: each operation gets fresh
    DataLoaders, so a long-lived socket never answers from an old operation's cache."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and context.connection_params is not None:
            try:
                context.fresh_loaders()
            except DomainError:  # not authenticated: the operation itself reports it
                pass
        yield
