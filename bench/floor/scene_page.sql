-- root: scene
select json_build_object(
  'id', s.id, 'sceneNumber', s.scene_number, 'slug', s.slug,
  'assetInstances', (
    select coalesce(json_agg(json_build_object(
        'id', i.id, 'descriptionOverride', i.description_override,
        'effectiveDescription', i.effective_description, 'statusTags', i.status_tags,
        'carryForward', i.carry_forward,
        'inheritedFrom', case when i.inherited_from_instance_id is null then null
                              else json_build_object('id', i.inherited_from_instance_id) end,
        'projectAsset', json_build_object('id', a.id, 'name', a.name, 'assetType', upper(a.asset_type)))
      order by a.asset_type, lower(a.name), a.id), '[]')
      from scene_asset_instances i join project_assets a on a.id = i.project_asset_id
     where i.scene_id = s.id),
  'shots', (
    select coalesce(json_agg(json_build_object(
        'id', sh.id, 'shotLabel', sh.shot_label, 'shotOrder', sh.shot_order,
        'durationSeconds', sh.duration_seconds, 'assetAssignments', coalesce(x.list, '[]'))
      order by sh.shot_order, sh.shot_label), '[]')
      from shots sh
      left join (
        select x.shot_id, json_agg(json_build_object(
                 'presenceType', upper(x.presence_type),
                 'sceneAssetInstance', json_build_object('id', x.scene_asset_instance_id))
               order by a.asset_type, lower(a.name), a.id) as list
          from shot_asset_assignments x
          join scene_asset_instances i on i.id = x.scene_asset_instance_id
          join project_assets a on a.id = i.project_asset_id
         where x.scene_id = s.id
         group by x.shot_id) x on x.shot_id = sh.id
     where sh.scene_id = s.id)
)::text
  from scenes s
 where s.id = $1::uuid and s.project_id in (select id from projects where user_id = $2::uuid)
