"""Revision history of scene asset instances, written by the database itself.

Every change of an instance's state (docs/revisions.md) is recorded in `instance_revisions` in
the same statement that made it, by statement-level triggers reading the transition tables, so
a set-based write (inheriting 500 assets, a propagation, a cascade) costs one more insert, not
one per row. The triggers are SECURITY DEFINER: `authenticated` may only read its own
revisions; nothing lets it write, change or remove one.

A write path names what it is doing in the transaction-local setting
`continuity.revision_kind` (`select set_config('continuity.revision_kind', 'resynced', true)`):
inserts are `created` unless it says bootstrapped, inherited or forked; updates `updated`
unless it says resynced, image_generated, propagated or reverted; deletes are `deleted`;
`none` records nothing (deleting a whole project).

Numbers are 1, 2, 3... per instance: each is the instance's highest number + 1, read when the
statement ends. An update or delete holds the instance's row lock until commit, so the next
writer of that instance reads the committed number (READ COMMITTED takes a new snapshot per
statement of the trigger) and numbers follow commit order without gaps; the unique key
catches anything that would not.

A fork copies an instance's revisions with `continuity_copy_instance_revisions` (the copy
ids chosen beforehand), then inserts the instance copies under kind `forked`: each gets one
FORKED revision numbered after its copied ones.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""


from services.db.ddl import run_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The state of an instance row `x` as a revision stores it (docs/revisions.md, "State").
STATE_COLUMNS = (
    "description_override",
    "effective_description",
    "status_tags",
    "image_key_url",
    "image_is_own",
    "carry_forward",
    "base_version",
)


def _state(x: str) -> str:
    pairs = ", ".join(f"'{c}', {x}.{c}" for c in STATE_COLUMNS)
    return f"jsonb_build_object({pairs})"


def _changed(old: str, new: str) -> str:
    cases = ", ".join(
        f"case when {new}.{c} is distinct from {old}.{c} then '{c}' end" for c in STATE_COLUMNS
    )
    return f"array_remove(array[{cases}]::text[], null)"


def _next_number(x: str) -> str:
    return (
        "coalesce((select max(r.number) from instance_revisions r"
        f" where r.scene_asset_instance_id = {x}.id), 0) + 1"
    )


KINDS = (
    "bootstrapped", "inherited", "created", "forked", "updated", "resynced", "image_generated",
    "propagated", "reverted", "deleted",
)
_KIND_LIST = ", ".join(f"'{k}'" for k in KINDS)
_KIND_SETTING = "nullif(current_setting('continuity.revision_kind', true), '')"
_DEFINER = "security definer set search_path = public, pg_temp"

TABLE = f"""
alter table scene_asset_instances add column edited boolean not null default false;

create table instance_revisions (
    id uuid primary key default gen_random_uuid(),
    project_id uuid not null references projects (id) on delete cascade,
    branch_id uuid not null,
    -- No foreign key to the instance, its scene or its asset: revisions outlive them.
    scene_asset_instance_id uuid not null,
    scene_id uuid not null,
    project_asset_id uuid not null,
    number integer not null check (number > 0),
    kind text not null check (kind in ({_KIND_LIST})),
    changed_fields text[] not null default '{{}}',
    before jsonb,
    after jsonb,
    reason text,
    actor_user_id uuid,
    created_at timestamptz not null default clock_timestamp(),
    foreign key (branch_id, project_id) references branches (id, project_id) on delete cascade,
    unique (scene_asset_instance_id, number),
    check ((after is null) = (kind = 'deleted')),
    check ((before is null) = (kind in ('bootstrapped', 'inherited', 'created')))
);
create index instance_revisions_asset_idx
    on instance_revisions (project_asset_id, created_at desc, id desc);
create index instance_revisions_project_idx on instance_revisions (project_id);

alter table instance_revisions enable row level security;
create policy instance_revisions_select on instance_revisions for select to authenticated
    using (project_id in (select id from projects where user_id = (select auth.uid())));
