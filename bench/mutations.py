"""Mutation timings: each mutation through GraphQL against its own single-statement SQL core.

The mutations belong to other work (instances, assignments, prompts); one the server does not
serve yet is skipped with a message. Between repetitions the fixture is reset as the system.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import asyncpg
import httpx

from services.db.predicates import asset_order

REPEAT = 3

INHERIT = "mutation($s: UUID!) { inheritSceneAssets(sceneId: $s) { count } }"
POPULATE = "mutation($s: UUID!) { autoPopulateShotAssignments(sceneId: $s) { created existing } }"
PROMPTS = "mutation($s: UUID!) { generateShotPrompts(sceneId: $s) { id } }"

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
    """Timed inside a transaction that is rolled back."""
    conn = await asyncpg.connect(dsn)
    try:
        tx = conn.transaction()
        await tx.start()
        started = time.perf_counter()
        await conn.execute(sql, *args)
        elapsed = time.perf_counter() - started
        await tx.rollback()
        return elapsed * 1000
    finally:
        await conn.close()


async def _system(dsn: str, sql: str, *args: Any) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql, *args)
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
                    core: tuple[Any, ...], reset: str | None, note: str = "") -> None:
        if mutation not in served:
            out[name] = {"skipped": f"the server does not serve {mutation} yet"}
            return
        api, cores = [], []
        try:
            for _ in range(REPEAT):
                if reset:
                    await _system(dsn, reset, variables["s"])
                cores.append(await _core(dsn, *core))
                api.append(await _api(url, token, query, variables))
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
    return out
