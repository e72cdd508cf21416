"""Mutation timings: each mutation through GraphQL against its own single-statement SQL core.

The mutations belong to other work (instances, assignments, prompts); one the server does not
serve yet is skipped with a message. Between repetitions the fixture is reset as the system.
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

import asyncpg
import httpx

from services.db.predicates import asset_order

REPEAT = 3

INHERIT = "mutation($s: UUID!) { inheritSceneAssets(sceneId: $s) { count } }"
PROPAGATE = "mutation($s: UUID!) { propagateSceneAssetInstance(id: $s) { unchangedCount updated { id } } }"
POPULATE = "mutation($s: UUID!) { autoPopulateShotAssignments(sceneId: $s) { created existing } }"
PROMPTS = "mutation($s: UUID!) { generateShotPrompts(sceneId: $s) { id } }"
FORK = "mutation($s: UUID!, $n: String!) { forkBranch(branchId: $s, name: $n) { id } }"
MOVE = "mutation($s: UUID!, $n: Int!) { moveScene(id: $s, sceneNumber: $n) { id } }"

# The hand-written cores: what each mutation must do at least, in one statement.
INHERIT_CORE = """
insert into scene_asset_instances (project_id, branch_id, scene_id, project_asset_id,
    description_override, image_key_url, status_tags, carry_forward, inherited_from_instance_id,
    effective_description, base_version, base_description, base_image_key_url, image_is_own)
select p.project_id, p.branch_id, $2::uuid, p.project_asset_id,
       case when p.carry_forward then p.description_override end,
       case when p.carry_forward then p.image_key_url else a.image_key_url end,
       case when p.carry_forward then p.status_tags else '{}' end,
       p.carry_forward, p.id,
       case when p.carry_forward then p.effective_description else a.description end,
       case when p.carry_forward then p.base_version else a.version end,
       case when p.carry_forward then p.base_description else a.description end,
       case when p.carry_forward then p.base_image_key_url else a.image_key_url end,
       p.carry_forward and p.image_is_own
  from scene_asset_instances p join project_assets a on a.id = p.project_asset_id
 where p.scene_id = $1::uuid
"""
POPULATE_CORE = """
insert into shot_asset_assignments (project_id, scene_id, shot_id, scene_asset_instance_id, presence_type)
select i.project_id, i.scene_id, sh.id, i.id, 'throughout'
  from scene_asset_instances i join shots sh on sh.scene_id = i.scene_id
 where i.scene_id = $1::uuid
   and not exists (select 1 from shot_asset_assignments x
                    where x.shot_id = sh.id and x.scene_asset_instance_id = i.id)
"""
ASSET_ORDER = asset_order("a")
# Both prompts and both stored image lists of every shot, in asset order (positions left out).
PROMPTS_CORE = f"""
update shots sh
   set frame_prompt = p.frame, video_prompt = p.video,
       reference_image_order = p.start_images, end_frame_reference_image_order = p.end_images
  from (select sh.id,
               concat_ws(E'\\n', sh.setting, sh.action, sh.camera,
                         string_agg(case when x.presence_type in ('throughout', 'exits')
                                         then a.name || ': ' || i.effective_description
                                              || coalesce(' [' || nullif(array_to_string(i.status_tags, ', '), '') || ']', '')
                                    end, E'\\n' order by {ASSET_ORDER})) as frame,
               concat_ws(E'\\n', sh.action, sh.camera,
                         string_agg(case x.presence_type
                                        when 'enters' then a.name || ' enters the frame.'
                                        when 'exits' then a.name || ' exits the frame.'
                                        when 'passes_through' then 'Midway through the shot, ' || a.name
                                             || ' (' || i.effective_description || ') passes through the frame.'
                                    end, E'\\n' order by {ASSET_ORDER})) as video,
               coalesce(jsonb_agg(jsonb_build_object(
                            'scene_asset_instance_id', i.id, 'project_asset_id', a.id, 'asset_name', a.name,
                            'asset_type', a.asset_type, 'image_url', coalesce(i.image_key_url, a.image_key_url))
                        order by {ASSET_ORDER})
                        filter (where x.presence_type in ('throughout', 'exits')
                                  and coalesce(i.image_key_url, a.image_key_url) is not null), '[]') as start_images,
               coalesce(jsonb_agg(jsonb_build_object(
                            'scene_asset_instance_id', i.id, 'project_asset_id', a.id, 'asset_name', a.name,
                            'asset_type', a.asset_type, 'image_url', coalesce(i.image_key_url, a.image_key_url))
                        order by {ASSET_ORDER})
                        filter (where x.presence_type in ('throughout', 'enters')
                                  and coalesce(i.image_key_url, a.image_key_url) is not null), '[]') as end_images
          from shots sh
          join shot_asset_assignments x on x.shot_id = sh.id
          join scene_asset_instances i on i.id = x.scene_asset_instance_id
          join project_assets a on a.id = i.project_asset_id
         where sh.scene_id = $1::uuid
         group by sh.id) p
 where sh.id = p.id
