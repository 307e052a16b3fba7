"""A listing's SQL, compiled once per shape and run with each request's clock.

Building a listing's queryset (filters, visibility, the fragments' keys) and compiling
it take Django about four times as long as SQLite takes to run it. For one request's
parameters, site and database, the SQL text and its parameters are the same every time
but for the clock (expiries, upcoming events), so `rows` keeps the compiled query per
*shape* (that key) and fills in the time of each request.

Which parameters are the clock is found, not assumed: a new shape is built twice, at two
different instants, and the positions whose values differ are the clock's (a date given
in the URL is the same in both builds). A shape whose two builds differ in their SQL
text, or whose building ran a query (a value read from the database would be frozen
into the SQL), is not kept. The query holds every rule itself (view restrictions
included, `cms.visibility`), so nothing kept depends on the content: a publish changes
the rows, never the SQL.

Kept per thread (a compiler holds its thread's connection), for at most `MAX_SHAPES`
shapes (about 45 KiB each, measured with tracemalloc: some 6 MiB at most), the least
recently used going first, and forgotten whenever a setting changes (the tests'
`override_settings`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import EmptyResultSet
from django.core.signals import setting_changed
from django.db import connections
from django.db.models import QuerySet
from django.db.models.sql.compiler import SQLCompiler

MAX_SHAPES = 128
# Two instants no request has, so that every value derived from the clock differs.
_AT = (
    datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC),
    datetime(2002, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),
)


@dataclass(frozen=True, slots=True)
class Compiled:
    compiler: SQLCompiler  # converts the rows as Django would (dates on SQLite)
    sql: str
    params: tuple
    clock: tuple[int, ...]  # positions in `params` that hold the request's time


NOT_KEPT = object()  # a shape whose SQL cannot be kept: built for every request
_local = threading.local()


def _shapes() -> OrderedDict:
    if not hasattr(_local, "shapes"):
        _local.shapes = OrderedDict()
    return _local.shapes


def forget(**kwargs) -> None:
    """Forget every thread's compiled shapes: this thread's are dropped, other threads'
    are no longer found (their key holds the generation) and age out."""
    _local.__dict__.clear()
    forget.generation += 1


forget.generation = 0
setting_changed.connect(forget)


def rows(shape: Hashable | None, build: Callable[[datetime], QuerySet], now: datetime) -> list:
    """The rows of `build(now)` (a `values_list` queryset), compiled once per `shape`.

    `build` must use its argument as its only clock. `shape` identifies everything else
    the query depends on (parameters, site, database); None: build and run as usual.
    """
    if shape is None:
        return list(build(now))
    key = (shape, forget.generation)
    shapes = _shapes()
    compiled = shapes.get(key)
    if compiled is None:
        compiled = _compile(build)
        if compiled is not None:
            shapes[key] = compiled  # NOT_KEPT too: the shape is not tried again
            while len(shapes) > MAX_SHAPES:
                shapes.popitem(last=False)
    else:
        shapes.move_to_end(key)
    if compiled is None or compiled is NOT_KEPT:
        return list(build(now))
    connection = compiled.compiler.connection
    moment = connection.ops.adapt_datetimefield_value(now)
    params = list(compiled.params)
    for position in compiled.clock:
        params[position] = moment
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, params)
        fetched = cursor.fetchall()
    return list(compiled.compiler.results_iter([fetched], tuple_expected=True))


def _compile(build) -> Compiled | object | None:
    """The shape's SQL with the clock's positions; NOT_KEPT when its SQL cannot be kept
    (its builds differ beyond the clock, or it selects nothing by construction); None
    when a query ran while it was built (perhaps a cache being filled: try again)."""
    compiled = []
    ran = []

    def noted(execute, *args):
        ran.append(args[0])
        return execute(*args)

    for at in _AT:
        with connections["default"].execute_wrapper(noted):
            queryset = build(at)
        connection = connections[queryset.db]
        if ran:
            return None  # a value read while building would be frozen into the SQL
        if connection.alias != "default":
            return NOT_KEPT
        compiler = queryset.query.get_compiler(connection=connection)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            return NOT_KEPT
        instant = connection.ops.adapt_datetimefield_value(at)
        compiled.append((compiler, sql, tuple(params), instant))
    (compiler, sql, params, first), (_c, other_sql, other_params, second) = compiled
    if sql != other_sql or len(params) != len(other_params):
        return NOT_KEPT
    clock = tuple(i for i, (a, b) in enumerate(zip(params, other_params, strict=True)) if a != b)
    # Only the instant itself may differ: a value derived from it (a day later, a date)
    # could not be filled in from the request's time.
    if any((params[i], other_params[i]) != (first, second) for i in clock):
        return NOT_KEPT
    return Compiled(compiler, sql, params, clock)