grant select on instance_revisions to authenticated;
"""

# Existing instances: one CREATED revision each (no actor: the migration made it), and the
# edited flag from what their history shows. No trigger runs: updated_at stays.
BACKFILL = f"""
alter table scene_asset_instances disable trigger user;
update scene_asset_instances
   set edited = true
 where modification_count > 0 or description_override is not null or cardinality(status_tags) > 0;
alter table scene_asset_instances enable trigger user;

insert into instance_revisions (project_id, branch_id, scene_asset_instance_id, scene_id,
                                project_asset_id, number, kind, after)
select i.project_id, i.branch_id, i.id, i.scene_id, i.project_asset_id, 1, 'created', {_state("i")}
  from scene_asset_instances i
 order by i.created_at, i.id;
"""

TRIGGERS = f"""
create function continuity_record_instance_inserts() returns trigger language plpgsql {_DEFINER} as $$
declare
    kind text := coalesce({_KIND_SETTING}, 'created');
begin
    if kind = 'none' then
        return null;
    end if;
    if kind not in ('bootstrapped', 'inherited', 'created', 'forked') then
        kind := 'created';
    end if;
    insert into instance_revisions (project_id, branch_id, scene_asset_instance_id, scene_id,
                                    project_asset_id, number, kind, before, after, actor_user_id)
    select n.project_id, n.branch_id, n.id, n.scene_id, n.project_asset_id, {_next_number("n")},
           kind, case when kind = 'forked' then {_state("n")} end, {_state("n")}, auth.uid()
      from new_rows n;
    return null;
end $$;

create function continuity_record_instance_updates() returns trigger language plpgsql {_DEFINER} as $$
declare
    kind text := coalesce({_KIND_SETTING}, 'updated');
begin
    if kind = 'none' then
        return null;
    end if;
    if kind not in ('updated', 'resynced', 'image_generated', 'propagated', 'reverted') then
        kind := 'updated';
    end if;
    insert into instance_revisions (project_id, branch_id, scene_asset_instance_id, scene_id,
                                    project_asset_id, number, kind, changed_fields, before, after,
                                    reason, actor_user_id)
    select c.project_id, c.branch_id, c.id, c.scene_id, c.project_asset_id, {_next_number("c")},
           kind, c.changed, c.before, c.after,
           case when kind in ('updated', 'reverted') and c.counted then c.modification_reason end,
           auth.uid()
      -- The reason is the one given with this change: the modification tracker keeps the
      -- previous one when the change was not counted.
      from (select n.id, n.project_id, n.branch_id, n.scene_id, n.project_asset_id,
                   n.modification_reason, n.modification_count <> o.modification_count as counted,
                   {_changed("o", "n")} as changed,
                   {_state("o")} as before, {_state("n")} as after
              from new_rows n join old_rows o on o.id = n.id) c
     where cardinality(c.changed) > 0;
    return null;
end $$;

-- A cascade from deleting the whole project (or branch) records nothing: the branch is
-- already gone when the instances go, and its revisions go with it.
create function continuity_record_instance_deletes() returns trigger language plpgsql {_DEFINER} as $$
declare
    kind text := coalesce({_KIND_SETTING}, 'deleted');
begin
    if kind = 'none' then
        return null;
    end if;
    insert into instance_revisions (project_id, branch_id, scene_asset_instance_id, scene_id,
                                    project_asset_id, number, kind, before, actor_user_id)
    select o.project_id, o.branch_id, o.id, o.scene_id, o.project_asset_id, {_next_number("o")},
           'deleted', {_state("o")}, auth.uid()
      from old_rows o
     where exists (select 1 from branches b where b.id = o.branch_id);
    return null;
end $$;

create trigger scene_asset_revisions_insert after insert on scene_asset_instances
    referencing new table as new_rows
    for each statement execute function continuity_record_instance_inserts();
create trigger scene_asset_revisions_update after update on scene_asset_instances
    referencing old table as old_rows new table as new_rows
    for each statement execute function continuity_record_instance_updates();
create trigger scene_asset_revisions_delete after delete on scene_asset_instances
    referencing old table as old_rows
    for each statement execute function continuity_record_instance_deletes();