"""

# The whole deep copy in one statement: ids mapped in a CTE, every table copied from it (the
# foreign keys are checked at the statement's end). Stored reference lists are copied as they
# are; the API also translates their ids into the fork.
FORK_CORE = """
with m as materialized (
    select id as old_id, gen_random_uuid() as new_id from project_assets where branch_id = $1::uuid
    union all select id, gen_random_uuid() from scenes where branch_id = $1::uuid
    union all select id, gen_random_uuid() from scene_asset_instances where branch_id = $1::uuid
    union all select sh.id, gen_random_uuid() from shots sh join scenes s on s.id = sh.scene_id
               where s.branch_id = $1::uuid),
br as (insert into branches (id, project_id, name, forked_from_branch_id)
       select $2::uuid, project_id, 'core fork', id from branches where id = $1::uuid),
a as (insert into project_assets (id, project_id, branch_id, name, asset_type, description, image_key_url,
                                  visual_style_capsule_id, locked, version)
      select m.new_id, a.project_id, $2::uuid, a.name, a.asset_type, a.description, a.image_key_url,
             a.visual_style_capsule_id, a.locked, a.version
        from project_assets a join m on m.old_id = a.id),
st as (insert into stage_states (project_id, branch_id, stage_number, version, content)
       select project_id, $2::uuid, stage_number, version, content from stage_states where branch_id = $1::uuid),
sc as (insert into scenes (id, project_id, branch_id, scene_number, slug, script_excerpt, status,
                           end_state_summary, stage_locks, assignments_initialized)
       select m.new_id, s.project_id, $2::uuid, s.scene_number, s.slug, s.script_excerpt, s.status,
              s.end_state_summary, s.stage_locks, s.assignments_initialized
         from scenes s join m on m.old_id = s.id),
i as (insert into scene_asset_instances (id, project_id, branch_id, scene_id, project_asset_id,
          description_override, image_key_url, status_tags, carry_forward, inherited_from_instance_id,
          effective_description, base_version, base_description, base_image_key_url, image_is_own,
          modification_count, last_modified_field, modification_reason)
      select mi.new_id, i.project_id, $2::uuid, ms.new_id, ma.new_id, i.description_override, i.image_key_url,
             i.status_tags, i.carry_forward, mp.new_id, i.effective_description, i.base_version,
             i.base_description, i.base_image_key_url, i.image_is_own, i.modification_count,
             i.last_modified_field, i.modification_reason
        from scene_asset_instances i
        join m mi on mi.old_id = i.id join m ms on ms.old_id = i.scene_id join m ma on ma.old_id = i.project_asset_id
        left join m mp on mp.old_id = i.inherited_from_instance_id),
