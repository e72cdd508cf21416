"""Continuity report and shot readiness: what a shot's prompts were written from, and the indexes
the report's and readiness's set-based reads use.

`shots.prompt_inputs` holds, as generateShotPrompts saw them, the inputs its prompts were written
from (setting, action, camera, and each asset of the shot with its presence, name, effective
description and tags, in asset order). Readiness compares it with the same inputs now, so
"prompts stale" is an exact comparison, never a timestamp. Null for prompts written before it
existed: those count as stale until the prompts are generated again (see docs/continuity.md).

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01
"""


from services.db.ddl import run_script

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

UP = """
alter table shots add column prompt_inputs jsonb;

-- STALE_IMAGE: the completed SCENE_ASSET job that made an instance's own image, by its URL.
create index image_jobs_scene_asset_image_idx on image_generation_jobs (project_id, image_url)
    where job_type = 'scene_asset' and status = 'completed';
-- Readiness: a shot's newest completed frame jobs.
create index image_jobs_shot_frames_idx on image_generation_jobs (shot_id, job_type, completed_at)
    where shot_id is not null and status = 'completed';
"""

DOWN = """
drop index image_jobs_shot_frames_idx;
drop index image_jobs_scene_asset_image_idx;
alter table shots drop column prompt_inputs;
"""


def upgrade() -> None:
    run_script(UP)


def downgrade() -> None:
    run_script(DOWN)
