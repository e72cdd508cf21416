-- root: branch
with recursive walk (start_id, id, parent_id, depth) as (
    select i.id, i.id, i.inherited_from_instance_id, 0
      from scene_asset_instances i where i.branch_id = $1::uuid
    union all
    select w.start_id, p.id, p.inherited_from_instance_id, w.depth + 1
      from walk w join scene_asset_instances p on p.id = w.parent_id
     where w.depth < 10000
), chains as (
    select w.start_id,
           json_agg(json_build_object('id', w.id, 'scene', json_build_object('sceneNumber', cs.scene_number))
                    order by w.depth desc) as chain
      from walk w
      join scene_asset_instances c on c.id = w.id
      join scenes cs on cs.id = c.scene_id
     group by w.start_id
), instances as (
    select i.scene_id,
           json_agg(json_build_object('id', i.id, 'effectiveDescription', i.effective_description,
                                      'chain', ch.chain, 'revisions', rv.list)
                    order by a.asset_type, lower(a.name), a.id) as list
      from scene_asset_instances i
      join project_assets a on a.id = i.project_asset_id
      join chains ch on ch.start_id = i.id
      cross join lateral (
          select coalesce(json_agg(json_build_object(
                     'number', r.number, 'kind', upper(r.kind), 'changedFields', r.changed_fields,
                     'reason', r.reason, 'actorUserId', r.actor_user_id,
                     'createdAt', to_char(r.created_at at time zone 'UTC',
                                          'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))
                     order by r.number desc), '[]') as list
            from (select * from instance_revisions r where r.scene_asset_instance_id = i.id
                   order by r.number desc limit 5) r) rv
     where i.branch_id = $1::uuid
     group by i.scene_id
)
select json_build_object('id', b.id, 'name', b.name, 'scenes', (
    select coalesce(json_agg(json_build_object('id', s.id, 'sceneNumber', s.scene_number,
                                               'assetInstances', coalesce(x.list, '[]'))
                             order by s.scene_number), '[]')
      from scenes s left join instances x on x.scene_id = s.id
     where s.branch_id = b.id))::text
  from branches b
 where b.id = $1::uuid and b.project_id in (select id from projects where user_id = $2::uuid)