sh as (insert into shots (id, project_id, scene_id, shot_label, shot_order, duration_seconds, setting, action,
                          camera, frame_prompt, video_prompt, reference_image_order, end_frame_reference_image_order)
       select msh.new_id, sh.project_id, ms.new_id, sh.shot_label, sh.shot_order, sh.duration_seconds, sh.setting,
              sh.action, sh.camera, sh.frame_prompt, sh.video_prompt, sh.reference_image_order,
              sh.end_frame_reference_image_order
         from shots sh join m msh on msh.old_id = sh.id join m ms on ms.old_id = sh.scene_id),
x as (insert into shot_asset_assignments (project_id, scene_id, shot_id, scene_asset_instance_id, presence_type)
      select x.project_id, ms.new_id, msh.new_id, mi.new_id, x.presence_type
        from shot_asset_assignments x
        join m ms on ms.old_id = x.scene_id join m msh on msh.old_id = x.shot_id
        join m mi on mi.old_id = x.scene_asset_instance_id),
e as (insert into transformation_events (project_id, scene_id, shot_id, scene_asset_instance_id,
                                         post_description, post_image_key_url)
      select e.project_id, ms.new_id, msh.new_id, mi.new_id, e.post_description, e.post_image_key_url
        from transformation_events e
        join m ms on ms.old_id = e.scene_id join m msh on msh.old_id = e.shot_id
        join m mi on mi.old_id = e.scene_asset_instance_id)
select 1
"""
FORK_RESET = "delete from branches where forked_from_branch_id = $1::uuid"

# Scene 1 to the end (the standard film is numbered 1..n): the shift and the chain repair the
# move needs, in one statement. Only the moved scene's assets can relink (the other scenes keep
# their order among themselves); their links are computed in the new order, and only those
# that differ are written.
MOVE_CORE = """
with shifted as (
    update scenes s set scene_number = case when s.id = $1::uuid then $2::int else s.scene_number - 1 end
     where s.branch_id = (select branch_id from scenes where id = $1::uuid)),
links as (
    select i.id, i.inherited_from_instance_id as linked,
           lag(i.id) over (partition by i.project_asset_id
                           order by case when s.id = $1::uuid then $2::int else s.scene_number - 1 end) as parent
      from scene_asset_instances i join scenes s on s.id = i.scene_id
     where i.project_asset_id in (select project_asset_id from scene_asset_instances where scene_id = $1::uuid))
update scene_asset_instances i set inherited_from_instance_id = l.parent, linked_at = clock_timestamp()
  from links l where l.linked is distinct from l.parent and i.id = l.id
"""
# Scene $1 back to the front, then chains repaired, so each repetition starts from the same film.
MOVE_RESET = (
    """
    with o as (select id, row_number() over (order by case when id = $1::uuid then 0 else 1 end, scene_number) as n
                 from scenes where branch_id = (select branch_id from scenes where id = $1::uuid))
    update scenes s set scene_number = o.n from o where s.id = o.id and s.scene_number <> o.n
    """,
    """
    with ordered as (
        select i.id, lag(i.id) over (partition by i.project_asset_id order by s.scene_number) as parent
          from scene_asset_instances i join scenes s on s.id = i.scene_id
         where i.branch_id = (select branch_id from scenes where id = $1::uuid))
    update scene_asset_instances i set inherited_from_instance_id = o.parent, linked_at = clock_timestamp()
      from ordered o where i.id = o.id and i.inherited_from_instance_id is distinct from o.parent
    """,
)
# propagateSceneAssetInstance's core: the new state of every unedited descendant of the roots,
# top down from each parent's new state, and one update of those that differ (the revisions
# triggers fire here as they do for the API).
PROPAGATE_CORE = """
with recursive walk (id, depth, description_override, effective_description, status_tags,
                     image_key_url, image_is_own, carry_forward, base_version, base_description,
                     base_image_key_url, path) as (
    select i.id, 0, i.description_override, i.effective_description, i.status_tags,
           i.image_key_url, i.image_is_own, i.carry_forward, i.base_version, i.base_description,
           i.base_image_key_url, array[i.id]
      from scene_asset_instances i where i.id = any($1::uuid[])
    union all
    select c.id, w.depth + 1,
           case when w.carry_forward then w.description_override end,
           case when w.carry_forward then w.effective_description else a.description end,
           case when w.carry_forward then w.status_tags else '{}'::text[] end,
           case when w.carry_forward then w.image_key_url else a.image_key_url end,
           w.carry_forward and w.image_is_own, w.carry_forward,
           case when w.carry_forward then w.base_version else a.version end,
           case when w.carry_forward then w.base_description else a.description end,
           case when w.carry_forward then w.base_image_key_url else a.image_key_url end,
           w.path || c.id
      from walk w
      join scene_asset_instances c on c.inherited_from_instance_id = w.id
      join project_assets a on a.id = c.project_asset_id
     where not c.edited and c.id <> all(w.path))
