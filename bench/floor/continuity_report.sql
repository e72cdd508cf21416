-- root: branch
with sc as (
    select s.id, s.branch_id, s.scene_number, s.assignments_initialized, s.story_day
      from scenes s where s.branch_id = $1::uuid
), inst as (
    select i.id, i.scene_id, i.project_id, i.image_key_url, i.image_is_own, i.base_version,
           i.effective_description, i.status_tags, i.description_override, i.carry_forward, i.edited,
           i.inherited_from_instance_id, i.linked_at, a.name, a.version as asset_version,
           a.description as asset_description, a.image_key_url as asset_image,
           coalesce(i.image_key_url, a.image_key_url) as shown_image,
           row_number() over (partition by i.scene_id order by a.asset_type, lower(a.name), a.id) as rank
      from scene_asset_instances i join project_assets a on a.id = i.project_asset_id
     where i.branch_id = $1::uuid
), sh as (
    select t.id, t.scene_id, t.shot_label, t.continues_from_previous,
           row_number() over by_scene as rank, lag(t.id) over by_scene as previous_id
      from shots t join sc on sc.id = t.scene_id
    window by_scene as (partition by t.scene_id order by t.shot_order, t.shot_label)
), cast_ as (
    select sh.id as shot_id, sh.scene_id, i.id as instance_id, coalesce(x.presence_type, 'throughout') as presence
      from sh join sc on sc.id = sh.scene_id join inst i on i.scene_id = sh.scene_id
      left join shot_asset_assignments x on x.shot_id = sh.id and x.scene_asset_instance_id = i.id
     where x.id is not null or not sc.assignments_initialized
), handoff as (
    select sh.id as shot_id, i.name, i.rank,
           bool_or(c.shot_id = sh.previous_id and c.presence in ('throughout', 'enters')) as before,
           bool_or(c.shot_id = sh.id and c.presence in ('throughout', 'exits')) as at_start
      from sh join cast_ c on c.shot_id = sh.id or c.shot_id = sh.previous_id join inst i on i.id = c.instance_id
     where sh.continues_from_previous
     group by sh.id, i.id, i.name, i.rank
), handoff_diff as (
    select shot_id,
           array_agg(name order by rank) filter (where before and not at_start) as only_before,
           array_agg(name order by rank) filter (where at_start and not before) as only_at_start
      from handoff group by shot_id
), linked as (
    select i.*, p.id as parent_id, p.carry_forward as parent_carries, p.status_tags as parent_tags,
           p.effective_description as parent_description,
           coalesce(p.image_key_url, i.asset_image) as parent_shown_image,
           ps.scene_number as parent_scene_number, ps.story_day as parent_story_day,
           p.description_override as p_override, p.image_key_url as p_image, p.image_is_own as p_own,
           p.base_version as p_base_version
      from inst i
      join scene_asset_instances p on p.id = i.inherited_from_instance_id
      join scenes ps on ps.id = p.scene_id
), changed as (
    select l.*,
           array(select t from unnest(l.status_tags) with ordinality u (t, n)
                  where lower(t) <> all (select lower(x) from unnest(l.parent_tags) x) order by n) as tags_added,
           array(select t from unnest(l.parent_tags) with ordinality u (t, n)
                  where lower(t) <> all (select lower(x) from unnest(l.status_tags) x) order by n) as tags_removed
      from linked l where l.edited and l.parent_carries
), w (code_rank, code, severity, scene_id, shot_id, shot_rank, instance_id, instance_rank, message) as (
    select 0, 'OUTDATED_INSTANCE', 'WARNING', i.scene_id, null::uuid, null::bigint, i.id, i.rank,
           format('%s: the asset changed (version %s) after this scene''s state was taken from version %s.',
                  i.name, i.asset_version, i.base_version)
      from inst i where i.asset_version > i.base_version
    union all
    select 1, 'STALE_IMAGE', 'WARNING', i.scene_id, null, null, i.id, i.rank,
           i.name || ': the scene image was generated for another description or tags.'
      from inst i
     where i.image_is_own
       and exists (select 1 from image_generation_jobs j
                    where j.project_id = i.project_id and j.job_type = 'scene_asset' and j.status = 'completed'
                      and j.image_url = i.image_key_url
                      and j.prompt <> case when cardinality(i.status_tags) = 0 then i.effective_description
                                           else i.effective_description || E'\nStatus: '
                                                || array_to_string(i.status_tags, ', ') end)
    union all
    select 2, 'UNEXPLAINED_CHANGE', case when c.parent_story_day < s.story_day then 'INFO' else 'WARNING' end,
           c.scene_id, null, null, c.id, c.rank,
           format('%s: changed since scene %s (%s) with no transformation event or reason.', c.name,
                  c.parent_scene_number, concat_ws('; ',
                      'tags added: ' || nullif(array_to_string(c.tags_added, ', '), ''),
                      'tags removed: ' || nullif(array_to_string(c.tags_removed, ', '), ''),
                      case when c.effective_description is distinct from c.parent_description then 'description changed' end,
                      case when c.shown_image is distinct from c.parent_shown_image then 'image changed' end))
      from changed c join sc s on s.id = c.scene_id
     where (cardinality(c.tags_added) > 0 or cardinality(c.tags_removed) > 0
            or c.effective_description is distinct from c.parent_description
            or c.shown_image is distinct from c.parent_shown_image)
       and not exists (select 1 from transformation_events te
                        where te.scene_asset_instance_id = c.parent_id and te.updated_at > c.linked_at)
       and not exists (select 1 from instance_revisions r
                        where r.scene_asset_instance_id = c.id and r.reason ~ '\S' and r.created_at > c.linked_at)
    union all
    select 3, 'UPSTREAM_CHANGED', 'INFO', l.scene_id, null, null, l.id, l.rank,
           format('%s: scene %s changed after this scene took its state; propagate to bring it forward.',
                  l.name, l.parent_scene_number)
      from linked l
     where not l.edited
       and row(l.description_override, l.effective_description, l.status_tags, l.image_key_url, l.image_is_own,
               l.carry_forward, l.base_version)
           is distinct from
           case when l.parent_carries
                then row(l.p_override, l.parent_description, l.parent_tags, l.p_image, l.p_own, true, l.p_base_version)
                else row(null::text, l.asset_description, '{}'::text[], l.asset_image, false, false, l.asset_version) end
    union all
    select 4, 'MISSING_IMAGE', 'WARNING', c.scene_id, c.shot_id, sh.rank, c.instance_id, i.rank,
           format('%s: no reference image for shot %s.', i.name, sh.shot_label)
      from cast_ c join inst i on i.id = c.instance_id join sh on sh.id = c.shot_id
      left join transformation_events te on te.shot_id = c.shot_id and te.scene_asset_instance_id = c.instance_id
     where (c.presence in ('throughout', 'exits') and i.shown_image is null)
        or (c.presence in ('throughout', 'enters') and coalesce(te.post_image_key_url, i.shown_image) is null)
    union all
    select 5, 'UNCAST_INSTANCE', 'INFO', i.scene_id, null, null, i.id, i.rank,
           format('%s: in scene %s but in none of its shots.', i.name, sc.scene_number)
      from inst i join sc on sc.id = i.scene_id
     where sc.assignments_initialized and exists (select 1 from sh where sh.scene_id = i.scene_id)
       and not exists (select 1 from shot_asset_assignments x where x.scene_asset_instance_id = i.id)
    union all
    select 6, 'HANDOFF_MISMATCH', 'WARNING', sh.scene_id, sh.id, sh.rank, null, null,
           case when sh.previous_id is null
                then format('Shot %s: continues from a previous shot, but it is the first shot.', sh.shot_label)
                else format('Shot %s: %s.', sh.shot_label, concat_ws('; ',
                    array_to_string(d.only_before, ', ') || ' in the previous shot''s end frame but not at the start',
                    array_to_string(d.only_at_start, ', ') || ' at the start but not in it')) end
      from sh left join handoff_diff d on d.shot_id = sh.id
     where sh.continues_from_previous
       and (sh.previous_id is null or d.only_before is not null or d.only_at_start is not null)
    union all
    select 7, 'STORY_DAY_REGRESSION', 'INFO', s.id, null, null, null, null,
           format('Scene %s: story day %s comes after story day %s (a flashback?).', s.scene_number, s.story_day, e.story_day)
      from sc s
      join lateral (select p.story_day from scenes p
                     where p.branch_id = s.branch_id and p.scene_number < s.scene_number and p.story_day is not null
                     order by p.scene_number desc limit 1) e on true
     where s.story_day < e.story_day
)
select json_build_object('id', b.id, 'continuityReport', (
    select coalesce(json_agg(json_build_object(
               'code', w.code, 'severity', w.severity, 'message', w.message,
               'scene', json_build_object('id', sc.id, 'sceneNumber', sc.scene_number),
               'shot', case when w.shot_id is null then null
                            else json_build_object('id', w.shot_id, 'shotLabel', sh.shot_label) end,
               'sceneAssetInstance', case when w.instance_id is null then null
                                          else json_build_object('id', w.instance_id) end)
             order by sc.scene_number, coalesce(w.shot_rank, 0), coalesce(w.instance_rank, 0), w.code_rank), '[]')
      from w join sc on sc.id = w.scene_id left join sh on sh.id = w.shot_id))::text
  from branches b
 where b.id = $1::uuid and b.project_id in (select id from projects where user_id = $2::uuid)
