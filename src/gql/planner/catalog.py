"""What the planner knows of the table-backed types: each field's SQL, each relation's rows and
order. The one place in the GraphQL layer that speaks SQL; the loader path in
`services.<domain>.reads` stays the reference. Both build their ownership, orders and chain walk from
`services.db.predicates`, so every list here orders as the loaders' does by construction.

Plain columns have no entry: a field named like a column of its type's table (`TABLES`, from
the catalogue `services.db.tables`) is read from that column (`plain_field`), so a new column
is planned as soon as it is in the catalogue and on its GraphQL type. FIELDS holds what is not
a plain column: relations, computed fields, and types that are not rows of a table.

Templates use `{t}` for the row's alias; relation sources use `{p}` (the parent row) and `{c}`
(the child row, also the prefix of any helper alias the source needs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from string import Formatter
from typing import Any

from graphql import GraphQLEnumType, GraphQLField, GraphQLList, GraphQLNonNull, GraphQLScalarType
from sqlalchemy import ARRAY, Boolean, DateTime, Integer, Table, Text, Uuid

from gql.relations import RelationName
from services.casting import frames
from services.continuity import report, rules
from services.db import tables
from services.db.predicates import (
    asset_name_order,
    asset_order,
    chain_walk,
    frame_job_order,
    frame_jobs,
    owned,
    owns_project,
    shot_order,
)
from services.revisions import history

# The DateTime scalar's serialisation (gql.scalars.serialize_datetime), done by PostgreSQL.
DATETIME = "to_char({col} at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"


@dataclass(frozen=True)
class Column:
    """A leaf: an SQL expression over the row."""

    sql: str


@dataclass(frozen=True)
class Relation:
    """Rows of another type reached from this row.

    `source` is `from ... where ...` selecting the child rows as `{c}`; `order` (lists, and a
    to-one that picks one row of many) orders them. An empty `source` is an object made of
    its parent's own row (no join: `Scene.localContext`). A to-one by key names its `table` and
    the `fk` column holding the child's id: it becomes a left join of the parent's own query
    (one row at most: the key is the child's primary key), and a `{ id }` selection of it
    reads the column without any join.

    `arguments` are the field's arguments the source reads, as `{name}` placeholders: each
    becomes a bind parameter whose value the executor computes per request (the function turns
    the coerced argument into the parameter, or raises as the resolver would).
    """

    target: str
    many: bool
    source: str
    order: str | None = None
    fk: str | None = None
    table: str | None = None
    # Common table expressions the source and the child's fields read (`with` of the child's
    # subquery, formatted like the source), and the child's fields when they are not its
    # type's (a type read from rows of another shape).
    with_: str | None = None
    fields: dict[str, Field] | None = None
    # Rows the source inner-joins by key, as (row, key column, alias): a to-one by that key
    # reads them instead of joining the table again.
    joined: tuple[tuple[str, str, str], ...] = ()
    # The rows are the parent instance's chain (root first): where the compiler knows every
    # row the parent can be in the statement, it walks all their chains at once instead.
    chain: bool = False
    arguments: tuple[tuple[str, Callable[[Any], Any]], ...] = ()


Field = Column | Relation


def _to_one(target: str, table: str, fk: str) -> Relation:
    return Relation(target, False, f"from {table} {{c}} where {{c}}.id = {{p}}.{fk}", fk=fk, table=table)


ASSET_ORDER = asset_order("{c}_a")

# Root first: the loaders' chain walk (chain_of_instance), from one parent row; each link's row
# comes with the walk (no lookup per link: -60% shared buffers on continuity_page). This
# correlated walk is the fallback: under a list the compiler walks every chain of the list in
# one walk (`Relation.chain`, gql.planner.compile).
CHAIN_SOURCE = f"""from (with recursive {chain_walk("r0.id = {p}.id", rows=True)}
      select depth, r from walk) {{c}}_w
  cross join lateral (select ({{c}}_w.r).*) {{c}}"""

STAGE_LOCK_SOURCE = (
    "from jsonb_each({p}.stage_locks) {c} where {c}.key ~ '^[0-9]+$' "
    "and jsonb_typeof({c}.value) = 'object' "
    "and {c}.value ->> 'status' in ('draft', 'locked', 'outdated')"
)


def _reference_images(column: str) -> Relation:
    return Relation(
        target="ReferenceImage",
        many=True,
        source=f"from jsonb_array_elements({{p}}.{column}) with ordinality {{c}}(e, n)",
        order="{c}.n",
    )


def _severity(value: Any) -> str:
    """`minSeverity` as the resolvers read it (gql.types.continuity): null is INFO."""
    return report.severity(rules.INFO if value is None else str(getattr(value, "value", value)))


def _report(scope: str) -> Relation:
    """The continuity report of the scenes matching `scope` (over the scenes row `s` and the
    parent `{p}`), built by the statement of services.continuity.report: messages, order and the
    minSeverity filter included."""
    sql = report.report_sql(scope.replace("{p}", "\x00p"), "\x00m")
    source = sql.replace("{", "{{").replace("}", "}}").replace("\x00p", "{p}").replace("\x00m", "{minSeverity}")
    return Relation(
        "ContinuityWarning", True, f"from ({source}) {{c}}",
        ", ".join("{c}." + column for column in report.REPORT_ORDER),
        arguments=(("minSeverity", _severity),),
    )


# An instance's revisions, newest first, a page (gql.types.instance's resolver; the loader's read
# is services.revisions.history): `first` 1-100 (null: 50), below `beforeNumber` when given.
INSTANCE_REVISIONS = Relation(
    "InstanceRevision", True,
    "from (select r.* from instance_revisions r where r.scene_asset_instance_id = {p}.id"
    " and (cast({beforeNumber} as int) is null or r.number < cast({beforeNumber} as int))"
    f" and {owned('r')} order by r.number desc limit cast({{first}} as int)) {{c}}",
    "{c}.number desc",
    arguments=(("first", history.page_size), ("beforeNumber", lambda value: value)),
)


def _state(column: str) -> Relation:
    """A revision's stored state (a JSON object, or null)."""
    return Relation(
        "InstanceState", False, f"from (select {{p}}.{column} as e) {{c}} where jsonb_typeof({{c}}.e) = 'object'"
    )


def _json(key: str) -> Column:
    return Column(f"{{t}}.e -> '{key}'")


def _sql_text(template: str, columns: dict[str, str]) -> str:
    """A `str.format` template of services.casting.frames as an SQL string expression over `columns`
    (each a non-null text expression), so both paths word it from one definition."""
    parts: list[str] = []
    for literal, name, _, _ in Formatter().parse(template):
        if literal:
            parts.append("'" + literal.replace("'", "''") + "'")
        if name is not None:
            parts.append(columns[name])
    return " || ".join(parts)


def _in(values: frozenset[str] | set[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in sorted(values)) + ")"


def _manifest(frame: str) -> Column:
    """The manifest of the `frame` ('start' or 'end') images of `{t}_k`."""
    line = _sql_text(
        frames.MANIFEST_LINE, {"position": f"r.{frame}_n::text", "name": "r.name", "type": "lower(r.asset_type)"}
    )
    return Column(
        f"(select coalesce(string_agg({line}, E'\\n' order by r.{frame}_n), '') from {{t}}_k r"
        f" where r.{frame}_n is not null)"
    )


_DIRECTION = "case k.presence " + " ".join(
    f"when '{presence}' then "
    + _sql_text(template, {"name": "k.name", "description": "k.effective_description"})
    for presence, template in sorted(frames.DIRECTIONS.items())
) + " end"

_IMAGE = "(case when i.image_key_url <> '' then i.image_key_url else a.image_key_url end)"
_END_IMAGE = f"(case when e.post_image_key_url <> '' then e.post_image_key_url else {_IMAGE} end)"
_IN_START = f"x.presence in {_in(frames.START_FRAME)} and {_IMAGE} <> ''"
_IN_END = f"x.presence in {_in(frames.END_FRAME)} and {_END_IMAGE} <> ''"

# Shot.frameReferences, computed now from the shot's cast (services.casting.frames.frame_references,
# the loader path's reference), once per shot in the `with` of its subquery: `{c}_k` is the
# cast in asset order (the shot's assignments, or every scene asset THROUGHOUT under the
# legacy fallback), one row per asset, read in one pass: an asset's image is the instance's,
# else the project asset's (an empty string counts as none, as in Python); a transformation's
# post image replaces it in the end frame only; `start_n` / `end_n` number the assets with an
# image in the start / end frame (null for the others).
FRAME_REFERENCES_WITH = f"""{{c}}_f as (
        select {{p}}.id as shot_id,
               coalesce((select s.assignments_initialized from scenes s where s.id = {{p}}.scene_id), true)
               as initialized),
      {{c}}_k as (
        select i.id, i.project_asset_id, a.name, a.asset_type, i.effective_description,
               {_IMAGE} as image, {_END_IMAGE} as end_image, x.presence, x.assignment_id,
               row_number() over w as rank,
               case when {_IN_START} then count(*) filter (where {_IN_START}) over w end as start_n,
               case when {_IN_END} then count(*) filter (where {_IN_END}) over w end as end_n
          from (select x.scene_asset_instance_id as id, x.presence_type as presence, x.id as assignment_id
                  from shot_asset_assignments x
                 where x.shot_id = {{p}}.id and (select f.initialized from {{c}}_f f)
                union all
                select i.id, '{frames.THROUGHOUT}', null::uuid from scene_asset_instances i
                 where i.scene_id = {{p}}.scene_id and not (select f.initialized from {{c}}_f f)) x
          join scene_asset_instances i on i.id = x.id and i.scene_id = {{p}}.scene_id
          join project_assets a on a.id = i.project_asset_id
          left join transformation_events e on e.shot_id = {{p}}.id and e.scene_asset_instance_id = i.id
        window w as (order by {asset_order("a")}))"""


def _frame_images(frame: str) -> Relation:
    """The `frame` ('start' or 'end') images of `{p}_k` as ReferenceImage rows."""
    image = "image" if frame == "start" else "end_image"
    fields: dict[str, Field] = {
        "position": Column(f"{{t}}.{frame}_n"),
        "sceneAssetInstanceId": Column("{t}.id"),
        "projectAssetId": Column("{t}.project_asset_id"),
        "assetName": Column("{t}.name"),
        "assetType": Column("upper({t}.asset_type)"),
        "imageUrl": Column(f"{{t}}.{image}"),
    }
    return Relation(
        "ReferenceImage", True, f"from {{p}}_k {{c}} where {{c}}.{frame}_n is not null", f"{{c}}.{frame}_n",
        fields=fields,
    )


# The table behind each table-backed type. Its columns are the type's plain fields (`plain_field`):
# only relations and computed fields need an entry in FIELDS.
TABLES: dict[str, Table] = {
    "Project": tables.projects,
    "Branch": tables.branches,
    "Scene": tables.scenes,
    "Shot": tables.shots,
    "ProjectAsset": tables.project_assets,
    "SceneAssetInstance": tables.scene_asset_instances,
    "ShotAssetAssignment": tables.shot_asset_assignments,
    "TransformationEvent": tables.transformation_events,
    "ImageJob": tables.image_generation_jobs,
    "InstanceRevision": tables.instance_revisions,
}

# The by-id loader that rebuilds an object of the type for a field the planner leaves to its
# resolver (types without one must be compiled whole).
BY_ID_LOADER: dict[str, RelationName] = {
    "Project": "project",
    "Branch": "branch",
    "Scene": "scene",
    "Shot": "shot",
    "ProjectAsset": "asset",
    "SceneAssetInstance": "instance",
    "ShotAssetAssignment": "assignment",
    "ImageJob": "image_job",
}


def _c(column: str) -> Column:
    """A column under a field of another name (a field named like its column needs no entry)."""
    return Column("{t}." + column)


FIELDS: dict[str, dict[str, Field]] = {
    "Project": {
        "activeBranch": _to_one("Branch", "branches", "active_branch_id"),
        "branches": Relation(
            "Branch", True, "from branches {c} where {c}.project_id = {p}.id", "{c}.created_at, {c}.id"
        ),
    },
    "Branch": {
        "project": _to_one("Project", "projects", "project_id"),
        "forkedFrom": _to_one("Branch", "branches", "forked_from_branch_id"),
        "scenes": Relation("Scene", True, "from scenes {c} where {c}.branch_id = {p}.id", "{c}.scene_number"),
        "assets": Relation(
            "ProjectAsset", True, "from project_assets {c} where {c}.branch_id = {p}.id",
            asset_name_order("{c}"),
        ),
        "continuityReport": _report("s.branch_id = {p}.id"),
        "lockedVisualStyleCapsuleId": Column(
            "(select s.content ->> 'locked_visual_style_capsule_id' from stage_states s"
            " where s.branch_id = {t}.id and s.stage_number = 5 order by s.version desc limit 1)"
        ),
    },
    "ProjectAsset": {
        "sceneInstances": Relation(
            "SceneAssetInstance", True,
            "from scene_asset_instances {c} join scenes {c}_s on {c}_s.id = {c}.scene_id"
            " where {c}.project_asset_id = {p}.id",
            "{c}_s.scene_number",
            joined=(("{c}", "scene_id", "{c}_s"),),
        ),
    },
    "Scene": {
        "branch": _to_one("Branch", "branches", "branch_id"),
        "priorScene": Relation(
            "Scene", False,
            "from scenes {c} where {c}.branch_id = {p}.branch_id and {c}.scene_number < {p}.scene_number",
            "{c}.scene_number desc",
        ),
        "assetInstances": Relation(
            "SceneAssetInstance", True,
            "from scene_asset_instances {c} join project_assets {c}_a on {c}_a.id = {c}.project_asset_id"
            " where {c}.scene_id = {p}.id",
            ASSET_ORDER,
            joined=(("{c}", "project_asset_id", "{c}_a"),),
        ),
        "shots": Relation(
            "Shot", True, "from shots {c} where {c}.scene_id = {p}.id", shot_order("{c}")
        ),
        "shotAssignments": Relation(
            "ShotAssetAssignment", True,
            "from shot_asset_assignments {c} join shots {c}_s on {c}_s.id = {c}.shot_id"
            " join scene_asset_instances {c}_i on {c}_i.id = {c}.scene_asset_instance_id"
            " join project_assets {c}_a on {c}_a.id = {c}_i.project_asset_id"
            " where {c}.scene_id = {p}.id",
            shot_order("{c}_s") + ", " + ASSET_ORDER,
            joined=(
                ("{c}", "shot_id", "{c}_s"),
                ("{c}", "scene_asset_instance_id", "{c}_i"),
                ("{c}_i", "project_asset_id", "{c}_a"),
            ),
        ),
        "hasShotAssignments": Column(
            "exists (select 1 from shot_asset_assignments x where x.scene_id = {t}.id)"
        ),
        "stageLocks": Relation(
            "StageLock", True, STAGE_LOCK_SOURCE, "({c}.key)::int, {c}.value ->> 'status'"
        ),
        "continuityWarnings": _report("s.id = {p}.id"),
        "localContext": Relation("LocalContext", False, ""),
    },
    # Over the scene's own row: what gql.types.scene's resolver (the reference) answers.
    "LocalContext": {
        "sceneId": _c("id"),
        "sceneScript": _c("script_excerpt"),
        "previousSceneEndState": Column(
            "(select x.end_state_summary from scenes x where x.branch_id = {t}.branch_id"
            " and x.scene_number < {t}.scene_number order by x.scene_number desc limit 1)"
        ),
        "sceneAssets": Relation(
            "LocalContextAsset", True,
            "from scene_asset_instances {c} join project_assets {c}_a on {c}_a.id = {c}.project_asset_id"
            " where {c}.scene_id = {p}.id",
            ASSET_ORDER,
        ),
    },
    "LocalContextAsset": {
        "name": Column("{t}_a.name"),
        "type": Column("upper({t}_a.asset_type)"),
        "description": _c("effective_description"),
        "statusTags": _c("status_tags"),
        "imageKeyUrl": Column(
            "(case when {t}.image_key_url <> '' then {t}.image_key_url else {t}_a.image_key_url end)"
        ),
    },
    "StageLock": {
        "stage": Column("({t}.key)::int"),
        "status": Column("upper({t}.value ->> 'status')"),
    },
    "SceneAssetInstance": {
        "isOutdated": Column(
            "coalesce((select x.version > {t}.base_version from project_assets x"
            " where x.id = {t}.project_asset_id), false)"
        ),
        "scene": _to_one("Scene", "scenes", "scene_id"),
        "projectAsset": _to_one("ProjectAsset", "project_assets", "project_asset_id"),
        "inheritedFrom": _to_one(
            "SceneAssetInstance", "scene_asset_instances", "inherited_from_instance_id"
        ),
        "chain": Relation("SceneAssetInstance", True, CHAIN_SOURCE, "{c}_w.depth desc", chain=True),
        "revisions": INSTANCE_REVISIONS,
        "shotAssignments": Relation(
            "ShotAssetAssignment", True,
            "from shot_asset_assignments {c} join shots {c}_s on {c}_s.id = {c}.shot_id"
            " where {c}.scene_asset_instance_id = {p}.id",
            shot_order("{c}_s"),
            joined=(("{c}", "shot_id", "{c}_s"),),
        ),
    },
    "Shot": {
        "scene": _to_one("Scene", "scenes", "scene_id"),
        "referenceImageOrder": _reference_images("reference_image_order"),
        "endFrameReferenceImageOrder": _reference_images("end_frame_reference_image_order"),
        "assetAssignments": Relation(
            "ShotAssetAssignment", True,
            "from shot_asset_assignments {c}"
            " join scene_asset_instances {c}_i on {c}_i.id = {c}.scene_asset_instance_id"
            " join project_assets {c}_a on {c}_a.id = {c}_i.project_asset_id"
            " where {c}.shot_id = {p}.id",
            ASSET_ORDER,
            joined=(("{c}", "scene_asset_instance_id", "{c}_i"), ("{c}_i", "project_asset_id", "{c}_a")),
        ),
        "transformationEvents": Relation(
            "TransformationEvent", True,
            "from transformation_events {c} where {c}.shot_id = {p}.id", "{c}.created_at, {c}.id",
        ),
        "frameReferences": Relation(
            "FrameReferences", False, "from {c}_f {c}", with_=FRAME_REFERENCES_WITH
        ),
        "startFrame": Relation(
            "ImageJob", False, f"from image_generation_jobs {{c}} where {frame_jobs('{p}', '{c}', 'start')}",
            frame_job_order("{c}"),
        ),
        "endFrame": Relation(
            "ImageJob", False, f"from image_generation_jobs {{c}} where {frame_jobs('{p}', '{c}', 'end')}",
            frame_job_order("{c}"),
        ),
    },
    # Its plain columns are read as the catalogue says (a field without an entry here is left to
    # its resolver until then).
    "ImageJob": {
        "referenceImages": _reference_images("reference_images"),
    },
    "FrameReferences": {
        "usesLegacyFallback": Column("not {t}.initialized"),
        "startFrameManifest": _manifest("start"),
        "startFrameImages": _frame_images("start"),
        "endFrameManifest": _manifest("end"),
        "endFrameImages": _frame_images("end"),
        "presenceDirections": Column(
            f"(select coalesce(json_agg({_DIRECTION} order by k.rank), '[]'::json) from {{t}}_k k"
            f" where k.presence in {_in(set(frames.DIRECTIONS))})"
        ),
        "videoOnlyAssets": Relation(
            "ShotAssetAssignment", True,
            "from {p}_k {c}_k join shot_asset_assignments {c} on {c}.id = {c}_k.assignment_id"
            f" where {{c}}_k.presence = '{frames.PASSES_THROUGH}'",
            "{c}_k.rank",
        ),
    },
    "ReferenceImage": {
        "position": Column("({t}.e ->> 'position')::int"),
        "sceneAssetInstanceId": Column("({t}.e ->> 'scene_asset_instance_id')::uuid"),
        "projectAssetId": Column("({t}.e ->> 'project_asset_id')::uuid"),
        "assetName": Column("{t}.e ->> 'asset_name'"),
        "assetType": Column("upper({t}.e ->> 'asset_type')"),
        "imageUrl": Column("{t}.e ->> 'image_url'"),
    },
    "ShotAssetAssignment": {
        "shot": _to_one("Shot", "shots", "shot_id"),
        "sceneAssetInstance": _to_one(
            "SceneAssetInstance", "scene_asset_instances", "scene_asset_instance_id"
        ),
    },
    "InstanceRevision": {
        "before": _state("before"),
        "after": _state("after"),
    },
    # A stored state as InstanceState.from_json reads it (null tags: an empty list).
    "InstanceState": {
        "descriptionOverride": _json("description_override"),
        "effectiveDescription": _json("effective_description"),
        "statusTags": Column("coalesce(nullif({t}.e -> 'status_tags', 'null'::jsonb), '[]'::jsonb)"),
        "imageKeyUrl": _json("image_key_url"),
        "imageIsOwn": _json("image_is_own"),
        "carryForward": _json("carry_forward"),
        "baseVersion": _json("base_version"),
    },
    # A row of the report (services.continuity.report.report_sql), not of a table.
    "ContinuityWarning": {
        "code": Column("upper({t}.code)"),
        "severity": Column("upper({t}.severity)"),
        "message": Column("{t}.message"),
        "scene": _to_one("Scene", "scenes", "scene_id"),
        "shot": _to_one("Shot", "shots", "shot_id"),
        "sceneAssetInstance": _to_one("SceneAssetInstance", "scene_asset_instances", "instance_id"),
    },
    "TransformationEvent": {
        "shot": _to_one("Shot", "shots", "shot_id"),
        "sceneAssetInstance": _to_one(
            "SceneAssetInstance", "scene_asset_instances", "scene_asset_instance_id"
        ),
    },
}

# SQL types whose JSON PostgreSQL writes exactly as these GraphQL scalars serialise the value
# (a uuid's canonical text, an int, a bool, a text).
_AS_IS: tuple[tuple[type[object], frozenset[str]], ...] = (
    (Text, frozenset({"String", "ID"})),
    (Integer, frozenset({"Int"})),
    (Boolean, frozenset({"Boolean"})),
    (Uuid, frozenset({"UUID", "ID"})),
)


def plain_field(type_name: str, field: GraphQLField) -> Column | None:
    """A field without an entry in FIELDS, answered from its type's table when it is a plain
    column: a field of the type without a resolver (so its `from_row` copies the row's column
    of the same name, `gql.rows`) whose name is a column of the table, of a type the planner
    writes as the GraphQL scalar does (a timestamp as DateTime; a text as an enum whose names
    are its values upper-cased). Anything else stays a hole, answered by its resolver."""
    table = TABLES.get(type_name)
    definition = (field.extensions or {}).get("strawberry-definition")
    if table is None or definition is None or getattr(definition, "base_resolver", None) is not None:
        return None
    column = table.c.get(definition.python_name)
    if column is None or (column.nullable and isinstance(field.type, GraphQLNonNull)):
        return None
    sql = "{t}." + column.name
    sql_type, gtype = column.type, _nullable(field.type)
    if isinstance(sql_type, ARRAY) and isinstance(gtype, GraphQLList):
        # A text[] as a list of strings: the JSON array PostgreSQL writes is the list.
        return Column(sql) if _as_is(sql_type.item_type, _nullable(gtype.of_type)) else None
    if isinstance(sql_type, DateTime) and getattr(gtype, "name", None) == "DateTime":
        return Column(DATETIME.format(col=sql))
    if isinstance(sql_type, Text) and isinstance(gtype, GraphQLEnumType):
        spelled = all(name == str(value.value).upper() for name, value in gtype.values.items())
        return Column(f"upper({sql})") if spelled else None
    return Column(sql) if _as_is(sql_type, gtype) else None


def _nullable(gtype: Any) -> Any:
    return gtype.of_type if isinstance(gtype, GraphQLNonNull) else gtype


def _as_is(sql_type: object, gtype: Any) -> bool:
    return isinstance(gtype, GraphQLScalarType) and any(
        isinstance(sql_type, kind) and gtype.name in names for kind, names in _AS_IS
    )


OWNED = owned("{t}")


@dataclass(frozen=True)
class Root:
    """A field the planner answers from the top: an object by id, or the viewer's projects."""

    target: str
    where: str
    many: bool = False
    order: str | None = None


ROOTS: dict[tuple[str, str], Root] = {
    ("Query", "project"): Root("Project", "{t}.id = :id and " + owns_project("{t}")),
    ("Query", "branch"): Root("Branch", "{t}.id = :id and " + OWNED),
    ("Query", "scene"): Root("Scene", "{t}.id = :id and " + OWNED),
    ("Query", "sceneAssetInstance"): Root("SceneAssetInstance", "{t}.id = :id and " + OWNED),
    ("Query", "shot"): Root("Shot", "{t}.id = :id and " + OWNED),
    ("Viewer", "projects"): Root(
        "Project", owns_project("{t}"), many=True, order="{t}.created_at desc, {t}.id desc"
    ),
}
