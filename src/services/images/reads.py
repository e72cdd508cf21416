"""The loaders' batch reads of image jobs: by id, and a shot's start and
end frame jobs: one statement per batch of parent keys, keyed by
relation name (the GraphQL layer's loaders pick one and run it with services.db.batches).

Each read selects `_key` (the parent key it answers) and the rows in the list's order
(`services.db.predicates`, shared with the query planner). Ownership is scoped explicitly, on
top of row-level security.
"""

from __future__ import annotations

from services.db.batches import KEYS, reads
from services.db.predicates import owned

_SQL: dict[str, str] = {
    # Newest first, cancelled ones left out; a continuing shot's start frame is the previous
    # shot's (Scene.shots order) end frame.
    "end_frame_of_shot": f"""
        select sh.id as _key, j.* from shots sh
          join lateral (select * from image_generation_jobs j
                         where j.shot_id = sh.id and j.job_type = 'end_frame' and j.status <> 'cancelled'
                         order by j.created_at desc, j.id desc limit 1) j on true
         where sh.id = any({KEYS}) and {owned('sh')}""",
    "start_frame_of_shot": f"""
        select sh.id as _key, j.* from shots sh
          left join lateral (select p.id from shots p
                              where p.scene_id = sh.scene_id
                                and (p.shot_order, p.shot_label) < (sh.shot_order, sh.shot_label)
                              order by p.shot_order desc, p.shot_label desc limit 1) prev
                 on sh.continues_from_previous
          join lateral (select * from image_generation_jobs j
                         where j.shot_id = case when sh.continues_from_previous then prev.id else sh.id end
                           and j.job_type = case when sh.continues_from_previous then 'end_frame'
                                                 else 'start_frame' end
                           and j.status <> 'cancelled'
                         order by j.created_at desc, j.id desc limit 1) j on true
         where sh.id = any({KEYS}) and {owned('sh')}""",
    "image_job": f"""
        select t.id as _key, t.* from image_generation_jobs t
         where t.id = any({KEYS}) and {owned('t')}""",
}

READS = reads(_SQL)
