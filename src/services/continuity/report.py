"""The continuity report, shot readiness and status-tag suggestions (docs/continuity.md).

Every read here is set-based: the report of any number of scenes or branches is one statement,
readiness of any number of shots four, tag suggestions of any number of branches one. The
rules that turn rows into warnings and blockers are the pure functions of `services.continuity.rules`.
"""

from __future__ import annotations

import re
import string
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.casting.assignments import read_scene_casts
from services.casting.frames import shot_cast
from services.continuity import rules
from services.core.errors import BadUserInput
from services.db.predicates import asset_order, owned, shot_order
from services.revisions.history import inherited_state

TAG_PREFIX_MAX = 64
SUGGESTIONS_MAX = 100

# The prompt a SCENE_ASSET job for the instance would get now (services.images.jobs.scene_asset_prompt).
_SCENE_ASSET_PROMPT = """
    case when cardinality(i.status_tags) = 0 then i.effective_description
         else i.effective_description || E'\\nStatus: ' || array_to_string(i.status_tags, ', ') end
"""

# The warnings of the scenes in scope (those matching `scope`, a predicate over the scenes row
# `s`): the CTEs up to `w`, one row per warning with the values its message needs. The loader
# path (`read_warnings`) builds messages and order from these rows in Python; the planner's
# statement (`report_sql`) builds them in SQL from the same templates and ranks.
def _report_ctes(scope: str) -> str:
    return f"""
    with sc as (
        select s.id, s.branch_id, s.scene_number, s.assignments_initialized, s.story_day
          from scenes s
         where ({scope})
           and {owned("s")}
    ),
    inst as (
        select i.id, i.scene_id, i.project_id, i.project_asset_id, i.image_key_url, i.image_is_own,
               i.base_version, i.effective_description, i.status_tags, i.description_override,
               i.carry_forward, i.edited, i.inherited_from_instance_id, i.linked_at,
               a.name, a.version as asset_version,
               coalesce(i.image_key_url, a.image_key_url) as shown_image,
               row_number() over (partition by i.scene_id order by {asset_order("a")}) as rank
          from scene_asset_instances i
          join project_assets a on a.id = i.project_asset_id
         where i.scene_id in (select id from sc)
    ),
    sh as (
        select t.id, t.scene_id, t.shot_label, t.continues_from_previous,
               row_number() over by_scene as rank, lag(t.id) over by_scene as previous_id
          from shots t
         where t.scene_id in (select id from sc)
        window by_scene as (partition by t.scene_id order by {shot_order("t")})
    ),
    -- A shot's assets: its assignments, or every instance of the scene under the legacy fallback.
    -- The assignments are read by scene, not looked up per shot and instance: the composite
    -- foreign keys keep an assignment's shot and instance in its scene (so in sh and inst).
    -- The fallback's rows are the pairs without one.
    cast_ as (
        select x.shot_id, x.scene_id, x.scene_asset_instance_id as instance_id, x.presence_type as presence
          from shot_asset_assignments x
         where x.scene_id in (select id from sc)
        union all
        select sh.id, sh.scene_id, i.id, 'throughout'
          from sh
          join sc on sc.id = sh.scene_id
          join inst i on i.scene_id = sh.scene_id
         where not sc.assignments_initialized
           and not exists (select 1 from shot_asset_assignments x
                            where x.shot_id = sh.id and x.scene_asset_instance_id = i.id)
    ),
    -- Per continuing shot and asset: in the previous shot's end frame, in this shot's start frame.
    handoff as (
        select sh.id as shot_id, i.name, i.rank,
               bool_or(c.shot_id = sh.previous_id and c.presence in ('throughout', 'enters')) as before,
               bool_or(c.shot_id = sh.id and c.presence in ('throughout', 'exits')) as at_start
          from sh
          join cast_ c on c.shot_id = sh.id or c.shot_id = sh.previous_id
          join inst i on i.id = c.instance_id
         where sh.continues_from_previous
         group by sh.id, i.id, i.name, i.rank
    ),
    handoff_diff as (
        select shot_id,
               coalesce(array_agg(name order by rank) filter (where before and not at_start), '{{}}') as only_before,
               coalesce(array_agg(name order by rank) filter (where at_start and not before), '{{}}') as only_at_start
          from handoff group by shot_id
    ),
    -- Each instance with a source: the source's state and scene, and the source's asset now.
    linked as (
        select i.*, p.id as parent_id, p.carry_forward as parent_carries, p.status_tags as parent_tags,
               p.effective_description as parent_description,
               coalesce(p.image_key_url, a.image_key_url) as parent_shown_image,
               ps.scene_number as parent_scene_number, ps.story_day as parent_story_day,
               e.description_override as expected_override, e.effective_description as expected_description,
               e.status_tags as expected_tags, e.image_key_url as expected_image,
               e.image_is_own as expected_image_is_own, e.carry_forward as expected_carry_forward,
               e.base_version as expected_base_version
          from inst i
          join scene_asset_instances p on p.id = i.inherited_from_instance_id
          join scenes ps on ps.id = p.scene_id
          join project_assets a on a.id = p.project_asset_id
          cross join lateral (select {inherited_state("p", "a")}) as e (
              description_override, effective_description, status_tags, image_key_url, image_is_own,
              carry_forward, base_version, base_description, base_image_key_url)
    ),
    -- diffFromSource (docs/revisions.md) of an edited instance whose source carries forward.
    changed as (
        select l.*,
               array(select t from unnest(l.status_tags) with ordinality u (t, n)
                      where lower(t) <> all (select lower(x) from unnest(l.parent_tags) x)
                      order by n) as tags_added,
               array(select t from unnest(l.parent_tags) with ordinality u (t, n)
                      where lower(t) <> all (select lower(x) from unnest(l.status_tags) x)
                      order by n) as tags_removed,
               l.effective_description is distinct from l.parent_description as description_changed,
               l.shown_image is distinct from l.parent_shown_image as image_changed
          from linked l
         where l.edited and l.parent_carries
    ),
    w (code, scene_id, shot_id, shot_rank, instance_id, instance_rank, asset, shot_label,
       n1, n2, list1, list2, flag1, flag2, severity) as (
        select 'outdated_instance', i.scene_id, null::uuid, null::bigint, i.id, i.rank, i.name, null::text,
               i.asset_version, i.base_version, null::text[], null::text[], null::bool, null::bool,
               'warning'
          from inst i
         where i.asset_version > i.base_version
        union all
        select 'stale_image', i.scene_id, null, null, i.id, i.rank, i.name, null,
               null, null, null, null, null, null, 'warning'
          from inst i
         where i.image_is_own
           and exists (select 1 from image_generation_jobs j
                        where j.project_id = i.project_id and j.job_type = 'scene_asset'
                          and j.status = 'completed' and j.image_url = i.image_key_url
                          and j.prompt <> {_SCENE_ASSET_PROMPT})
        union all
        -- Nothing recorded since the current link explains it: no transformation event of the
        -- source in its scene, no revision of this instance with a reason.
        select 'unexplained_change', c.scene_id, null, null, c.id, c.rank, c.name, null,
               c.parent_scene_number, null, c.tags_added, c.tags_removed, c.description_changed,
               c.image_changed,
               case when c.parent_story_day < s.story_day then 'info' else 'warning' end
          from changed c
          join sc s on s.id = c.scene_id
         where (cardinality(c.tags_added) > 0 or cardinality(c.tags_removed) > 0
                or c.description_changed or c.image_changed)
           and not exists (select 1 from transformation_events te
                            where te.scene_asset_instance_id = c.parent_id and te.updated_at > c.linked_at)
           and not exists (select 1 from instance_revisions r
                            where r.scene_asset_instance_id = c.id and r.reason ~ '\\S'
                              and r.created_at > c.linked_at)
        union all
        select 'upstream_changed', l.scene_id, null, null, l.id, l.rank, l.name, null,
               l.parent_scene_number, null, null, null, null, null, 'info'
          from linked l
         where not l.edited
           and row(l.description_override, l.effective_description, l.status_tags, l.image_key_url,
                   l.image_is_own, l.carry_forward, l.base_version)
               is distinct from
               row(l.expected_override, l.expected_description, l.expected_tags, l.expected_image,
                   l.expected_image_is_own, l.expected_carry_forward, l.expected_base_version)
        union all
        select 'missing_image', c.scene_id, c.shot_id, sh.rank, c.instance_id, i.rank, i.name, sh.shot_label,
               null, null, null, null, null, null, 'warning'
          from cast_ c
          join inst i on i.id = c.instance_id
          join sh on sh.id = c.shot_id
          left join transformation_events te
                 on te.shot_id = c.shot_id and te.scene_asset_instance_id = c.instance_id
         where (c.presence in ('throughout', 'exits') and i.shown_image is null)
            or (c.presence in ('throughout', 'enters') and coalesce(te.post_image_key_url, i.shown_image) is null)
        union all
        select 'uncast_instance', i.scene_id, null, null, i.id, i.rank, i.name, null,
               null, null, null, null, null, null, 'info'
          from inst i
          join sc on sc.id = i.scene_id
         where sc.assignments_initialized
           and exists (select 1 from sh where sh.scene_id = i.scene_id)
           and not exists (select 1 from shot_asset_assignments x where x.scene_asset_instance_id = i.id)
        union all
        select 'handoff_mismatch', sh.scene_id, sh.id, sh.rank, null, null, null, sh.shot_label,
               null, null, d.only_before, d.only_at_start, sh.previous_id is null, null, 'warning'
          from sh
          left join handoff_diff d on d.shot_id = sh.id
         where sh.continues_from_previous
           and (sh.previous_id is null or cardinality(d.only_before) > 0 or cardinality(d.only_at_start) > 0)
        union all
        select 'story_day_regression', s.id, null, null, null, null, null, null,
               s.story_day, e.story_day, null, null, null, null, 'info'
          from sc s
          join lateral (select p.story_day from scenes p
                         where p.branch_id = s.branch_id and p.scene_number < s.scene_number
                           and p.story_day is not null
                         order by p.scene_number desc limit 1) e on true
         where s.story_day < e.story_day
    )
    """


