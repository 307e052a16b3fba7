"""The delivery ledger: materialise a campaign's rows, lease them, record each result.

Crash-safety rests here: recipients are leased a chunk at a time with an expiry, and
each recipient's result is written right after the mail server answered for it (with
the others of its batch), so a killed worker can only repeat the message whose SMTP
transaction was cut on each of its connections; its other leased rows go back to the
queue when the lease expires.

On PostgreSQL the writes are shaped for speed without weakening that: a lease is one
statement (pick, mark and read the recipients), the outcomes of a transport batch (an
ESP call, or one message per SMTP connection) are one statement whose commit does not
wait for the WAL flush (see ``ASYNC_COMMIT``), that statement is read back only when the
next batch is about to be delivered (see ``Ledger.record_all``), and leases are extended
only once half their time is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from mailing import bounces
from mailing.answered_later import AnsweredLater
from mailing.models import Campaign, Delivery


def setting(name, default):
    return getattr(settings, name, default)


# PostgreSQL: this commit returns without waiting for its WAL record to reach the disk.
# ``set_config(…, true)`` is SET LOCAL inside the statement itself: it lasts for this
# statement's own (implicit) transaction only, in one round trip.
#
# Why that keeps the ledger's promise: the promise is about a *worker* crash (SIGKILL, OOM,
# a lost machine running workers). Once COMMIT has returned, the transaction is in
# PostgreSQL's shared WAL buffers; the server's WAL writer flushes it within
# wal_writer_delay (200 ms by default) whether or not the client process still exists,
# and every later transaction (the next lease included) sees it. So a killed worker
# loses nothing it was told is committed: it repeats at most the message whose answer it
# had not yet recorded, exactly as with synchronous commits.
# Only a crash of PostgreSQL itself (or its machine) can lose the last ≤ 3 × wal_writer_delay
# of these commits. The database then comes back consistent, as of a moment a fraction of
# a second earlier: those recipients are "leased" again with their old lease, which
# expires, and they are mailed a second time — a handful of duplicates after a database
# crash, never a lost message and never a corrupt ledger. The campaign's state changes,
# leases and bounces keep synchronous commits.
ASYNC_COMMIT = "(SELECT set_config('synchronous_commit', 'off', true)) AS _async_commit"


@dataclass
class Recipient:
    delivery_id: int
    subscriber_id: int | None
    email: str
    name: str
    list_id: int | None
    attempts: int
    # The rendering for the reader's topics (``mailing.variants``); None: the campaign's.
    variant_id: int | None = None

    @property
    def erased(self) -> bool:
        """The subscriber was erased after the ledger was made: nobody to mail."""
        return self.subscriber_id is None or not self.email


def materialise(campaign: Campaign, recipients) -> int:
    """One ledger row per recipient, inserted in SQL (INSERT … SELECT): memory stays flat.

    ``recipients``: a queryset of (subscriber_id, list_id) rows.
    """
    select_sql, params = recipients.query.sql_with_params()
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        # The outer SELECT … WHERE 1=1 keeps SQLite's parser from reading ON CONFLICT as a join.
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, subscriber_id, mailing_list_id, status,"  # noqa: S608
            " lease_owner, attempts, provider_message_id, error)"
            f" SELECT %s, r.subscriber_id, r.list_id, %s, '', 0, '', '' FROM ({select_sql}) r"
            " WHERE 1=1 ON CONFLICT DO NOTHING",
            [campaign.pk, Delivery.Status.PENDING, *params],
        )
    return Delivery.objects.filter(campaign=campaign).count()


def requeue_expired(campaign_id: int | None = None) -> int:
    """Leases of dead workers go back to the queue."""
    qs = Delivery.objects.filter(status=Delivery.Status.LEASED, lease_expires_at__lt=timezone.now())
    if campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    return qs.update(status=Delivery.Status.PENDING, lease_owner="", lease_expires_at=None)


def lease(campaign_id: int, owner: str, size: int) -> list[Recipient]:
    """Take up to ``size`` due pending rows for ``owner``, atomically.

    PostgreSQL skips rows another worker is locking, in one statement; SQLite serialises
    writers (BEGIN IMMEDIATE), and the conditional UPDATE guards both.
    """
    now = timezone.now()
    expires = now + timedelta(seconds=setting("SENDING_LEASE_SECONDS", 300))
    if connection.vendor == "postgresql":
        return _lease_postgresql(campaign_id, owner, size, now, expires)
    with transaction.atomic():
        qs = (
            Delivery.objects.filter(campaign_id=campaign_id, status=Delivery.Status.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("id")
        )
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs.values_list("id", flat=True)[:size])
        if not ids:
            return []
        Delivery.objects.filter(id__in=ids, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.LEASED, lease_owner=owner, lease_expires_at=expires
        )
    rows = Delivery.objects.filter(
        lease_owner=owner, status=Delivery.Status.LEASED, campaign_id=campaign_id
    ).values_list(
        "id",
        "subscriber_id",
        "subscriber__email",
        "subscriber__name",
        "mailing_list_id",
        "attempts",
        "variant_id",
    )
    return [Recipient(*row) for row in rows.order_by("id")]


def _lease_postgresql(campaign_id, owner, size, now, expires) -> list[Recipient]:
    """Pick (skipping rows other workers hold), mark and read the chunk in one round trip:
    the ORM's way builds and sends a 500-id IN list twice per chunk."""
    table = Delivery._meta.db_table
    subscribers = Delivery._meta.get_field("subscriber").related_model._meta.db_table
    with connection.cursor() as cursor:
        # Table names come from the models' metadata: no input reaches the SQL text.
        cursor.execute(
            # MATERIALIZED: picked once. As a plain subquery the planner may rescan it
            # inside a join, and each rescan skips the rows just taken and picks more.
            f"WITH pick AS MATERIALIZED (SELECT id, subscriber_id FROM {table}"  # noqa: S608
            "  WHERE campaign_id=%s AND status=%s"
            "   AND (next_attempt_at IS NULL OR next_attempt_at <= %s)"
            "  ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
            f" UPDATE {table} d SET status=%s, lease_owner=%s, lease_expires_at=%s"
            f" FROM pick LEFT JOIN {subscribers} s ON s.id = pick.subscriber_id"
            " WHERE d.id = pick.id AND d.status=%s"
            " RETURNING d.id, d.subscriber_id, s.email, s.name, d.mailing_list_id, d.attempts,"
            " d.variant_id",
            [
                campaign_id,
                Delivery.Status.PENDING,
                now,
                size,
                Delivery.Status.LEASED,
                owner,
                expires,
                Delivery.Status.PENDING,
            ],
        )
        rows = cursor.fetchall()
    return [Recipient(*row) for row in sorted(rows)]


