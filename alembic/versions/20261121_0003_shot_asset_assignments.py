"""Shot asset assignments and transformation events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""


from services.db.ddl import owner_policies, run_script, updated_at_trigger

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UP = """
create table shot_asset_assignments (
    id uuid primary key default gen_random_uuid(),
    project_id uuid not null,
    -- Carried so the database itself ties the shot and the instance to one scene.
    scene_id uuid not null,
    shot_id uuid not null,
    scene_asset_instance_id uuid not null,
    presence_type text not null default 'throughout'
        check (presence_type in ('throughout', 'enters', 'exits', 'passes_through')),
    created_at timestamptz not null default clock_timestamp(),
    updated_at timestamptz not null default clock_timestamp(),
    foreign key (scene_id, project_id) references scenes (id, project_id) on delete cascade,
    foreign key (shot_id, scene_id) references shots (id, scene_id) on delete cascade,
    foreign key (scene_asset_instance_id, scene_id)
        references scene_asset_instances (id, scene_id) on delete cascade,
    unique (shot_id, scene_asset_instance_id)
);
create index shot_assignments_instance_idx on shot_asset_assignments (scene_asset_instance_id);
create index shot_assignments_scene_idx on shot_asset_assignments (scene_id);
create index shot_assignments_project_idx on shot_asset_assignments (project_id);

create table transformation_events (
    id uuid primary key default gen_random_uuid(),
    project_id uuid not null,
    scene_id uuid not null,
    shot_id uuid not null,
    scene_asset_instance_id uuid not null,
    post_description text not null,
    post_image_key_url text,
    created_at timestamptz not null default clock_timestamp(),
    updated_at timestamptz not null default clock_timestamp(),
    foreign key (scene_id, project_id) references scenes (id, project_id) on delete cascade,
    foreign key (shot_id, scene_id) references shots (id, scene_id) on delete cascade,
    foreign key (scene_asset_instance_id, scene_id)
        references scene_asset_instances (id, scene_id) on delete cascade,
    unique (shot_id, scene_asset_instance_id)
);
create index transformation_events_instance_idx on transformation_events (scene_asset_instance_id);
create index transformation_events_scene_idx on transformation_events (scene_id);
create index transformation_events_project_idx on transformation_events (project_id);
"""


def upgrade() -> None:
    run_script(UP)
    for table in ("shot_asset_assignments", "transformation_events"):
        run_script(updated_at_trigger(table))
        run_script(owner_policies(table))


def downgrade() -> None:
    run_script("drop table transformation_events, shot_asset_assignments")