# One statement for every warning of the scenes asked for and of every scene of the branches
# asked for; the message and the final order are built by services.continuity.rules.
_REPORT = text(
    _report_ctes("s.id = any(cast(:scenes as uuid[])) or s.branch_id = any(cast(:branches as uuid[]))")
    + """
    select w.*, sc.scene_number, sc.branch_id
      from w join sc on sc.id = w.scene_id
    """
)

# The kind of each column of `w` a message reads (others are text or numbers, written as is).
_LIST_COLUMNS = frozenset({"list1", "list2"})
_FLAG_COLUMNS = frozenset({"flag1", "flag2"})


def _literal(value: str) -> str:
    """An SQL string literal of `value`, safe inside a `text()` statement (a colon before a name
    is escaped, so it is not taken for a bind parameter)."""
    return "'" + re.sub(r":(?=[\w$])", r"\\:", value.replace("'", "''")) + "'"


def _rendered_sql(template: rules.Template, columns: Mapping[str, str]) -> str:
    """`rules.render` in SQL: `columns` maps each placeholder to its column expression."""

    def text_of(name: str) -> str:
        column = columns[name]
        bare = column.rpartition(".")[2]
        if bare in _LIST_COLUMNS:
            return f"array_to_string({column}, {_literal(rules.LIST_SEPARATOR)})"
        return column

    def is_set(name: str) -> str:
        column = columns[name]
        bare = column.rpartition(".")[2]
        if bare in _LIST_COLUMNS:
            return f"coalesce(cardinality({column}) > 0, false)"
        if bare in _FLAG_COLUMNS:
            return f"coalesce({column}, false)"
        return f"{column} is not null"

    def concat(text: str, parts: str | None = None) -> str:
        pieces = []
        for literal, name, _, _ in string.Formatter().parse(text):
            if literal:
                pieces.append(_literal(literal))
            if name is not None:
                pieces.append(parts if name == "parts" and parts is not None else text_of(name))
        return f"concat({', '.join(pieces)})"

    parts = None
    if template.parts:
        chosen = ", ".join(f"case when {is_set(cond)} then {concat(part)} end" for cond, part in template.parts)
        parts = f"concat_ws({_literal(rules.PART_SEPARATOR)}, {chosen})"
    return concat(template.text, parts)


