-- root: scene
-- The scene's instances are put in asset order once; every shot's assignments reuse that rank.
with instances as (
    select i.id, i.description_override, i.effective_description, i.status_tags, i.carry_forward,
           i.inherited_from_instance_id, a.id as asset_id, a.name, a.asset_type,
           row_number() over (order by a.asset_type, lower(a.name), a.id) as rank
      from scene_asset_instances i join project_assets a on a.id = i.project_asset_id
     where i.scene_id = $1::uuid
)
select json_build_object(
  'id', s.id, 'sceneNumber', s.scene_number, 'slug', s.slug,
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
           where x.shot_id = sh.id))
      order by sh.shot_order, sh.shot_label), '[]')
      from shots sh
     where sh.scene_id = s.id)
)::text
  from scenes s
 where s.id = $1::uuid and s.project_id in (select id from projects where user_id = $2::uuid)
