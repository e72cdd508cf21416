"""What the planner knows of the table-backed types: each field's SQL, each relation's rows and
order. The one place in the GraphQL layer that speaks SQL; the loader path in
`services.db.reads` stays the reference. Both build their ownership, orders and chain walk from
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
from typing import Any

from graphql import GraphQLEnumType, GraphQLField, GraphQLList, GraphQLNonNull, GraphQLScalarType
from sqlalchemy import ARRAY, Boolean, DateTime, Integer, Table, Text, Uuid

from gql.relations import RelationName
from services.continuity import report, rules
from services.db import tables
from services.db.predicates import asset_name_order, asset_order, chain_walk, owned, owns_project, shot_order
from services.revisions import history

# The DateTime scalar's serialisation (gql.scalars.serialize_datetime), done by PostgreSQL.
DATETIME = "to_char({col} at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"


def datetime_of(column: str) -> str:
    return DATETIME.format(col="{t}." + column)


@dataclass(frozen=True)
class Column:
    """A leaf: an SQL expression over the row."""

    sql: str


@dataclass(frozen=True)
class Relation:
    """Rows of another type reached from this row.

    `source` is `from ... where ...` selecting the child rows as `{c}`; `order` (lists, and a
    to-one that picks one row of many) orders them. A to-one by key names its `table` and
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
    arguments: tuple[tuple[str, Callable[[Any], Any]], ...] = ()


Field = Column | Relation


def _to_one(target: str, table: str, fk: str) -> Relation:
    return Relation(target, False, f"from {table} {{c}} where {{c}}.id = {{p}}.{fk}", fk=fk, table=table)


ASSET_ORDER = asset_order("{c}_a")

# Root first: the loaders' chain walk (chain_of_instance), from one parent row.
CHAIN_SOURCE = f"""from (with recursive {chain_walk("{p}")}
      select id, depth from walk) {{c}}_w
  join scene_asset_instances {{c}} on {{c}}.id = {{c}}_w.id"""

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
        ),
        "hasShotAssignments": Column(
            "exists (select 1 from shot_asset_assignments x where x.scene_id = {t}.id)"
        ),
        "stageLocks": Relation(
            "StageLock", True, STAGE_LOCK_SOURCE, "({c}.key)::int, {c}.value ->> 'status'"
        ),
        "continuityWarnings": _report("s.id = {p}.id"),
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
        "chain": Relation("SceneAssetInstance", True, CHAIN_SOURCE, "{c}_w.depth desc"),
        "revisions": INSTANCE_REVISIONS,
        "shotAssignments": Relation(
            "ShotAssetAssignment", True,
            "from shot_asset_assignments {c} join shots {c}_s on {c}_s.id = {c}.shot_id"
            " where {c}.scene_asset_instance_id = {p}.id",
            shot_order("{c}_s"),
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
        ),
        "transformationEvents": Relation(
            "TransformationEvent", True,
            "from transformation_events {c} where {c}.shot_id = {p}.id", "{c}.created_at, {c}.id",
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
