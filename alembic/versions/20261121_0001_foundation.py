"""Foundation: auth helpers, projects, branches, scenes, shots, project assets, stage states.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""


from services.db.ddl import PROJECT_OF_VIEWER, owner_policies, run_script, updated_at_trigger

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MARK = "created by continuity"

AUTH = f"""
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then
        -- A role belongs to the whole server: a migration of another database on it may be
        -- creating it at this moment, and then this one finds it made.
        begin
            create role authenticated nologin;
        exception when duplicate_object or unique_violation then
            null;
        end;
    end if;
    if not exists (select 1 from pg_namespace where nspname = 'auth') then
        create schema auth;
        comment on schema auth is '{MARK}';
        grant usage on schema auth to authenticated;
    end if;
    if not exists (
        select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'auth' and p.proname = 'uid'
    ) then
        create function auth.uid() returns uuid language sql stable as
            $f$ select nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $f$;
        comment on function auth.uid() is '{MARK}';
        grant execute on function auth.uid() to authenticated;
    end if;
end $$;
"""

FUNCTIONS = """
create function continuity_set_updated_at() returns trigger language plpgsql as $$
begin
    new.updated_at := clock_timestamp();
    return new;
end $$;

-- A master asset's version grows whenever what scenes derive from it changes.
create function continuity_bump_asset_version() returns trigger language plpgsql as $$
begin
    if new.description is distinct from old.description
       or new.image_key_url is distinct from old.image_key_url then
        new.version := old.version + 1;
    else
        new.version := old.version;
    end if;
    return new;
end $$;
"""

TABLES = """
create table projects (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null,
    title text not null check (length(title) between 1 and 200),
    active_branch_id uuid,
    created_at timestamptz not null default clock_timestamp(),
    updated_at timestamptz not null default clock_timestamp()
);
create index projects_user_created_idx on projects (user_id, created_at desc, id desc);

create table branches (
    id uuid primary key default gen_random_uuid(),
    project_id uuid not null references projects (id) on delete cascade,
    name text not null check (length(name) between 1 and 200),
    created_at timestamptz not null default clock_timestamp(),
    updated_at timestamptz not null default clock_timestamp(),
    unique (id, project_id),
    unique (project_id, name)
);

alter table projects add constraint projects_active_branch_fk
    foreign key (active_branch_id, id) references branches (id, project_id)
    deferrable initially deferred;

create table scenes (
    id uuid primary key default gen_random_uuid(),
    project_id uuid not null,
    branch_id uuid not null,
    scene_number integer not null check (scene_number > 0),
    slug text not null check (length(slug) between 1 and 200),
    script_excerpt text not null default '',
    status text not null default 'draft',
    end_state_summary text,
    stage_locks jsonb not null default '{}'::jsonb check (jsonb_typeof(stage_locks) = 'object'),
    -- Set once the first assignment is made; the legacy fallback ends for good then.
    assignments_initialized boolean not null default false,
    created_at timestamptz not null default clock_timestamp(),
    updated_at timestamptz not null default clock_timestamp(),
    foreign key (branch_id, project_id) references branches (id, project_id) on delete cascade,
    unique (branch_id, scene_number),
    unique (id, project_id),
    unique (id, branch_id)
);
create index scenes_project_idx on scenes (project_id);

create table shots (
    id uuid primary key default gen_random_uuid(),
    project_id uuid not null,
    scene_id uuid not null,
    shot_label text not null check (length(shot_label) between 1 and 200),
    shot_order integer not null check (shot_order > 0),
    duration_seconds integer not null check (duration_seconds > 0),
    setting text,
    action text,
    camera text,
    frame_prompt text,
    video_prompt text,
    reference_image_order jsonb not null default '[]'::jsonb,
    end_frame_reference_image_order jsonb not null default '[]'::jsonb,
    created_at timestamptz not null default clock_timestamp(),
    updated_at timestamptz not null default clock_timestamp(),
    foreign key (scene_id, project_id) references scenes (id, project_id) on delete cascade,
    unique (scene_id, shot_label),
    unique (id, project_id),
    unique (id, scene_id)
);
create index shots_scene_order_idx on shots (scene_id, shot_order, shot_label);
create index shots_project_idx on shots (project_id);

create table project_assets (
    id uuid primary key default gen_random_uuid(),
    project_id uuid not null,
    branch_id uuid not null,
    name text not null check (length(name) between 1 and 200),
    asset_type text not null check (asset_type in ('character', 'location', 'prop')),
    description text not null,
    image_key_url text,
    visual_style_capsule_id text,
    locked boolean not null default false,
    version integer not null default 1 check (version > 0),
    created_at timestamptz not null default clock_timestamp(),
    updated_at timestamptz not null default clock_timestamp(),
    foreign key (branch_id, project_id) references branches (id, project_id) on delete cascade,
    unique (id, project_id),
    unique (id, branch_id)
);
create unique index project_assets_branch_name_key on project_assets (branch_id, lower(name));
create index project_assets_project_idx on project_assets (project_id);

create table stage_states (
    id uuid primary key default gen_random_uuid(),
    project_id uuid not null,
    branch_id uuid not null,
    stage_number integer not null check (stage_number between 1 and 12),
    version integer not null check (version > 0),
    content jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default clock_timestamp(),
    updated_at timestamptz not null default clock_timestamp(),
    foreign key (branch_id, project_id) references branches (id, project_id) on delete cascade,
    unique (branch_id, stage_number, version)
);
create index stage_states_project_idx on stage_states (project_id);

create trigger project_assets_version before update on project_assets
    for each row execute function continuity_bump_asset_version();
"""

OWNED = ("branches", "scenes", "shots", "project_assets", "stage_states")


def upgrade() -> None:
    run_script(AUTH)
    run_script(FUNCTIONS)
    run_script(TABLES)
    run_script(owner_policies("projects", PROJECT_OF_VIEWER))
    for table in ("projects", *OWNED):
        run_script(updated_at_trigger(table))
    for table in OWNED:
        run_script(owner_policies(table))


def downgrade() -> None:
    run_script("drop table stage_states, project_assets, shots, scenes cascade")
    run_script("alter table projects drop constraint projects_active_branch_fk")
    run_script("drop table branches, projects cascade")
    run_script("drop function continuity_bump_asset_version(), continuity_set_updated_at()")
    run_script(
        f"""
        do $$
        begin
            if exists (
                select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = 'auth' and p.proname = 'uid'
                  and obj_description(p.oid, 'pg_proc') = '{MARK}'
            ) then
                drop function auth.uid();
            end if;
            if exists (
                select 1 from pg_namespace
                where nspname = 'auth' and obj_description(oid, 'pg_namespace') = '{MARK}'
            ) then
                drop schema auth;
            end if;
        end $$;
        """
    )
