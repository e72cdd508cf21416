"""Scene asset instances: per-scene asset state, its base, inheritance link, modification tracking.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""


from services.db.ddl import owner_policies, run_script, updated_at_trigger

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UP = """
create table scene_asset_instances (
    id uuid primary key default gen_random_uuid(),
    project_id uuid not null,
    -- Carried so the database itself ties the scene and the asset to one branch.
    branch_id uuid not null,
    scene_id uuid not null,
    project_asset_id uuid not null,
    description_override text,
    image_key_url text,
    status_tags text[] not null default '{}',
    carry_forward boolean not null default true,
    inherited_from_instance_id uuid,
    effective_description text not null,
    -- The base: what the instance was derived from.
    base_version integer not null,
    base_description text not null,
    base_image_key_url text,
    image_is_own boolean not null default false,
    modification_count integer not null default 0,
    last_modified_field text,
    modification_reason text,
    created_at timestamptz not null default clock_timestamp(),
    updated_at timestamptz not null default clock_timestamp(),
    foreign key (scene_id, branch_id) references scenes (id, branch_id) on delete cascade,
    foreign key (scene_id, project_id) references scenes (id, project_id) on delete cascade,
    foreign key (project_asset_id, branch_id) references project_assets (id, branch_id)
        on delete cascade,
    foreign key (inherited_from_instance_id, project_id)
        references scene_asset_instances (id, project_id)
        on delete set null (inherited_from_instance_id),
    check (inherited_from_instance_id is distinct from id),
    unique (scene_id, project_asset_id),
    unique (id, project_id),
    unique (id, scene_id)
);
create index scene_instances_asset_idx on scene_asset_instances (project_asset_id);
create index scene_instances_inherited_idx on scene_asset_instances (inherited_from_instance_id);
create index scene_instances_project_idx on scene_asset_instances (project_id);

-- Counts an update only when a tracked column really changes, and names the first one.
create function continuity_track_instance_modification() returns trigger language plpgsql as $$
declare
    changed text;
begin
    if new.description_override is distinct from old.description_override then
        changed := 'description_override';
    elsif new.status_tags is distinct from old.status_tags then
        changed := 'status_tags';
    elsif new.image_key_url is distinct from old.image_key_url then
        changed := 'image_key_url';
    elsif new.carry_forward is distinct from old.carry_forward then
        changed := 'carry_forward';
    end if;
    if changed is null then
        new.modification_count := old.modification_count;
        new.last_modified_field := old.last_modified_field;
        new.modification_reason := old.modification_reason;
    else
        new.modification_count := old.modification_count + 1;
        new.last_modified_field := changed;
    end if;
    return new;
end $$;

create trigger scene_asset_modification_tracker before update on scene_asset_instances
    for each row execute function continuity_track_instance_modification();
"""


def upgrade() -> None:
    run_script(UP)
    run_script(updated_at_trigger("scene_asset_instances"))
    run_script(owner_policies("scene_asset_instances"))


def downgrade() -> None:
    run_script("drop table scene_asset_instances")
    run_script("drop function continuity_track_instance_modification()")
