"""The loaders' batch reads of image jobs: by id, and a shot's start and
end frame jobs: one statement per batch of parent keys, keyed by
relation name (the GraphQL layer's loaders pick one and run it with services.db.batches).

Each read selects `_key` (the parent key it answers) and the rows in the list's order
(`services.db.predicates`, shared with the query planner). Ownership is scoped explicitly, on
top of row-level security.
"""

from __future__ import annotations

from services.db.batches import KEYS, reads
from services.db.predicates import frame_job_order, frame_jobs, owned

_SQL: dict[str, str] = {
    # The newest of frame_jobs (a continuing shot's start frame is the previous shot's end frame).
    "end_frame_of_shot": f"""
        select sh.id as _key, j.* from shots sh
          join lateral (select * from image_generation_jobs j where {frame_jobs('sh', 'j', 'end')}
                         order by {frame_job_order('j')} limit 1) j on true
         where sh.id = any({KEYS}) and {owned('sh')}""",
    "start_frame_of_shot": f"""
        select sh.id as _key, j.* from shots sh
          join lateral (select * from image_generation_jobs j where {frame_jobs('sh', 'j', 'start')}
                         order by {frame_job_order('j')} limit 1) j on true
         where sh.id = any({KEYS}) and {owned('sh')}""",
    "image_job": f"""
        select t.id as _key, t.* from image_generation_jobs t
         where t.id = any({KEYS}) and {owned('t')}""",
}

READS = reads(_SQL)