update scene_asset_instances i
   set description_override = w.description_override, effective_description = w.effective_description,
       status_tags = w.status_tags, image_key_url = w.image_key_url, image_is_own = w.image_is_own,
       carry_forward = w.carry_forward, base_version = w.base_version,
       base_description = w.base_description, base_image_key_url = w.base_image_key_url
  from walk w
 where i.id = w.id and w.depth > 0
   and (i.description_override, i.effective_description, i.status_tags, i.image_key_url,
        i.image_is_own, i.carry_forward, i.base_version)
       is distinct from (w.description_override, w.effective_description, w.status_tags,
                         w.image_key_url, w.image_is_own, w.carry_forward, w.base_version)
"""
# Between repetitions every later scene's tags differ from what propagation gives, so each
# run writes every descendant; recorded as nothing, and never marking an instance edited.
SCRAMBLE = """
with quiet as materialized (select set_config('continuity.revision_kind', 'none', true))
update scene_asset_instances i set status_tags = array['scrambled']
  from quiet, scenes s
 where i.branch_id = $1::uuid and s.id = i.scene_id and s.scene_number > 1
"""
SCENE_ONE = """
select i.id from scene_asset_instances i join scenes s on s.id = i.scene_id
  join project_assets a on a.id = i.project_asset_id
 where s.branch_id = $1::uuid and s.scene_number = 1
 order by a.asset_type, lower(a.name), a.id
