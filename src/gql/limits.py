"""Limits on what one GraphQL document may ask for, checked after parsing and before the
standard validation rules and any resolver run.

Measured per document, fragments expanded wherever they are spread:
- operations: operation definitions in the document;
- depth: nested field levels of an operation (`{ scene { id } }` is 2); introspection
  (`__schema`, `__type`) is bounded by the schema and not counted, but any selection nested
  more than `HARD_NESTING` levels (fields, fragments and inline fragments alike) is refused;
- aliases: aliased fields, each spread of a fragment counting its aliases again;
- cost: the number of values the response would hold if every list had its typical size
  (`LIST_SIZES`): a leaf (scalar, enum, or a list of them) is 1, an object is 1 plus its
  selection, a list of objects is its size times that, a mutation field adds
  `MUTATION_FIELD_COST`; introspection lists take their sizes from the served schema;
- duplicates: how often one response path (`viewer.projects.id`) is selected. The standard
  rule that checks selections can be merged compares every pair of fields sharing a
  response path, so repeating one field thousands of times costs seconds of CPU while the
  response stays tiny; this limit keeps that check linear.

Cost, depth and aliases are computed with every fragment measured once, so a document that
spreads fragments exponentially is measured in time linear in its size; only a document
within the cost budget is walked expanded (to count duplicates), and its cost bounds the walk.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_enum_type,
    is_input_object_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from gql.errors import LimitExceeded
from services.core.config import Settings

# Typical sizes of the lists of a film: a branch has ~40 scenes and ~30 assets, a scene ~25
# asset instances and ~12 shots, an inheritance chain ~40 links. Keyed by `Type.field`.
LIST_SIZES: dict[str, int] = {
    "Viewer.projects": 10,
    "Project.branches": 3,
    "Branch.scenes": 40,
    "Branch.assets": 30,
    "ProjectAsset.sceneInstances": 40,
    "Scene.assetInstances": 25,
    "Scene.shots": 12,
    "Scene.shotAssignments": 300,
    "Scene.stageLocks": 12,
    "SceneAssetInstance.chain": 40,
    "SceneAssetInstance.shotAssignments": 12,
    "Shot.assetAssignments": 25,
    "Shot.referenceImageOrder": 25,
    "Shot.endFrameReferenceImageOrder": 25,
    "Shot.transformationEvents": 5,
    "FrameReferences.startFrameImages": 25,
    "FrameReferences.endFrameImages": 25,
    "FrameReferences.videoOnlyAssets": 25,
    "LocalContext.sceneAssets": 25,
    "ImageJob.referenceImages": 25,
    "InheritSceneAssetsPayload.instances": 25,
    "Mutation.lockProjectAssets": 30,
    "Mutation.createShotAssetAssignments": 300,
    "Mutation.generateShotPrompts": 12,
    "Mutation.generateShotFrames": 2,
}
# A list field nobody has sized yet is assumed to be as long as a scene's instances.
DEFAULT_LIST_SIZE = 25
# Lists a client sizes with an argument: (argument, its default, its largest allowed value).
# A literal counts as given; a variable (unknown when the document is measured) as the largest.
PAGED_LISTS: dict[str, tuple[str, int, int]] = {
    "SceneAssetInstance.revisions": ("first", 50, 100),
    "ProjectAsset.revisions": ("first", 50, 100),
}
# A mutation field writes in its own transaction: it costs more than the values it returns.
MUTATION_FIELD_COST = 10
# Beyond this nesting (fields, fragment spreads, inline fragments) a document is refused as
# too deep before anything recurses further.
HARD_NESTING = 64

@dataclass(frozen=True)
class LimitSettings:
    max_depth: int
    max_aliases: int
    max_cost: int
    max_operations: int
    max_duplicate_fields: int
    max_tokens: int

    @classmethod
    def of(cls, settings: Settings) -> LimitSettings:
        return cls(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_cost=settings.max_cost,
            max_operations=settings.max_operations,
            max_duplicate_fields=settings.max_duplicate_fields,
            max_tokens=settings.max_tokens,
        )


@dataclass(frozen=True)
class Measure:
    """Of one selection set, per item of its parent: what the limits look at."""

    cost: int = 0
    depth: int = 0
    aliases: int = 0
    # Selection sets nested in any way (fields, fragments, inline fragments): what recursion
    # over the document, here and in the standard rules, goes through.
    nesting: int = 0


ZERO = Measure()


class _TooDeep(Exception):
    pass


def _introspection_sizes(schema: GraphQLSchema) -> dict[str, int]:
    """List sizes of introspection answers, from the schema being served."""
    types = [t for name, t in schema.type_map.items() if not name.startswith("__")]
    objects = [t for t in types if is_object_type(t)]
    fields = [f for t in objects for f in t.fields.values()]
    inputs = [t for t in types if is_input_object_type(t)]
    enums = [t for t in types if is_enum_type(t)]

    def mean(values: list[int]) -> int:
        return max(1, math.ceil(sum(values) / len(values))) if values else 1

    return {
        "__Schema.types": len(schema.type_map),
        "__Schema.directives": len(schema.directives),
        "__Type.fields": mean([len(t.fields) for t in objects]),
        "__Type.inputFields": mean([len(t.fields) for t in inputs]),
        "__Type.enumValues": mean([len(t.values) for t in enums]),
        "__Type.interfaces": 1,
        "__Type.possibleTypes": 1,
        "__Field.args": mean([len(f.args) for f in fields]),
        "__Directive.args": mean([len(d.args) for d in schema.directives]),
        "__Directive.locations": 1,
    }


class QueryLimits:
    """The limits of one served schema; `check` answers the refusals for a document."""

    def __init__(self, schema: GraphQLSchema, limits: LimitSettings) -> None:
        self.schema = schema
        self.limits = limits
        self.sizes = {**LIST_SIZES, **_introspection_sizes(schema)}

    def check(self, document: DocumentNode) -> list[GraphQLError]:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        limits = self.limits
        if len(operations) > limits.max_operations:
            return [
                LimitExceeded(
                    f"The document holds {len(operations)} operations; at most "
                    f"{limits.max_operations} are allowed.",
                    "TOO_MANY_OPERATIONS",
                    operations=len(operations),
                    maxOperations=limits.max_operations,
                )
            ]
        try:
            measure = self.measure(document)
            if measure.nesting > HARD_NESTING:
                raise _TooDeep
        except _TooDeep:
            return [
                LimitExceeded(
                    f"Selections are nested more than {HARD_NESTING} levels deep.",
                    "QUERY_TOO_DEEP",
                    maxDepth=limits.max_depth,
                )
            ]
        errors: list[GraphQLError] = []
        depth = measure.depth
        if depth > limits.max_depth:
            errors.append(
                LimitExceeded(
                    f"The query is {depth} levels deep; at most {limits.max_depth} are allowed.",
                    "QUERY_TOO_DEEP",
                    depth=depth,
                    maxDepth=limits.max_depth,
                )
            )
        aliases = measure.aliases
        if aliases > limits.max_aliases:
            errors.append(
                LimitExceeded(
                    f"The document uses {aliases} aliases; at most {limits.max_aliases} are "
                    "allowed.",
                    "TOO_MANY_ALIASES",
                    aliases=aliases,
                    maxAliases=limits.max_aliases,
                )
            )
        if measure.cost > limits.max_cost:
            # Nested lists multiply: a deep document's cost passes any 64-bit integer, which
            # JSON encoders refuse. Past the limit only "over it" matters.
            cost = limits.max_cost + 1
            errors.append(
                LimitExceeded(
                    f"The query would cost more than {limits.max_cost} (values in the response "
                    "at typical list sizes), the most allowed.",
                    "QUERY_TOO_COMPLEX",
                    cost=cost,
                    maxCost=limits.max_cost,
                )
            )
        if errors:
            return errors
        duplicate = _Walk(self, document).duplicates(operations, limits.max_duplicate_fields)
        if duplicate is not None:
            path, count = duplicate
            return [
                LimitExceeded(
                    f"'{path}' is selected {count} times; at most "
                    f"{limits.max_duplicate_fields} selections of one response path are allowed.",
                    "TOO_MANY_DUPLICATE_FIELDS",
                    responsePath=path,
                    count=count,
                    maxDuplicateFields=limits.max_duplicate_fields,
                )
            ]
        return []


    def measure(self, document: DocumentNode) -> Measure:
        """The document's worst operation for cost and depth; its aliases all counted."""
        walk = _Walk(self, document)
        measures = [
            walk.operation(d) for d in document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        return Measure(
            cost=max((m.cost for m in measures), default=0),
            depth=max((m.depth for m in measures), default=0),
            aliases=sum(m.aliases for m in measures),
            nesting=max((m.nesting for m in measures), default=0),
        )


class _Walk:
    def __init__(self, limits: QueryLimits, document: DocumentNode) -> None:
        self.schema = limits.schema
        self.sizes = limits.sizes
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measured: dict[str, Measure] = {}
        self.open: set[str] = set()

    def operation(self, op: OperationDefinitionNode) -> Measure:
        root = self.schema.get_root_type(op.operation)
        if root is None:
            return ZERO
        return self.selection(op.selection_set, root, 0)

    def selection(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, nesting: int
    ) -> Measure:
        if nesting > HARD_NESTING:
            raise _TooDeep
        cost = depth = aliases = deepest = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                measure = self.field(node, parent, nesting + 1)
                cost += measure.cost
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                if on is None:
                    continue
                measure = self.selection(node.selection_set, on, nesting + 1)
                cost += measure.cost
            elif isinstance(node, FragmentSpreadNode):
                measure = self.spread(node.name.value, nesting + 1)
                cost += measure.cost
            else:  # pragma: no cover - the parser makes no other selection
                continue
            depth = max(depth, measure.depth)
            aliases += measure.aliases
            deepest = max(deepest, measure.nesting)
        return Measure(cost, depth, aliases, deepest + 1)

    def spread(self, name: str, nesting: int) -> Measure:
        known = self.measured.get(name)
        if known is not None:
            return known
        fragment = self.fragments.get(name)
        if fragment is None or name in self.open:
            # Unknown fragments and cycles are refused by the standard rules.
            return ZERO
        on = self.schema.get_type(fragment.type_condition.name.value)
        if on is None:
            return ZERO
        self.open.add(name)
        measure = self.selection(fragment.selection_set, on, nesting)
        self.open.discard(name)
        self.measured[name] = measure
        return measure

    def _field_type(self, node: FieldNode, parent: GraphQLNamedType) -> Any:
        name = node.name.value
        if name == "__schema":
            return SchemaMetaFieldDef.type
        if name == "__type":
            return TypeMetaFieldDef.type
        fields = getattr(parent, "fields", None)
        definition = fields.get(name) if fields else None
        return definition.type if definition is not None else None

    def _list_size(self, node: FieldNode, parent: GraphQLNamedType) -> int:
        key = f"{parent.name}.{node.name.value}"
        paged = PAGED_LISTS.get(key)
        if paged is None:
            return self.sizes.get(key, DEFAULT_LIST_SIZE)
        argument, default, most = paged
        for given in node.arguments or ():
            if given.name.value != argument:
                continue
            if isinstance(given.value, IntValueNode):
                return min(max(int(given.value.value), 0), most)
            if isinstance(given.value, NullValueNode):
                return default
            return most
        return default

    def field(self, node: FieldNode, parent: GraphQLNamedType, nesting: int) -> Measure:
        aliases = 1 if node.alias else 0
        if node.name.value == "__typename":
            return Measure(1, 0, aliases)
        field_type = self._field_type(node, parent)
        if field_type is None:
            return Measure(0, 0, aliases)  # an unknown field: the standard rules refuse it
        named = get_named_type(field_type)
        introspection = node.name.value.startswith("__") or parent.name.startswith("__")
        writes = MUTATION_FIELD_COST if parent is self.schema.mutation_type else 0
        if is_leaf_type(named) or node.selection_set is None:
            return Measure(writes + 1, 0 if introspection else 1, aliases)
        child = self.selection(node.selection_set, named, nesting)
        unwrapped = field_type.of_type if is_non_null_type(field_type) else field_type
        size = self._list_size(node, parent) if is_list_type(unwrapped) else 1
        depth = 0 if introspection else child.depth + 1
        cost = writes + size * (1 + child.cost)
        return Measure(cost, depth, aliases + child.aliases, child.nesting)

    def duplicates(
        self, operations: list[OperationDefinitionNode], most: int
    ) -> tuple[str, int] | None:
        """The first response path selected more than `most` times, with its count."""
        counts: Counter[str] = Counter()
        for op in operations:
            root = self.schema.get_root_type(op.operation)
            if root is None:
                continue
            for path in self._paths(op.selection_set, root, f"{op.operation.value}:", set()):
                counts[path] += 1
                if counts[path] > most:
                    return path.partition(":")[2], counts[path]
        return None

    def _paths(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, prefix: str,
        spreading: set[str],
    ) -> Iterator[str]:
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                path = f"{prefix}{(node.alias or node.name).value}"
                yield path
                if node.selection_set is not None:
                    field_type = self._field_type(node, parent)
                    if field_type is not None:
                        yield from self._paths(
                            node.selection_set, get_named_type(field_type), path + ".", spreading
                        )
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                if on is not None:
                    yield from self._paths(node.selection_set, on, prefix, spreading)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spreading:
                    continue
                on = self.schema.get_type(fragment.type_condition.name.value)
                if on is not None:
                    yield from self._paths(fragment.selection_set, on, prefix, spreading | {name})


class Verdicts:
    """Per document text, bounded LRU: the limit check's and the standard validation's verdicts.
    Keyed by the text, whose hash Python caches, where hashing a document walks all of it."""

    def __init__(self, limits: LimitSettings, size: int = 256) -> None:
        self.limits = limits
        self.size = size
        self.query_limits: QueryLimits | None = None
        self.cache: OrderedDict[tuple[str, tuple[Any, ...]], tuple[GraphQLError, ...]] = (
            OrderedDict()
        )

    def __call__(
        self, schema: GraphQLSchema, query: str | None, document: DocumentNode,
        rules: tuple[Any, ...],
    ) -> list[GraphQLError]:
        if self.query_limits is None or self.query_limits.schema is not schema:
            self.query_limits = QueryLimits(schema, self.limits)
            self.cache.clear()
        if query is None:
            return self._judge(document, rules)
        key = (query, rules)
        verdict = self.cache.get(key)
        if verdict is None:
            verdict = tuple(self._judge(document, rules))
            self.cache[key] = verdict
            if len(self.cache) > self.size:
                self.cache.popitem(last=False)
        else:
            self.cache.move_to_end(key)
        return list(verdict)

    def _judge(self, document: DocumentNode, rules: tuple[Any, ...]) -> list[GraphQLError]:
        assert self.query_limits is not None
        refusals = self.query_limits.check(document)
        if refusals:
            return refusals
        return validate_document(self.query_limits.schema, document, rules)


class Limits(SchemaExtension):
    """Refuses documents over the limits before the standard validation runs (it is
    quadratic in repeated fields); takes the place of strawberry's ValidationCache."""

    def __init__(self, verdicts: Verdicts) -> None:
        super().__init__()
        self.verdicts = verdicts

    def on_operation(self) -> Iterator[None]:
        # The parser stops counting at the limit: a huge document is never parsed whole.
        self.execution_context.parse_options["max_tokens"] = self.verdicts.limits.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None
        errors = self.verdicts(
            context.schema._schema, context.query, document, tuple(context.validation_rules)
        )
        operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
        # Strawberry would run the first operation; GraphQL says the client must choose.
        if not errors and operations > 1 and context._provided_operation_name is None:
            errors = [
                GraphQLError(
                    "The document holds several operations: name the one to run with "
                    "operationName.",
                    extensions={"code": "OPERATION_RESOLUTION_FAILURE"},
                )
            ]
        context.pre_execution_errors = errors
        yield
