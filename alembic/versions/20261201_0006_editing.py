"""Editing the film: story day and time of day, shot handoffs, link times, forks, and chains
that follow the story.

- `scenes.story_day`, `scenes.time_of_day`; `shots.continues_from_previous`.
- `scene_asset_instances.linked_at`: when `inherited_from_instance_id` was last set (creation,
  or a relink by chain repair). Existing rows take their creation time.
- `branches.forked_from_branch_id`: the branch a fork was copied from (same project).
- `unique (branch_id, scene_number)` becomes deferrable, so one statement can shift a run of
  scene numbers by one (moveScene) without tripping over itself halfway.
- `updated_at` of scenes and shots moves only when a field a client edits really changes (see
  docs/editing.md), not on stage invalidation or written prompts.
- Every branch's chains are repaired once: each instance links to its asset's instance in the
  latest earlier scene that has one (the rule docs/editing.md describes).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""


from services.db.ddl import run_script, updated_at_trigger

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UP = """
alter table scenes
    add column story_day integer check (story_day > 0),
    add column time_of_day text check (time_of_day in ('day', 'night', 'dawn', 'dusk'));

alter table shots add column continues_from_previous boolean not null default false;

alter table scene_asset_instances add column linked_at timestamptz;
update scene_asset_instances set linked_at = created_at;
alter table scene_asset_instances
    alter column linked_at set default clock_timestamp(),
    alter column linked_at set not null;

alter table branches add column forked_from_branch_id uuid;
alter table branches add constraint branches_forked_from_fk
    foreign key (forked_from_branch_id, project_id) references branches (id, project_id)
    on delete set null (forked_from_branch_id);
-- Branch names are unique in a project ignoring case (a fork names its branch).
create unique index branches_project_lower_name_key on branches (project_id, lower(name));

alter table scenes drop constraint scenes_branch_id_scene_number_key;
alter table scenes add constraint scenes_branch_id_scene_number_key
    unique (branch_id, scene_number) deferrable initially immediate;

-- Only a real change of what a client edits moves updated_at (optimistic concurrency compares it).
create function continuity_scene_updated_at() returns trigger language plpgsql as $$
begin
    if row(new.slug, new.script_excerpt, new.end_state_summary, new.story_day, new.time_of_day,
           new.scene_number)
       is distinct from
       row(old.slug, old.script_excerpt, old.end_state_summary, old.story_day, old.time_of_day,
           old.scene_number) then
        new.updated_at := clock_timestamp();
    else
        new.updated_at := old.updated_at;
    end if;
    return new;
end $$;

create function continuity_shot_updated_at() returns trigger language plpgsql as $$
begin
    if row(new.shot_label, new.duration_seconds, new.setting, new.action, new.camera,
           new.continues_from_previous, new.shot_order)
       is distinct from
       row(old.shot_label, old.duration_seconds, old.setting, old.action, old.camera,
           old.continues_from_previous, old.shot_order) then
        new.updated_at := clock_timestamp();
    else
        new.updated_at := old.updated_at;
    end if;
    return new;
end $$;

drop trigger scenes_updated_at on scenes;
create trigger scenes_updated_at before update on scenes
    for each row execute function continuity_scene_updated_at();
drop trigger shots_updated_at on shots;
create trigger shots_updated_at before update on shots
    for each row execute function continuity_shot_updated_at();

-- Chain repair of every branch, once (the same statement the services run per branch).
with ordered as (
    select i.id,
           lag(i.id) over (partition by i.branch_id, i.project_asset_id
                           order by s.scene_number) as parent
      from scene_asset_instances i
      join scenes s on s.id = i.scene_id)
update scene_asset_instances i
   set inherited_from_instance_id = o.parent, linked_at = clock_timestamp()
  from ordered o
 where i.id = o.id and i.inherited_from_instance_id is distinct from o.parent;
"""

DOWN = """
drop trigger scenes_updated_at on scenes;
drop trigger shots_updated_at on shots;
drop function continuity_scene_updated_at();
drop function continuity_shot_updated_at();

alter table scenes drop constraint scenes_branch_id_scene_number_key;
alter table scenes add constraint scenes_branch_id_scene_number_key unique (branch_id, scene_number);

drop index branches_project_lower_name_key;
alter table branches drop constraint branches_forked_from_fk;
alter table branches drop column forked_from_branch_id;
alter table scene_asset_instances drop column linked_at;
alter table shots drop column continues_from_previous;
alter table scenes drop column story_day, drop column time_of_day;
"""


def upgrade() -> None:
    run_script(UP)


def downgrade() -> None:
    run_script(DOWN)
    for table in ("scenes", "shots"):
        run_script(updated_at_trigger(table))
