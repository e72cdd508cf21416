"""Image generation jobs: a durable queue with leases, announced through NOTIFY.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""


from services.db.ddl import owner_policies, run_script, updated_at_trigger

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UP = """
create table image_generation_jobs (
    id uuid primary key default gen_random_uuid(),
    project_id uuid not null references projects (id) on delete cascade,
    branch_id uuid not null,
    job_type text not null
        check (job_type in ('master_asset', 'scene_asset', 'start_frame', 'end_frame', 'inpaint')),
    status text not null default 'queued'
        check (status in ('queued', 'processing', 'completed', 'failed')),
    prompt text not null,
    width integer not null check (width > 0),
    height integer not null check (height > 0),
    visual_style_capsule_id text,
    scene_id uuid,
    shot_id uuid,
    project_asset_id uuid,
    scene_asset_instance_id uuid,
    reference_images jsonb not null default '[]'::jsonb,
    storage_path text,
    image_url text,
    error text,
    idempotency_key text not null,
    attempts integer not null default 0,
    max_attempts integer not null default 3,
    lease_owner text,
    lease_expires_at timestamptz,
    created_at timestamptz not null default clock_timestamp(),
    updated_at timestamptz not null default clock_timestamp(),
    started_at timestamptz,
    completed_at timestamptz,
    foreign key (branch_id, project_id) references branches (id, project_id) on delete cascade,
    -- A job outlives what it was made for: its links are cleared, the job stays.
    foreign key (scene_id, project_id) references scenes (id, project_id)
        on delete set null (scene_id),
    foreign key (shot_id, project_id) references shots (id, project_id)
        on delete set null (shot_id),
    foreign key (project_asset_id, project_id) references project_assets (id, project_id)
        on delete set null (project_asset_id),
    foreign key (scene_asset_instance_id, project_id)
        references scene_asset_instances (id, project_id)
        on delete set null (scene_asset_instance_id),
    unique (project_id, idempotency_key)
);
create index image_jobs_claim_idx on image_generation_jobs (created_at)
    where status in ('queued', 'processing');
create index image_jobs_instance_idx on image_generation_jobs (scene_asset_instance_id);

-- Every status change is announced, whichever process made it; delivered at commit.
create function continuity_announce_image_job() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' or new.status is distinct from old.status then
        perform pg_notify('continuity_image_jobs', json_build_object(
            'id', new.id, 'project_id', new.project_id, 'status', new.status)::text);
    end if;
    return null;
end $$;

create trigger image_jobs_announce after insert or update on image_generation_jobs
    for each row execute function continuity_announce_image_job();
"""


def upgrade() -> None:
    run_script(UP)
    run_script(updated_at_trigger("image_generation_jobs"))
    run_script(owner_policies("image_generation_jobs"))


def downgrade() -> None:
    run_script("drop table image_generation_jobs")
    run_script("drop function continuity_announce_image_job()")
