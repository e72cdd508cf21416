-- root: scene
-- scene_page plus every shot's frame references (docs/casting.md): the scene's instances are
-- ranked in asset order once, every shot's cast (its assignments, or every instance THROUGHOUT
-- under the legacy fallback) is one join of shots x instances, aggregated per shot.
with sc as (
    select s.id, s.scene_number, s.slug, s.assignments_initialized
      from scenes s
     where s.id = $1::uuid and s.project_id in (select id from projects where user_id = $2::uuid)
),
instances as (
    select i.id, i.description_override, i.effective_description, i.status_tags, i.carry_forward,
           i.inherited_from_instance_id, a.id as asset_id, a.name, a.asset_type,
           case when i.image_key_url <> '' then i.image_key_url else a.image_key_url end as image,
           row_number() over (order by a.asset_type, lower(a.name), a.id) as rank
      from sc
      join scene_asset_instances i on i.scene_id = sc.id
      join project_assets a on a.id = i.project_asset_id
),
shot_cast as (
    select sh.id as shot_id, i.id, i.asset_id, i.name, i.asset_type, i.effective_description, i.rank,
           i.image,
           case when e.post_image_key_url <> '' then e.post_image_key_url else i.image end as end_image,
           case when sc.assignments_initialized then x.presence_type else 'throughout' end as presence,
           x.id as assignment_id
      from sc
      join shots sh on sh.scene_id = sc.id
      cross join instances i
      left join shot_asset_assignments x on x.shot_id = sh.id and x.scene_asset_instance_id = i.id
      left join transformation_events e on e.shot_id = sh.id and e.scene_asset_instance_id = i.id
     where not sc.assignments_initialized or x.id is not null
),
start_frame as (
    select c.shot_id,
           json_agg(json_build_object('position', c.n, 'sceneAssetInstanceId', c.id, 'projectAssetId', c.asset_id,
                                      'assetName', c.name, 'assetType', upper(c.asset_type), 'imageUrl', c.image)
                    order by c.n) as images,
           string_agg('Image ' || c.n || ': ' || c.name || ' (' || c.asset_type || ')', E'\n' order by c.n) as manifest
      from (select c.*, row_number() over (partition by c.shot_id order by c.rank) as n
              from shot_cast c where c.presence in ('throughout', 'exits') and c.image <> '') c
     group by c.shot_id
),
end_frame as (
    select c.shot_id,
           json_agg(json_build_object('position', c.n, 'sceneAssetInstanceId', c.id, 'projectAssetId', c.asset_id,
                                      'assetName', c.name, 'assetType', upper(c.asset_type), 'imageUrl', c.end_image)
                    order by c.n) as images,
           string_agg('Image ' || c.n || ': ' || c.name || ' (' || c.asset_type || ')', E'\n' order by c.n) as manifest
      from (select c.*, row_number() over (partition by c.shot_id order by c.rank) as n
              from shot_cast c where c.presence in ('throughout', 'enters') and c.end_image <> '') c
     group by c.shot_id
),
directions as (
    select c.shot_id,
           json_agg(case c.presence
                      when 'enters' then c.name || ' enters the frame.'
                      when 'exits' then c.name || ' exits the frame.'
                      else 'Midway through the shot, ' || c.name || ' (' || c.effective_description
                           || ') passes through the frame.' end
                    order by c.rank) as sentences,
           coalesce(json_agg(json_build_object('id', c.assignment_id, 'presenceType', 'PASSES_THROUGH') order by c.rank)
                      filter (where c.presence = 'passes_through'), '[]') as video_only
      from shot_cast c
     where c.presence in ('enters', 'exits', 'passes_through')
     group by c.shot_id
)
select json_build_object(
  'id', sc.id, 'sceneNumber', sc.scene_number, 'slug', sc.slug,
  'assetInstances', (
    select coalesce(json_agg(json_build_object(
        'id', i.id, 'descriptionOverride', i.description_override,
        'effectiveDescription', i.effective_description, 'statusTags', i.status_tags,
        'carryForward', i.carry_forward,
        'inheritedFrom', case when i.inherited_from_instance_id is null then null
                              else json_build_object('id', i.inherited_from_instance_id) end,
        'projectAsset', json_build_object('id', i.asset_id, 'name', i.name, 'assetType', upper(i.asset_type)))
      order by i.rank), '[]')
      from instances i),
  'shots', (
    select coalesce(json_agg(json_build_object(
        'id', sh.id, 'shotLabel', sh.shot_label, 'shotOrder', sh.shot_order,
        'durationSeconds', sh.duration_seconds,
        'assetAssignments', (
          select coalesce(json_agg(json_build_object(
                   'presenceType', upper(x.presence_type),
                   'sceneAssetInstance', json_build_object('id', x.scene_asset_instance_id))
                 order by i.rank), '[]')
            from shot_asset_assignments x join instances i on i.id = x.scene_asset_instance_id
           where x.shot_id = sh.id),
        'frameReferences', json_build_object(
          'startFrameManifest', coalesce(st.manifest, ''),
          'startFrameImages', coalesce(st.images, '[]'),
          'endFrameManifest', coalesce(en.manifest, ''),
          'endFrameImages', coalesce(en.images, '[]'),
          'videoOnlyAssets', coalesce(d.video_only, '[]'),
          'presenceDirections', coalesce(d.sentences, '[]'),
          'usesLegacyFallback', not sc.assignments_initialized))
      order by sh.shot_order, sh.shot_label), '[]')
      from shots sh
      left join start_frame st on st.shot_id = sh.id
      left join end_frame en on en.shot_id = sh.id
      left join directions d on d.shot_id = sh.id
     where sh.scene_id = sc.id)
)::text
  from sc