def renew(owner: str) -> int:
    """Extend this worker's leases (a slow chunk must not look abandoned to other workers);
    how many rows it still holds. The sender calls it once half a lease has passed on its
    own clock, not at every status check: each call writes a new version of every leased
    row (and its index entries)."""
    expires = timezone.now() + timedelta(seconds=setting("SENDING_LEASE_SECONDS", 300))
    return Delivery.objects.filter(lease_owner=owner, status=Delivery.Status.LEASED).update(
        lease_expires_at=expires
    )


def campaign_status(campaign_id: int) -> str | None:
    """The campaign's status, read by primary key in plain SQL: senders ask many times a
    second, and the ORM's query building cost more than the read itself."""
    with connection.cursor() as cursor:
        # The table name is the model's; the id is a parameter.
        cursor.execute(
            f"SELECT status FROM {Campaign._meta.db_table} WHERE id=%s",  # noqa: S608
            [campaign_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def held(owner: str) -> set[int]:
    """The ids of the rows this worker still holds."""
    return set(
        Delivery.objects.filter(lease_owner=owner, status=Delivery.Status.LEASED).values_list(
            "id", flat=True
        )
    )


def release(owner: str) -> int:
    """Give back what this worker leased but did not send (pause, shutdown)."""
    return Delivery.objects.filter(lease_owner=owner, status=Delivery.Status.LEASED).update(
        status=Delivery.Status.PENDING, lease_owner="", lease_expires_at=None
    )


class Ledger:
    """Writes recipients' results right after their send: one cheap statement for one
    recipient, one statement for a transport's batch (PostgreSQL)."""

    # PostgreSQL: every result write brings back the campaign's status (a primary-key
    # read inside the same statement), so the sender's next pause/cancel check needs no
    # statement of its own (``take_status``). The table name is the model's.
    STATUS = "(SELECT c.status FROM {campaigns} c WHERE c.id={row}.campaign_id)"

    def __init__(self, owner: str):
        self.owner = owner
        self.table = Delivery._meta.db_table
        self.campaigns = Campaign._meta.db_table
        self.max_attempts = setting("SENDING_MAX_ATTEMPTS", 5)
        self.retry_seconds = setting("SENDING_RETRY_SECONDS", 60)
        self.postgresql = connection.vendor == "postgresql"
        # The campaign's status as read by the latest write (PostgreSQL), until taken.
        self.status = None
        # PostgreSQL: (outcomes, AnsweredLater) of a write sent and not read back yet.
        self.unread = None

    def take_status(self) -> str | None:
        """The campaign's status read along with the latest write, once; None when no
        write read it since the last call."""
        status, self.status = self.status, None
        return status

    def campaign_status(self, campaign_id: int) -> str | None:
        """For the pause/cancel check: the status read by the last write answered, not
        waiting for one on its way; when no write read it since the last check, the answer
        of the one on its way (any statement would wait for it first anyway), and only
        when no write brings one, a read of its own."""
        status = self.take_status()
        if status is None:
            self.settle()
            status = self.take_status() or campaign_status(campaign_id)
        return status

    def record_all(self, outcomes, *, wait: bool = True) -> None:
        """Write the outcomes of one ``send``, before the next one delivers anything.

        On PostgreSQL one UPDATE … FROM (VALUES …) for all of them; elsewhere one
        transaction (one commit) for several, the bounces among them handled after it.

        ``wait=False`` (PostgreSQL): the statement is sent and this returns at once, so the
        server writes while the worker renders and opens the next batch; ``settle`` reads
        its answer. The sender hands ``settle`` to the transport, which calls it before
        anything of the next batch can be delivered (an SMTP message is delivered at its
        final dot, after its envelope), so the promise holds: a killed worker leaves
        unrecorded at most the message of each connection whose result was not yet written."""
        self.settle()
        if self.postgresql:
            if outcomes:
                self._write_batch(outcomes, wait=wait)
        elif len(outcomes) > 1:
            with transaction.atomic():
                ours = [outcome for outcome in outcomes if self._write(outcome)]
            for outcome in ours:
                self._bounce(outcome)
        else:
            for outcome in outcomes:
                self.record(outcome)

    def settle(self) -> None:
        """Read the answer of a write sent by ``record_all(wait=False)``, if any (and raise
        its error); then the connection is free for other statements."""
        if self.unread is None:
            return
        (outcomes, write), self.unread = self.unread, None
        rows = write.read()
        self._written([(int(pk), status.decode()) for pk, status in rows], outcomes)

    def record(self, outcome):
        """Write a transport's ``Outcome`` (sent, retry or failed)."""
        if self._write(outcome):
            self._bounce(outcome)

    def _write(self, outcome) -> bool:
        """True when the row was still this worker's to write."""
        if outcome.status == "sent":
            return self.sent(outcome.recipient, outcome.message_id)
        if outcome.status == "retry":
            return self.retry(outcome.recipient, outcome.reason)
        return self.failed(outcome.recipient, outcome.reason)

    def _bounce(self, outcome):
        if outcome.status == "failed" and outcome.bounce:
            # Refused by the receiving server: a bounce like any other (the policy decides).
            recipient = outcome.recipient
            bounces.refused(recipient.delivery_id, recipient.email, outcome.reason)

    def _now(self):
        return connection.ops.adapt_datetimefield_value(timezone.now())

    def sent(self, recipient: Recipient, message_id: str = "") -> bool:
        return self._execute(
            "status=%s, sent_at=%s, attempts=attempts+1, provider_message_id=%s, error='',"
            " lease_owner='', lease_expires_at=NULL",
            [Delivery.Status.SENT, self._now(), message_id[:255]],
            recipient,
        )

    def failed(self, recipient: Recipient, reason: str) -> bool:
        return self._execute(
            "status=%s, attempts=attempts+1, error=%s, lease_owner='', lease_expires_at=NULL",
            [Delivery.Status.FAILED, reason[:2000]],
            recipient,
        )

    def retry(self, recipient: Recipient, reason: str) -> bool:
        """Pending again after an exponential backoff; failed once attempts run out."""
        when = self._retry_at(recipient)
        if when is None:
            return self.failed(recipient, self._gave_up(recipient, reason))
        when = connection.ops.adapt_datetimefield_value(when)
        return self._execute(
            "status=%s, attempts=attempts+1, error=%s, next_attempt_at=%s, lease_owner='',"
            " lease_expires_at=NULL",
            [Delivery.Status.PENDING, reason[:2000], when],
            recipient,
        )

    def _retry_at(self, recipient: Recipient):
        """When to try again; None once the attempts run out."""
        attempts = recipient.attempts + 1
        if attempts >= self.max_attempts:
            return None
        return timezone.now() + timedelta(seconds=self.retry_seconds * 2 ** (attempts - 1))

    def _gave_up(self, recipient: Recipient, reason: str) -> str:
        return f"gave up after {recipient.attempts + 1} attempts: {reason}"

    def _execute(self, assignments, params, recipient) -> bool:
        """True when the row was still this worker's to write."""
        extra = f" FROM {ASYNC_COMMIT}" if self.postgresql else ""
        where = " WHERE id=%s AND lease_owner=%s"
        if self.postgresql:
            where += " RETURNING " + self.STATUS.format(campaigns=self.campaigns, row=self.table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {self.table} SET {assignments}{extra}{where}",  # noqa: S608
                [*params, recipient.delivery_id, self.owner],
            )
            written = cursor.rowcount == 1
            if self.postgresql and written:
                self.status = cursor.fetchone()[0]
            return written

    def _write_batch(self, outcomes, *, wait: bool) -> None:
        """All outcomes in one statement (PostgreSQL); the refused ones still ours become
        bounces afterwards, as ``record`` does one by one."""
        now, rows, params = timezone.now(), [], []
        for outcome in outcomes:
            recipient = outcome.recipient
            status, message_id, error, when = outcome.status, "", outcome.reason, None
            if status == "sent":
                status, message_id, error = Delivery.Status.SENT, outcome.message_id, ""
            elif status == "retry":
                when = self._retry_at(recipient)
                if when is None:
                    status, error = Delivery.Status.FAILED, self._gave_up(recipient, error)
                else:
                    status = Delivery.Status.PENDING
            else:
                status = Delivery.Status.FAILED
            rows.append("(%s::bigint, %s::varchar, %s::varchar, %s::text, %s::timestamptz)")
            params += [recipient.delivery_id, status, message_id[:255], error[:2000], when]
        # Column and table names are the model's; every value is a parameter.
        sql = (
            f"UPDATE {self.table} d SET status=v.status, attempts=d.attempts+1,"  # noqa: S608
            " error=v.error, lease_owner='', lease_expires_at=NULL,"
            " provider_message_id=CASE WHEN v.status=%s THEN v.message_id"
            "  ELSE d.provider_message_id END,"
            " sent_at=CASE WHEN v.status=%s THEN %s ELSE d.sent_at END,"
            " next_attempt_at=CASE WHEN v.status=%s THEN v.next_attempt_at"
            "  ELSE d.next_attempt_at END"
            f" FROM (VALUES {', '.join(rows)}) v(id, status, message_id, error,"
            f" next_attempt_at), {ASYNC_COMMIT}"
            " WHERE d.id=v.id AND d.lease_owner=%s RETURNING d.id, "
            + self.STATUS.format(campaigns=self.campaigns, row="d")
        )
        params = [
            Delivery.Status.SENT,
            Delivery.Status.SENT,
            now,
            Delivery.Status.PENDING,
            *params,
            self.owner,
        ]
        if not wait:
            # Until its answer is read, any statement through Django on this connection
            # (the sender's lease, status read or renewal, a bounce) settles it first.
            self.unread = (outcomes, AnsweredLater(sql, params, self.settle))
            return
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            self._written(cursor.fetchall(), outcomes)

    def _written(self, rows: list[tuple[int, str]], outcomes) -> None:
        """After a batch's write: (id, campaign status) of the rows it wrote."""
        written = {row[0] for row in rows}
        if rows:
            self.status = rows[0][1]
        for outcome in outcomes:
            if outcome.recipient.delivery_id in written:
                self._bounce(outcome)