def message_sql(w: str, sc: str) -> str:
    """A warning's message, for `w` a row of the report's `w` and `sc` its scene in `sc`."""

    def rendered(name: str) -> str:
        columns = {
            key: f"{sc if column == 'scene_number' else w}.{column}"
            for key, column in rules.ROW_VALUES[name].items()
        }
        return _rendered_sql(rules.TEMPLATES[name], columns)

    branches = []
    for code in rules.CODES:
        variant = rules.VARIANTS.get(code)
        own = rendered(code)
        if variant is not None:
            own = f"case when coalesce({w}.{variant[0]}, false) then {rendered(variant[1])} else {own} end"
        branches.append(f"when {_literal(code)} then {own}")
    return f"case {w}.code {' '.join(branches)} end"


def _rank_sql(values: Sequence[str], expression: str) -> str:
    """The 0-based position of `expression` in `values` (their order in services.continuity.rules)."""
    listed = ", ".join(_literal(v) for v in values)
    return f"(array_position(array[{listed}]::text[], {expression}) - 1)"


# The report's order (services.continuity.rules.ContinuityWarning.sort_key) over `report_sql`'s columns.
REPORT_ORDER = ("scene_number", "shot_rank", "instance_rank", "code_rank")


def report_sql(scope: str, minimum: str) -> str:
    """The report as the planner reads it: one row per warning of the scenes matching `scope`
    (a predicate over the scenes row `s`; it may name columns of an enclosing query) whose
    severity is at least `minimum` (an SQL expression of a severity value), with its code,
    severity, message, scene, shot and instance ids and the REPORT_ORDER columns."""
    return f"""{_report_ctes(scope)}
    select w.code, w.severity, {message_sql("w", "sc")} as message,
           w.scene_id, w.shot_id, w.instance_id, sc.scene_number,
           coalesce(w.shot_rank, {rules.NO_RANK}) as shot_rank,
           coalesce(w.instance_rank, {rules.NO_RANK}) as instance_rank,
           {_rank_sql(rules.CODES, "w.code")} as code_rank
      from w join sc on sc.id = w.scene_id
     where {_rank_sql(rules.SEVERITIES, "w.severity")}
           >= {_rank_sql(rules.SEVERITIES, f"cast({minimum} as text)")}
    """


