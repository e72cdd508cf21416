"""Image job announcements carry the job's state at that change, not only its status.

A subscriber that reads the row when the announcement arrives may already see a later
state (a fast worker finishes before the read): the message would skip PROCESSING. So the
payload is the row itself, minus the two columns a job never changes after it is made
(prompt, reference images: read once per job) and the worker's lease; a row too large for
a notification falls back to the bare id, project and status.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""


from services.db.ddl import run_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UP = """
create or replace function continuity_announce_image_job() returns trigger language plpgsql as $$
declare
    payload text;
begin
    if tg_op = 'INSERT' or new.status is distinct from old.status then
        payload := (to_jsonb(new) - 'prompt' - 'reference_images' - 'lease_owner')::text;
        -- pg_notify refuses payloads of 8000 bytes or more, which would fail the transaction.
        if octet_length(payload) > 7900 then
            payload := json_build_object(
                'id', new.id, 'project_id', new.project_id, 'status', new.status)::text;
        end if;
        perform pg_notify('continuity_image_jobs', payload);
    end if;
    return null;
end $$;
"""

DOWN = """
create or replace function continuity_announce_image_job() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' or new.status is distinct from old.status then
        perform pg_notify('continuity_image_jobs', json_build_object(
            'id', new.id, 'project_id', new.project_id, 'status', new.status)::text);
    end if;
    return null;
end $$;
"""


def upgrade() -> None:
    run_script(UP)


def downgrade() -> None:
    run_script(DOWN)