-- A fork's copy of revisions, with the copies' ids chosen beforehand (row i of each array
-- describes one instance). RLS does not apply inside: the caller must own the target branch,
-- and only revisions of that branch's project are copied.
create function continuity_copy_instance_revisions(
    target_branch_id uuid, source_instance_ids uuid[], target_instance_ids uuid[],
    target_scene_ids uuid[], target_asset_ids uuid[]
) returns integer language plpgsql {_DEFINER} as $$
declare
    copied integer;
begin
    if not exists (
        select 1 from branches b join projects p on p.id = b.project_id
         where b.id = target_branch_id and (auth.uid() is null or p.user_id = auth.uid())
    ) then
        raise exception 'branch % not found', target_branch_id using errcode = '42501';
    end if;
    insert into instance_revisions (project_id, branch_id, scene_asset_instance_id, scene_id,
                                    project_asset_id, number, kind, changed_fields, before, after,
                                    reason, actor_user_id, created_at)
    select b.project_id, b.id, m.target_id, m.scene_id, m.asset_id, r.number, r.kind,
           r.changed_fields, r.before, r.after, r.reason, r.actor_user_id, r.created_at
      from unnest(source_instance_ids, target_instance_ids, target_scene_ids, target_asset_ids)
               as m (source_id, target_id, scene_id, asset_id)
      join branches b on b.id = target_branch_id
      join instance_revisions r on r.scene_asset_instance_id = m.source_id
                               and r.project_id = b.project_id;
    get diagnostics copied = row_count;
    return copied;
end $$;
revoke execute on function continuity_copy_instance_revisions(uuid, uuid[], uuid[], uuid[], uuid[])
    from public;
grant execute on function continuity_copy_instance_revisions(uuid, uuid[], uuid[], uuid[], uuid[])
    to authenticated;
"""

# The modification tracker, now aware of the revision kind: a PROPAGATED or REVERTED change of
# the state counts as a modification even when none of the four tracked columns moved (it
# then names the first changed state column); UPDATED, RESYNCED, REVERTED and IMAGE_GENERATED
# changes mark the instance edited.
TRACKER = f"""
create or replace function continuity_track_instance_modification() returns trigger language plpgsql as $$
declare
    changed text;
    state_changed boolean;
    kind text := coalesce({_KIND_SETTING}, 'updated');
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
    state_changed := changed is not null
        or new.effective_description is distinct from old.effective_description
        or new.image_is_own is distinct from old.image_is_own
        or new.base_version is distinct from old.base_version;
    if kind not in ('none', 'updated', 'resynced', 'image_generated', 'propagated', 'reverted') then
        kind := 'updated';
    end if;
    if changed is null and state_changed and kind in ('propagated', 'reverted') then
        changed := case
            when new.effective_description is distinct from old.effective_description
                then 'effective_description'
            when new.image_is_own is distinct from old.image_is_own then 'image_is_own'
            else 'base_version' end;
    end if;
    if changed is null then
        new.modification_count := old.modification_count;
        new.last_modified_field := old.last_modified_field;
        new.modification_reason := old.modification_reason;
    else
        new.modification_count := old.modification_count + 1;
        new.last_modified_field := changed;
    end if;
    if state_changed and kind in ('updated', 'resynced', 'reverted', 'image_generated') then
        new.edited := true;
    end if;
    return new;
end $$;
"""

OLD_TRACKER = """
create or replace function continuity_track_instance_modification() returns trigger language plpgsql as $$
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
"""


def upgrade() -> None:
    run_script(TABLE)
    run_script(BACKFILL)
    run_script(TRIGGERS)
    run_script(TRACKER)


def downgrade() -> None:
    run_script(OLD_TRACKER)
    run_script(
        """
        drop trigger scene_asset_revisions_insert on scene_asset_instances;
        drop trigger scene_asset_revisions_update on scene_asset_instances;
        drop trigger scene_asset_revisions_delete on scene_asset_instances;
        drop function continuity_record_instance_inserts();
        drop function continuity_record_instance_updates();
        drop function continuity_record_instance_deletes();
        drop function continuity_copy_instance_revisions(uuid, uuid[], uuid[], uuid[], uuid[]);
        drop table instance_revisions;
        alter table scene_asset_instances drop column edited;
        """
    )