@dataclass(frozen=True)
class ScopedWarning:
    """A warning with the branch its scene belongs to (the report groups by it)."""

    branch_id: uuid.UUID
    warning: rules.ContinuityWarning


async def read_warnings(
    conn: AsyncConnection, uid: str, *, scene_ids: Sequence[uuid.UUID] = (), branch_ids: Sequence[uuid.UUID] = ()
) -> list[ScopedWarning]:
    """Every warning of the given scenes and of every scene of the given branches (the viewer's
    only), in report order: one statement whatever their number."""
    params = {"scenes": list(scene_ids), "branches": list(branch_ids), "uid": uid}
    found = []
    for row in (await conn.execute(_REPORT, params)).mappings():
        found.append(
            ScopedWarning(
                row["branch_id"],
                rules.ContinuityWarning(
                    code=row["code"],
                    severity=row["severity"],
                    message=rules.message_of(row),
                    scene_id=row["scene_id"],
                    scene_number=row["scene_number"],
                    shot_id=row["shot_id"],
                    shot_rank=row["shot_rank"],
                    scene_asset_instance_id=row["instance_id"],
                    instance_rank=row["instance_rank"],
                ),
            )
        )
    return sorted(found, key=lambda s: s.warning.sort_key())


def severity(value: str) -> str:
    if value not in rules.SEVERITIES:
        raise BadUserInput("minSeverity must be INFO, WARNING or ERROR")
    return value


# ---------------------------------------------------------------------------------------
# Readiness

# Every shot of the scenes of the shots asked for (a continuing shot reads the shot before it),
# each with its newest COMPLETED START_FRAME and END_FRAME job.
_READINESS_SHOTS = text(
    f"""
    select sh.id, sh.scene_id, sh.setting, sh.action, sh.camera, sh.frame_prompt,
           sh.reference_image_order, sh.end_frame_reference_image_order, sh.prompt_inputs,
           sh.continues_from_previous,
           st.reference_images as start_job_images, st.prompt as start_job_prompt,
           en.reference_images as end_job_images, en.prompt as end_job_prompt
      from shots sh
      left join lateral (
            select j.reference_images, j.prompt from image_generation_jobs j
             where j.shot_id = sh.id and j.job_type = 'start_frame' and j.status = 'completed'
             order by j.created_at desc, j.id desc limit 1) st on true
      left join lateral (
            select j.reference_images, j.prompt from image_generation_jobs j
             where j.shot_id = sh.id and j.job_type = 'end_frame' and j.status = 'completed'
             order by j.created_at desc, j.id desc limit 1) en on true
     where sh.scene_id in (select t.scene_id from shots t where t.id = any(cast(:keys as uuid[])))
       and {owned("sh")}
     order by sh.scene_id, {shot_order("sh")}
    """
)


def _job(images: Any, prompt: str | None) -> rules.FrameJob | None:
    if prompt is None:
        return None
    return rules.FrameJob(reference_images=list(images or []), prompt=prompt)


