"""Many rows into one table at once: `COPY` on PostgreSQL, `bulk_create` elsewhere.

Rows are dicts of field names (attnames, `subscriber_id`) to values; a field left out
takes its default. Run inside the caller's transaction: on PostgreSQL the rows go
through a temporary table when conflicts are to be ignored (`COPY` cannot skip them),
so either every row of a call is written or, on an error, none.
"""

from __future__ import annotations

import json

from django.db import connection
from django.db.models import DateTimeField, JSONField
from django.utils import timezone


def insert_rows(model, rows: list[dict], *, ignore_conflicts: bool = False) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows], ignore_conflicts=ignore_conflicts)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    defaults = {}
    for field in fields:
        if isinstance(field, DateTimeField) and (field.auto_now or field.auto_now_add):
            defaults[field.attname] = now
        else:
            defaults[field.attname] = field.get_default()
    encoders = {
        f.attname: (lambda value, encoder=f.encoder: json.dumps(value, cls=encoder))
        for f in fields
        if isinstance(f, JSONField)
    }
    names = [f.attname for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        target = table
        if ignore_conflicts:
            target = connection.ops.quote_name(f"_bulk_{model._meta.db_table}")
            cursor.execute(f"DROP TABLE IF EXISTS {target}")
            # Names come from the model's metadata, quoted: no input reaches the SQL.
            cursor.execute(
                f"CREATE TEMPORARY TABLE {target} AS SELECT {columns} FROM {table} WITH NO DATA"  # noqa: S608
            )
        with cursor.cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
            for row in rows:
                values = []
                for name in names:
                    value = row[name] if name in row else defaults[name]
                    if name in encoders and value is not None:
                        value = encoders[name](value)
                    values.append(value)
                copy.write_row(values)
        if ignore_conflicts:
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {target} "  # noqa: S608
                "ON CONFLICT DO NOTHING"
            )
            cursor.execute(f"DROP TABLE {target}")
