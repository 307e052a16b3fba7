"""A statement sent on Django's PostgreSQL connection now, its answer read later.

psycopg answers each statement before it returns; ``AnsweredLater`` splits that in two on
the same connection (Django's), with libpq's asynchronous calls (psycopg's documented
low-level ``pgconn``), so that the server works while this process goes on with what does
not need the answer: the sending ledger's result write while the next batch's envelopes go
out (``mailing.sending.ledger``), an import batch's commit while the next rows are read
(``mailing.importing``).

Until the answer is read nothing else may use the connection. So, while a statement is
unanswered, an execute wrapper makes any statement through Django call the owner's
``settle`` first, which reads the answer (``read``) and does whatever the owner does with
it; a caller that bypasses Django's cursors (a raw ``COPY``) settles by itself first.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable

import psycopg
from django.db import connection


class AnsweredLater:
    """One statement on its way; ``read`` its answer once (``settle`` must call it)."""

    def __init__(self, sql: str, params, settle: Callable[[], None]):
        self.entry = _send(sql, params)
        self.settle = settle
        connection.execute_wrappers.append(self._settle_first)

    def _settle_first(self, execute, sql, params, many, context):
        self.settle()
        return execute(sql, params, many, context)

    def read(self) -> list[tuple[bytes, ...]]:
        """The rows of the answer (as text), or its error raised as Django's; the
        connection is free for other statements afterwards either way."""
        connection.execute_wrappers.remove(self._settle_first)
        return _answer(self.entry)


def _send(sql: str, params) -> dict | None:
    """Send one statement, its parameters bound by psycopg as Django's cursors do, and
    return once it has left for the server: its entry in Django's query log, if kept."""
    connection.ensure_connection()
    conn = connection.connection
    with connection.wrap_database_errors:
        query = psycopg.ClientCursor(conn).mogrify(sql, params)
        pgconn = conn.pgconn
        pgconn.send_query(query.encode(conn.info.encoding))
        while pgconn.flush():  # 1: more to write (psycopg runs libpq non-blocking)
            _wait(pgconn.socket, select.POLLOUT)
    if not connection.queries_logged:
        return None
    # Django's query log (and CaptureQueriesContext) see it as any other statement; its
    # time, from sending to the answer, is filled in by ``_answer``.
    entry = {"sql": query, "time": "0.000", "sent": time.perf_counter()}
    connection.queries_log.append(entry)
    return entry


def _answer(entry: dict | None) -> list[tuple[bytes, ...]]:
    """The rows (as text) of the statement ``_send`` sent; its error raised as Django's."""
    pgconn = connection.connection.pgconn
    rows, error = [], None
    with connection.wrap_database_errors:
        while True:
            while pgconn.is_busy():
                _wait(pgconn.socket, select.POLLIN)
                pgconn.consume_input()
            result = pgconn.get_result()
            if result is None:
                break
            if result.status == psycopg.pq.ExecStatus.FATAL_ERROR:
                error = error or psycopg.errors.error_from_result(
                    result, encoding=connection.connection.info.encoding
                )
            else:
                rows += [
                    tuple(result.get_value(i, j) for j in range(result.nfields))
                    for i in range(result.ntuples)
                ]
        if error is not None:
            raise error
    if entry is not None:
        entry["time"] = f"{time.perf_counter() - entry.pop('sent'):.3f}"
    return rows


def _wait(fd: int, event: int) -> None:
    poll = select.poll()
    poll.register(fd, event)
    poll.poll()