"""


def propagate_all(count: int) -> str:
    """One document propagating `count` instances (aliased fields run one after another)."""
    variables = ", ".join(f"$s{n}: UUID!" for n in range(count))
    fields = " ".join(
        f"p{n}: propagateSceneAssetInstance(id: $s{n}) {{ unchangedCount updated {{ id }} }}"
        for n in range(count)
    )
    return f"mutation({variables}) {{ {fields} }}"


async def _served(url: str, token: str) -> set[str]:
    query = '{ __type(name: "Mutation") { fields { name } } }'
    async with httpx.AsyncClient(timeout=60) as client:
        r = await client.post(url, json={"query": query}, headers={"Authorization": f"Bearer {token}"})
    fields = ((r.json().get("data") or {}).get("__type") or {}).get("fields") or []
    return {f["name"] for f in fields}


async def _api(url: str, token: str, query: str, variables: dict[str, Any]) -> float:
    async with httpx.AsyncClient(timeout=300) as client:
        started = time.perf_counter()
        r = await client.post(url, json={"query": query, "variables": variables},
                              headers={"Authorization": f"Bearer {token}"})
        elapsed = time.perf_counter() - started
    body = r.json()
    if body.get("errors"):
        raise RuntimeError(str(body["errors"])[:300])
    return elapsed * 1000


async def _core(dsn: str, sql: str, *args: Any) -> float:
    """Timed inside a transaction that is rolled back, on a connection that has run the
    statement once before (also rolled back): the server's pooled connections are warm, and a
    new backend's first statement pays for loading the catalogue and compiling the triggers'
    functions (tens of milliseconds, more than some cores' own work), which is no part of a core."""
    conn = await asyncpg.connect(dsn)
    try:
        elapsed = 0.0
        for _ in range(2):
            tx = conn.transaction()
            await tx.start()
            started = time.perf_counter()
            await conn.execute(sql, *args)
            elapsed = time.perf_counter() - started
            await tx.rollback()
        return elapsed * 1000
    finally:
        await conn.close()


async def _fetch(dsn: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _system(dsn: str, sql: str | tuple[str, ...], *args: Any) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in (sql,) if isinstance(sql, str) else sql:
            await conn.execute(statement, *args)
    finally:
        await conn.close()


async def measure(url: str, token: str, dsn: str, films: dict[str, Any]) -> dict[str, Any]:
    served = await _served(url, token)
    out: dict[str, Any] = {}
    inherit = films["inherit"]
    populate = films["populate"]
    first, second = inherit.scenes[1], inherit.scenes[2]
    scene = populate.scenes[1]

    async def timed(name: str, mutation: str, query: str, variables: dict[str, Any],
                    core: tuple[Any, ...], reset: str | tuple[str, ...] | None, note: str = "",
                    restore: bool = False, reset_arg: Any = None) -> None:
        if mutation not in served:
            out[name] = {"skipped": f"the server does not serve {mutation} yet"}
            return
        api, cores = [], []
        try:
            for _ in range(REPEAT):
                if reset:
                    await _system(dsn, reset, variables["s"] if reset_arg is None else reset_arg)
                cores.append(await _core(dsn, *core))
                api.append(await _api(url, token, query, variables))
            if restore and reset:  # leave the standard film as it was built
                await _system(dsn, reset, variables["s"] if reset_arg is None else reset_arg)
        except RuntimeError as error:
            out[name] = {"skipped": f"{mutation} failed: {error}"}
            return
        out[name] = {"api_ms": statistics.median(api), "core_ms": statistics.median(cores), "note": note}

    await timed("inherit 500 assets", "inheritSceneAssets", INHERIT, {"s": second},
                (INHERIT_CORE, first, second), "delete from scene_asset_instances where scene_id = $1")
    await timed("auto-populate 100x50", "autoPopulateShotAssignments", POPULATE, {"s": scene},
                (POPULATE_CORE, scene), "delete from shot_asset_assignments where scene_id = $1")
    # Prompts run on the populated scene (the last auto-populate left its 5,000 assignments).
    if "autoPopulateShotAssignments" not in served:
        await _system(dsn, POPULATE_CORE.replace("$1::uuid", f"'{scene}'::uuid"))
    await timed("generateShotPrompts 50 shots", "generateShotPrompts", PROMPTS, {"s": scene},
                (PROMPTS_CORE, scene), None)
    standard = films["standard"]
    last = max(standard.scenes)
    await timed("fork_branch (standard film)", "forkBranch", FORK, {"s": standard.branch_id, "n": "bench fork"},
                (FORK_CORE, standard.branch_id, str(uuid.uuid4())), FORK_RESET,
                note="core: one statement, reference lists copied untranslated", restore=True)
    await timed(f"moveScene 1 to {last} (standard film)", "moveScene", MOVE, {"s": standard.scenes[1], "n": last},
                (MOVE_CORE, standard.scenes[1], last), MOVE_RESET,
                note="core: the shift and the relink in one statement", restore=True)
    # Propagation over the standard film: one scene-1 instance down its 40-scene chain, then
    # every asset's (25 chains) in one document against one statement over all 25 roots.
    roots = [str(r["id"]) for r in await _fetch(dsn, SCENE_ONE, standard.branch_id)]
    if roots:
        await timed("propagate 1 chain of 40 scenes", "propagateSceneAssetInstance", PROPAGATE,
                    {"s": roots[0]}, (PROPAGATE_CORE, roots[:1]), SCRAMBLE,
                    reset_arg=standard.branch_id)
        await timed(f"propagate {len(roots)} chains of 40 scenes", "propagateSceneAssetInstance",
                    propagate_all(len(roots)), {f"s{n}": r for n, r in enumerate(roots)},
                    (PROPAGATE_CORE, roots), SCRAMBLE, reset_arg=standard.branch_id,
                    note="one document of aliased mutations vs one statement over every root")
    return out
