"""Operations: stored image-job events with resumable positions, retries with backoff, cancel.

Every insert and status change of an image job writes an event row in the same transaction
(a trigger, so no write path can skip it). An event's position is (xid, seq): `seq` is the
insertion order, `xid` at least the writing transaction's id. Readers return only events whose
xid is below the oldest transaction still running (`pg_snapshot_xmin`): every transaction that
could still add an event has a larger id, so what a reader returns is a prefix that never
grows in the middle (docs/operations.md, Job events). `xid` is raised to the job's previous
event's and to the transaction's previous event's, so each job's events stay in commit order
and one transaction's in insertion order.

Revision ID: 0008
Revises: 0009
Create Date: 2026-12-01
"""


from services.db.ddl import OWNED_BY_VIEWER, run_script

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None

UP = f"""
alter table image_generation_jobs
    add column next_attempt_at timestamptz,
    add column cancel_requested_at timestamptz;
alter table image_generation_jobs drop constraint image_generation_jobs_status_check;
alter table image_generation_jobs add constraint image_generation_jobs_status_check
    check (status in ('queued', 'processing', 'completed', 'failed', 'cancelled'));

create table image_job_events (
    xid bigint not null,
    seq bigint generated always as identity,
    project_id uuid not null references projects (id) on delete cascade,
    job_id uuid not null,
    status text not null,
    at timestamptz not null,
    -- The job's row at this event (without the worker's lease owner).
    state jsonb not null,
    primary key (xid, seq)
);
create index image_job_events_job_idx on image_job_events (job_id, xid, seq);
create index image_job_events_project_idx on image_job_events (project_id, xid, seq);
create index image_job_events_at_idx on image_job_events (at);

-- The position of the newest event retention removed: a cursor before it has lost events.
create table image_job_event_horizon (
    singleton boolean primary key default true check (singleton),
    xid bigint not null,
    seq bigint not null
);
insert into image_job_event_horizon (xid, seq) values (0, 0);

create function continuity_record_image_job_event() returns trigger
    language plpgsql security definer set search_path = public, pg_temp as $$
declare
    position_xid bigint := pg_current_xact_id()::text::bigint;
begin
    position_xid := greatest(
        position_xid,
        (select max(e.xid) from image_job_events e where e.job_id = new.id),
        nullif(current_setting('continuity.job_event_xid', true), '')::bigint);
    perform set_config('continuity.job_event_xid', position_xid::text, true);
    insert into image_job_events (xid, project_id, job_id, status, at, state)
    values (position_xid, new.project_id, new.id, new.status, new.updated_at,
            to_jsonb(new) - 'lease_owner');
    return null;
end $$;

create function continuity_refuse_event_change() returns trigger language plpgsql as $$
begin
    raise exception 'image_job_events is append-only';
end $$;

create trigger image_jobs_record_created after insert on image_generation_jobs
    for each row execute function continuity_record_image_job_event();
create trigger image_jobs_record_status after update on image_generation_jobs
    for each row when (old.status is distinct from new.status)
    execute function continuity_record_image_job_event();
create trigger image_job_events_append_only before update on image_job_events
    for each row execute function continuity_refuse_event_change();

-- Jobs made before events were stored get one event each: their state now.
insert into image_job_events (xid, project_id, job_id, status, at, state)
select pg_current_xact_id()::text::bigint, j.project_id, j.id, j.status, j.updated_at,
       to_jsonb(j) - 'lease_owner'
  from image_generation_jobs j
 order by j.updated_at, j.id;

alter table image_job_events enable row level security;
create policy image_job_events_select on image_job_events for select to authenticated
    using ({OWNED_BY_VIEWER});
grant select on image_job_events to authenticated;
-- Positions only, nothing of any project: every user may read it (cursor expiry checks).
alter table image_job_event_horizon enable row level security;
create policy image_job_event_horizon_select on image_job_event_horizon for select to authenticated
    using (true);
grant select on image_job_event_horizon to authenticated;
"""

DOWN = """
drop trigger image_jobs_record_created on image_generation_jobs;
drop trigger image_jobs_record_status on image_generation_jobs;
drop table image_job_events;
drop table image_job_event_horizon;
drop function continuity_record_image_job_event();
drop function continuity_refuse_event_change();
update image_generation_jobs set status = 'failed', error = coalesce(error, 'cancelled')
 where status = 'cancelled';
alter table image_generation_jobs drop constraint image_generation_jobs_status_check;
alter table image_generation_jobs add constraint image_generation_jobs_status_check
    check (status in ('queued', 'processing', 'completed', 'failed'));
alter table image_generation_jobs drop column next_attempt_at, drop column cancel_requested_at;
"""


def upgrade() -> None:
    run_script(UP)


def downgrade() -> None:
    run_script(DOWN)
