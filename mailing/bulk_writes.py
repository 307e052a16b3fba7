"""Many rows into one table, or out of it by key, at once: `COPY` and array parameters on
PostgreSQL, `bulk_create` and `IN` lists elsewhere.

Rows are dicts of field names (attnames, `subscriber_id`) to values; a field left out
takes its default. Run inside the caller's transaction: either every row of a call is
written (less the conflicts, when they are to be ignored) or, on an error, none.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator

import psycopg
from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, JSONField
from django.utils import timezone


def insert_rows(
    model, rows: list[dict], *, ignore_conflicts: bool = False, returning: tuple[str, ...] = ()
) -> list[tuple] | None:
    """Write ``rows``; on PostgreSQL with ``returning`` (field names, the primary key
    among them if wanted), the values of those fields for the rows actually inserted (not
    those skipped as conflicts). Elsewhere, and without ``returning``, None: the caller
    reads back what it needs."""
    if connection.vendor != "postgresql":
        if rows:
            model.objects.bulk_create(
                [model(**row) for row in rows], ignore_conflicts=ignore_conflicts
            )
        return None
    if not rows:
        return [] if returning else None
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    defaults = {}
    for field in fields:
        if isinstance(field, DateTimeField) and (field.auto_now or field.auto_now_add):
            defaults[field.attname] = now
        else:
            defaults[field.attname] = field.get_default()
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if meta.pk.attname in returning:
            # Ids taken from the table's sequence up front, so that the rows can be copied
            # with them and nothing has to be read back.
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, meta.pk.column, len(rows)],
            )
            rows = [{**row, meta.pk.attname: pk} for row, (pk,) in zip(rows, cursor, strict=True)]
            fields = [meta.pk, *fields]
        columns = ", ".join(quote(f.column) for f in fields)
        lines = list(_copy_lines(rows, fields, defaults))
        if ignore_conflicts:
            # Straight into the table first: a conflict means that another writer took a
            # key since the caller looked (a signup during an import), which is rare, and
            # only then do the rows go through a temporary table to skip it (`COPY` cannot).
            try:
                with transaction.atomic():
                    _copy(cursor, table, columns, lines)
            except (IntegrityError, psycopg.errors.IntegrityError):
                return _insert_skipping_conflicts(cursor, meta, table, columns, lines, returning)
        else:
            _copy(cursor, table, columns, lines)
        if not returning:
            return None
        return [tuple(row[name] for name in returning) for row in rows]


def _copy_lines(rows: list[dict], fields, defaults: dict) -> Iterator[list]:
    """Each row's values in ``fields``' order, JSON fields encoded (defaults once)."""
    columns = []
    for field in fields:
        default = defaults.get(field.attname)
        if isinstance(field, JSONField):
            encoder = functools.partial(json.dumps, cls=field.encoder)
            if default is not None:
                default = encoder(default)
        else:
            encoder = None
        columns.append((field.attname, default, encoder))
    for row in rows:
        values = []
        for name, default, encoder in columns:
            if name not in row:
                values.append(default)
            elif encoder is None or row[name] is None:
                values.append(row[name])
            else:
                values.append(encoder(row[name]))
        yield values


def _copy(cursor, target: str, columns: str, lines: list[list]) -> None:
    # Names come from the model's metadata, quoted: no input reaches the SQL.
    with cursor.cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
        for values in lines:
            copy.write_row(values)


def _insert_skipping_conflicts(cursor, meta, table, columns, lines, returning) -> list | None:
    # One temporary table per session and model, with all of the table's columns (calls
    # may copy different ones), emptied after each use and truncated at each commit (so
    # dead rows never pile up in it).
    target = connection.ops.quote_name(f"_bulk_{meta.db_table}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {target} ON COMMIT DELETE ROWS AS "  # noqa: S608
        f"SELECT * FROM {table} WITH NO DATA"
    )
    _copy(cursor, target, columns, lines)
    back = ", ".join(connection.ops.quote_name(meta.get_field(name).column) for name in returning)
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {target} "  # noqa: S608
        "ON CONFLICT DO NOTHING" + (f" RETURNING {back}" if returning else "")
    )
    inserted = cursor.fetchall() if returning else None
    cursor.execute(f"DELETE FROM {target}")  # noqa: S608
    return inserted


def rows_matching(
    model, key: str, keys: Iterable, fields: tuple[str, ...], *, where: dict | None = None
) -> list[tuple]:
    """``fields`` (names) of the rows whose ``key`` field is one of ``keys``, and whose
    fields named in ``where`` are each one of their values.

    On PostgreSQL the keys are one array parameter, and each key is one index probe,
    however many rows the table holds and whatever its statistics say: an `IN` list (or a
    join) of a thousand keys is planned as a scan of the whole table while it holds some
    ten to a hundred thousand rows, because the planner prices each probe as a disk read
    (measured during a 100,000-row import: 35 ms a batch against 4 ms), and an `IN` list
    costs the client a placeholder per key to build."""
    keys = list(set(keys))
    if not keys:
        return []
    where = where or {}
    if connection.vendor != "postgresql":
        lookups = {f"{key}__in": keys, **{f"{name}__in": list(v) for name, v in where.items()}}
        return list(model.objects.filter(**lookups).values_list(*fields))
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)

    def column(name):
        return f"{table}.{quote(meta.get_field(name).column)}"

    def array_type(name):
        return meta.get_field(name).rel_db_type(connection)

    # `OFFSET 0` keeps the subquery whole, so it runs once per key, an index probe each.
    sql = (
        f"SELECT {table}.* FROM unnest(%s::{array_type(key)}[]) AS _keys(k) "  # noqa: S608
        f"CROSS JOIN LATERAL (SELECT {', '.join(column(name) for name in fields)} "
        f"FROM {table} WHERE {column(key)} = _keys.k"
    )
    params = [_array_literal(keys)]
    for name, values in where.items():
        sql += f" AND {column(name)} = ANY(%s::{array_type(name)}[])"
        params.append(_array_literal(values))
    sql += f" OFFSET 0) AS {table}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _array_literal(values: Iterable) -> str:
    """PostgreSQL's text form of an array of strings or integers, as one string parameter:
    psycopg's client-side binding quotes a Python list element by element (about 4 ms
    for a thousand hashes), one string at once."""
    items = []
    for value in values:
        if isinstance(value, int):
            items.append(str(int(value)))
        else:
            items.append('"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(items) + "}"


def commit_without_waiting() -> None:
    """Let the current transaction's commit return before its WAL reaches the disk
    (PostgreSQL's ``synchronous_commit = off``, for this transaction only).

    For a batch of a longer job whose *last* transaction commits normally: WAL is
    flushed in order, so that last commit's flush makes every earlier batch durable too.
    A server crash before it can lose the batches of the last few hundred milliseconds,
    never half of one, and the job then ends in an error rather than a report; a worker
    crash loses nothing (the server holds the committed data either way)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