async def read_readiness(conn: AsyncConnection, uid: str, shot_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The readiness blockers of every shot asked for (the viewer's only): four statements for
    any number of shots, whatever their scenes."""
    rows = list((await conn.execute(_READINESS_SHOTS, {"keys": list(shot_ids), "uid": uid})).mappings())
    if not rows:
        return {}
    casts = await read_scene_casts(conn, uid, list(dict.fromkeys(r["scene_id"] for r in rows)))
    wanted = set(shot_ids)
    answers: dict[uuid.UUID, list[str]] = {}
    previous: Any = None
    for row in rows:
        if previous is not None and previous["scene_id"] != row["scene_id"]:
            previous = None
        if row["id"] in wanted and (scene := casts.get(row["scene_id"])) is not None:
            cast = shot_cast(scene.assets, scene.assignments.get(row["id"], ()), initialized=scene.initialized)
            transformations = scene.transformations.get(row["id"], {})
            refs = scene.frames_of(row["id"])
            if row["continues_from_previous"]:
                start_job = None if previous is None else _job(previous["end_job_images"], previous["end_job_prompt"])
                start_list = [] if previous is None else list(previous["end_frame_reference_image_order"] or [])
                start_prompt = None if previous is None else previous["frame_prompt"]
            else:
                start_job = _job(row["start_job_images"], row["start_job_prompt"])
                start_list = list(row["reference_image_order"] or [])
                start_prompt = row["frame_prompt"]
            state = rules.ShotState(
                has_assets=bool(cast),
                missing_image=bool(rules.missing_images(cast, transformations)),
                frame_prompt=row["frame_prompt"],
                stored_start=list(row["reference_image_order"] or []),
                stored_end=list(row["end_frame_reference_image_order"] or []),
                stored_inputs=row["prompt_inputs"],
                start_now=refs.start_images,
                end_now=refs.end_images,
                inputs_now=rules.prompt_inputs(row["setting"], row["action"], row["camera"], cast),
                start_job=start_job,
                start_expected_list=start_list,
                start_expected_prompt=start_prompt,
                end_job=_job(row["end_job_images"], row["end_job_prompt"]),
            )
            answers[row["id"]] = rules.blockers(state)
        previous = row
    return answers


# ---------------------------------------------------------------------------------------
# Status-tag suggestions

# Each key is (branch, prefix, first). Spellings that differ only in case count as one tag,
# shown in its most used spelling (ties: the smallest in byte order).
_SUGGESTIONS = text(
    f"""
    with k as (
        select * from unnest(cast(:branches as uuid[]), cast(:prefixes as text[]), cast(:firsts as int[]))
               with ordinality as k(branch_id, prefix, first, ord)
    ),
    tagged as (
        select k.ord, i.id as instance_id, t.tag
          from k
          join scene_asset_instances i on i.branch_id = k.branch_id and {owned("i")}
          cross join lateral unnest(i.status_tags) as t(tag)
         where starts_with(lower(t.tag), lower(k.prefix))
    ),
    uses as (
        select ord, lower(tag) as key, count(distinct instance_id) as uses
          from tagged group by ord, lower(tag)
    ),
    spelling as (
        select distinct on (ord, lower(tag)) ord, lower(tag) as key, tag
          from tagged
         group by ord, tag
         order by ord, lower(tag), count(distinct instance_id) desc, tag collate "C"
    ),
    ranked as (
        select u.ord, s.tag, u.uses,
               row_number() over (partition by u.ord order by u.uses desc, u.key) as n
          from uses u join spelling s on s.ord = u.ord and s.key = u.key
    )
    select r.ord, r.tag, r.uses
      from ranked r join k on k.ord = r.ord
     where r.n <= k.first
     order by r.ord, r.n
    """
)


@dataclass(frozen=True)
class TagSuggestion:
    tag: str
    uses: int


def suggestion_arguments(prefix: str | None, first: int | None) -> tuple[str, int]:
    """The arguments' own limits (null takes the default)."""
    prefix = "" if prefix is None else prefix
    first = 10 if first is None else first
    if "\x00" in prefix:
        raise BadUserInput("prefix must not contain a NUL character")
    if len(prefix) > TAG_PREFIX_MAX:
        raise BadUserInput(f"prefix must be at most {TAG_PREFIX_MAX} characters")
    if not 1 <= first <= SUGGESTIONS_MAX:
        raise BadUserInput(f"first must be between 1 and {SUGGESTIONS_MAX}")
    return prefix, first


async def read_tag_suggestions(
    conn: AsyncConnection, uid: str, keys: Sequence[tuple[uuid.UUID, str, int]]
) -> list[list[TagSuggestion]]:
    """Suggestions for every (branch, prefix, first), in the keys' order: one statement."""
    params = {
        "branches": [k[0] for k in keys],
        "prefixes": [k[1] for k in keys],
        "firsts": [k[2] for k in keys],
        "uid": uid,
    }
    answers: list[list[TagSuggestion]] = [[] for _ in keys]
    for row in (await conn.execute(_SUGGESTIONS, params)).mappings():
        answers[row["ord"] - 1].append(TagSuggestion(row["tag"], int(row["uses"])))
    return answers

