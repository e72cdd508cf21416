"""The execution context that answers plannable fields with one SQL statement.

A root the planner knows (an object by id, the viewer's projects) is compiled once per document
(and per value of the boolean variables its directives may read), run inside the request's own
`authenticated` transaction, and handed to graphql-core as an already completed value: the JSON
text itself (an `orjson.Fragment`, written out verbatim by the HTTP view) when nothing is left
to resolve, else the parsed tree with the holes filled by the fields' own resolvers.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson
from graphql import (
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    is_leaf_type,
    located_error,
)
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined, gather_with_cancel
from starlette.requests import Request
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gql.planner.catalog import ROOTS, Root
from gql.planner.compile import Compiler, NotCompilable, Plan, Shape
from services.core.config import switched_on
from services.db.predicates import typed

log = logging.getLogger("continuity.planner")

# Checked first on every field of every request: most fields are not under these parents.
_ROOT_PARENTS = frozenset(parent for parent, _ in ROOTS)

PLAN_CACHE_SIZE = 512
# A request may turn the planner off for itself (the differential tests compare both paths).
SWITCH_HEADER = "x-continuity-planner"


def planner_enabled_by_env() -> bool:
    return switched_on("CONTINUITY_PLANNER")


class _PlanCache:
    def __init__(self, size: int) -> None:
        self._plans: OrderedDict[Any, Plan | None] = OrderedDict()
        self._size = size

    def get(self, key: Any) -> Plan | bool | None:
        try:
            plan = self._plans[key]
        except KeyError:
            return False
        self._plans.move_to_end(key)
        return plan

    def put(self, key: Any, plan: Plan | None) -> None:
        self._plans[key] = plan
        if len(self._plans) > self._size:
            self._plans.popitem(last=False)


PLANS = _PlanCache(PLAN_CACHE_SIZE)


def planner_wanted(context: Any) -> bool:
    if not getattr(context, "planner", False):
        return False
    request = getattr(context, "request", None)
    headers = getattr(request, "headers", None)
    if headers is not None and headers.get(SWITCH_HEADER, "").lower() in {"0", "off"}:
        return False
    return True


# Per object type: its plain fields (an attribute read, no resolver, no arguments) -> (attribute,
# type). Their values are completed here when they are leaves, or objects made of plain fields.
_PLAIN: dict[GraphQLObjectType, dict[str, tuple[str, Any]]] = {}


def _plain_fields(parent_type: GraphQLObjectType) -> dict[str, tuple[str, Any]]:
    known = _PLAIN.get(parent_type)
    if known is None:
        known = {}
        for name, field in parent_type.fields.items():
            definition = (field.extensions or {}).get("strawberry-definition")
            resolve = field.resolve
            if (
                definition is not None
                and definition.is_basic_field
                and getattr(definition, "default_resolver", getattr) is getattr
                and getattr(resolve, "_is_default", False)
                and getattr(resolve, "__name__", "") == "_get_basic_result"
                and not field.args
            ):
                known[name] = (definition.python_name, field.type)
        _PLAIN[parent_type] = known
    return known


class _Slow(Exception):
    """A value graphql-core must complete itself (a resolver below, or an error to report)."""


class PlanningExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's, with a short cut for plain leaf fields: the attribute is read and
        serialised directly (no resolve info, resolver call or completion per field). Anything
        else, and any leaf that would be an error, goes the ordinary way."""
        plain = _plain_fields(parent_type)
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            for response_name, field_details_list in grouped_field_set.items():
                known = plain.get(field_details_list[0].node.name.value)
                if known is not None and not field_details_list[0].node.arguments:
                    try:
                        results[response_name] = self._completer(known[1], field_details_list)(
                            getattr(source_value, known[0])
                        )
                        continue
                    except Exception:
                        pass  # recomputed the ordinary way (reading attributes has no effects)
                result = self.execute_field(
                    parent_type, source_value, field_details_list,
                    Path(path, response_name, parent_type.name), position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def complete_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's, with the same short cut for a list a resolver returned whose items are
        plain objects (the continuity report: thousands of warnings): one function builds it
        instead of graphql-core's completion per item and field. Anything else, and any value
        that would be an error, goes the ordinary way."""
        if _is_list(return_type) and not self.is_awaitable(result):
            try:
                return self._completer(return_type, field_details_list)(result)
            except Exception:
                pass  # recomputed the ordinary way (reading attributes has no effects)
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)

    def _completer(self, gtype: Any, field_details_list: Any) -> Callable[[Any], Any]:
        """What graphql-core's completion makes of a value that is fine, as one function per
        field of this request: leaves serialised, lists mapped, objects built from their plain
        fields. Anything else (a resolver below, a value to report as an error) raises _Slow."""
        cache: dict[Any, tuple[Any, Callable[[Any], Any]]] = self.__dict__.setdefault("_completers", {})
        key = (gtype, id(field_details_list))
        known = cache.get(key)
        if known is not None:
            return known[1]
        complete = self._build_completer(gtype, field_details_list)
        # The details list is kept alive with its function, so its id is not reused meanwhile.
        cache[key] = (field_details_list, complete)
        return complete

    def _build_completer(self, gtype: Any, field_details_list: Any) -> Callable[[Any], Any]:
        if isinstance(gtype, GraphQLNonNull):
            inner = self._completer(gtype.of_type, field_details_list)

            def non_null(value: Any) -> Any:
                if value is None:
                    raise _Slow
                return inner(value)

            return non_null
        if isinstance(gtype, GraphQLList):
            item = self._completer(gtype.of_type, field_details_list)

            def listed(value: Any) -> Any:
                if value is None:
                    return None
                if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
                    raise _Slow
                return [item(entry) for entry in value]

            return listed
        if is_leaf_type(gtype):
            serialize = gtype.serialize

            def leaf(value: Any) -> Any:
                if value is None:
                    return None
                serialized = serialize(value)
                if serialized is None:
                    raise _Slow
                return serialized

            return leaf
        entries = self._plain_entries(gtype, field_details_list)
        if entries is None:

            def slow(value: Any) -> Any:
                if value is None:
                    return None
                raise _Slow

            return slow

        def plain_object(value: Any) -> Any:
            if value is None:
                return None
            return {
                key: complete if attribute is None else complete(getattr(value, attribute))
                for key, attribute, complete in entries
            }

        return plain_object

    def _plain_entries(self, gtype: Any, field_details_list: Any) -> list[tuple[str, str | None, Any]] | None:
        """(response key, attribute, completer) of every selected field, when all are plain."""
        if not isinstance(gtype, GraphQLObjectType) or gtype.is_type_of is not None:
            return None
        plain = _plain_fields(gtype)
        entries: list[tuple[str, str | None, Any]] = []
        for response_name, details in self.collect_subfields(gtype, field_details_list)[0].items():
            name = details[0].node.name.value
            if name == "__typename":
                entries.append((response_name, None, gtype.name))
                continue
            field = plain.get(name)
            if field is None or details[0].node.arguments:
                return None
            entries.append((response_name, field[0], self._completer(field[1], details)))
        return entries

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        root = (
            ROOTS.get((parent_type.name, field_details_list[0].node.name.value))
            if parent_type.name in _ROOT_PARENTS
            else None
        )
        if root is not None and planner_wanted(self.context_value):
            planned = self._execute_planned(root, parent_type, field_details_list, path)
            if planned is not None:
                return planned
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    # -- planning -------------------------------------------------------------------------

    def _cache_key(self, field_details_list: Any, path: Path) -> Any:
        loc = self.operation.loc
        if loc is None:
            return None
        flags = tuple(
            (d.variable.name.value, self.variable_values.coerced.get(d.variable.name.value))
            for d in self.operation.variable_definitions or ()
            if _is_boolean(d.type)
        )
        keys = tuple(k for k in path.as_list() if isinstance(k, str))
        return (loc.source.body, self.operation.name.value if self.operation.name else None, keys, flags)

    def _plan(self, root: Root, parent_type: GraphQLObjectType, field_details_list: Any, path: Path) -> Plan | None:
        key = self._cache_key(field_details_list, path)
        cached = PLANS.get(key) if key is not None else False
        if cached is not False:
            return cached  # type: ignore[return-value]
        target = self.schema.get_type(root.target)
        assert isinstance(target, GraphQLObjectType)

        def collect(gtype: GraphQLObjectType, details: Any) -> dict[str, Any]:
            return self.collect_subfields(gtype, details)[0]

        plan: Plan | None
        try:
            plan = Compiler(collect).root(root, target, field_details_list)
            plan.statement = typed(plan.sql)
        except NotCompilable as reason:
            log.debug("not planned (%s): %s", reason, path.as_list())
            plan = None
        if key is not None:
            PLANS.put(key, plan)
        return plan

    def _execute_planned(
        self, root: Root, parent_type: GraphQLObjectType, field_details_list: Any, path: Path
    ) -> Any:
        context = self.context_value
        field_def = parent_type.fields[field_details_list[0].node.name.value]
        try:
            uid = context.uid
            args = get_argument_values(
                field_def,
                field_details_list[0].node,
                self.variable_values,
                field_details_list[0].fragment_variable_values,
                self.hide_suggestions,
            )
        except Exception:
            # The ordinary path reports it exactly as it always does.
            return None
        try:
            plan = self._plan(root, parent_type, field_details_list, path)
        except GraphQLError:
            # Collecting the selection refused a directive's argument (`@include(if: $v)` with
            # `$v: Boolean = true` sent as null): the ordinary path reports it at this field.
            return None
        if plan is None:
            return None
        params = {"uid": uid, "id": args.get("id")}
        try:
            params.update(self._arguments(plan))
        except Exception:
            # An argument the resolver would refuse: the ordinary path reports it.
            return None
        if hasattr(context, "planned"):
            context.planned = True
        return self._run(plan, params, field_def.type, field_details_list, path)

    def _arguments(self, plan: Plan) -> dict[str, Any]:
        return argument_values(plan, self.variable_values)

    async def _run(self, plan: Plan, params: dict[str, Any], return_type: Any, details: Any, path: Path) -> Any:
        context = self.context_value
        try:
            async with context.db.transaction(params["uid"]) as conn:
                body = (await conn.execute(plan.statement, params)).scalar()
            if body is None:
                return None
            if plan.shape is None:
                if isinstance(context.request, Request):
                    return orjson.Fragment(body)
                return orjson.loads(body)
            data = orjson.loads(body)
            await self._fill(data, plan.shape, path, many=isinstance(data, list))
            return data
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, path)
            return None

    # -- holes ----------------------------------------------------------------------------

    async def _fill(self, data: Any, shape: Shape, path: Path, many: bool) -> None:
        """Runs every hole's resolver on its object (loaded by id, one batch per type) and
        propagates a non-null field's error to the nearest nullable position, as graphql-core
        would have."""
        sites: list[tuple[dict[str, Any], str, Path, Any, list[tuple[Any, Any, Path]]]] = []
        objects = list(enumerate(data)) if many else [(None, data)]
        for index, obj in objects:
            if obj is not None:
                _collect_sites(obj, shape, path if index is None else path.add_key(index), [], sites)
        loaders = self.context_value.loaders
        wanted: dict[str, list[Any]] = {}
        for container, key, _, hole, _ in sites:
            wanted.setdefault(hole.loader, []).append(container[key])
        loaded: dict[str, dict[Any, Any]] = {}
        for name, ids in wanted.items():
            unique = list(dict.fromkeys(ids))
            found = await loaders.one(name).load_many([uuid.UUID(i) for i in unique])
            loaded[name] = dict(zip(unique, found, strict=True))
        pending: list[Any] = []
        for container, key, field_path, hole, _ in sites:
            obj = loaded[hole.loader][container[key]]
            if obj is None:
                pending.append(None)
                continue
            try:
                pending.append(
                    super().execute_field(hole.parent_type, obj, hole.field_details, field_path, None)
                )
            except Exception as error:  # a non-null field failed synchronously
                pending.append(error)
        awaitables = [(i, r) for i, r in enumerate(pending) if self.is_awaitable(r)]
        if awaitables:
            settled = await asyncio.gather(*(r for _, r in awaitables), return_exceptions=True)
            for (i, _), value in zip(awaitables, settled, strict=True):
                pending[i] = value
        for (container, key, field_path, _, nullable_above), value in zip(sites, pending, strict=True):
            if isinstance(value, BaseException):
                _propagate(self, value, field_path, nullable_above)
            else:
                container[key] = value


def argument_values(plan: Plan, variable_values: Any) -> dict[str, Any]:
    """The bind parameters of the plan's compiled arguments for this request's variables; raises
    what the resolver would refuse (the caller then leaves the root to the ordinary path)."""
    values: dict[str, Any] = {}
    for argument in plan.arguments:
        given = get_argument_values(argument.field_def, argument.node, variable_values)
        out = argument.field_def.args[argument.name].out_name or argument.name
        values[argument.bind] = argument.convert(given.get(out))
    return values


def _collect_sites(
    obj: dict[str, Any],
    shape: Shape,
    path: Path,
    nullable_above: list[tuple[Any, Any, Path]],
    sites: list[Any],
) -> None:
    for key, hole in shape.holes.items():
        sites.append((obj, key, path.add_key(key), hole, nullable_above))
    for key, (many, nullable, child) in shape.edges.items():
        value = obj.get(key)
        if value is None:
            continue
        above = [*nullable_above, (obj, key, path.add_key(key))] if nullable else nullable_above
        if many:
            for index, item in enumerate(value):
                _collect_sites(item, child, path.add_key(key).add_key(index), above, sites)
        else:
            _collect_sites(value, child, path.add_key(key), above, sites)


def _propagate(
    executor: PlanningExecutionContext,
    error: BaseException,
    field_path: Path,
    nullable_above: list[tuple[Any, Any, Path]],
) -> None:
    """A non-null hole failed: null the nearest nullable ancestor, or the whole root."""
    if not isinstance(error, Exception):
        raise error
    located = located_error(error, None, field_path.as_list()) if not isinstance(error, GraphQLError) else error
    if not nullable_above:
        raise located
    container, key, at = nullable_above[-1]
    container[key] = None
    executor.collected_errors.add(located, at)


def _is_list(gtype: Any) -> bool:
    if isinstance(gtype, GraphQLNonNull):
        gtype = gtype.of_type
    return isinstance(gtype, GraphQLList)


def _is_boolean(type_node: Any) -> bool:
    inner = getattr(type_node, "type", None)
    named = inner if inner is not None else type_node
    return getattr(getattr(named, "name", None), "value", None) == "Boolean"
