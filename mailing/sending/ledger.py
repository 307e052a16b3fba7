"""The delivery ledger: materialise a campaign's rows, lease them, record each result.

Crash-safety rests here: recipients are leased a chunk at a time with an expiry, and
each recipient's result is written right after the mail server answered for it, so a
killed worker can only repeat the one message whose SMTP transaction was cut; its
other leased rows go back to the queue when the lease expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from mailing import bounces
from mailing.models import Campaign, Delivery


def setting(name, default):
    return getattr(settings, name, default)


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

    PostgreSQL skips rows another worker is locking; SQLite serialises writers
    (BEGIN IMMEDIATE), and the conditional UPDATE guards both.
    """
    now = timezone.now()
    expires = now + timedelta(seconds=setting("SENDING_LEASE_SECONDS", 300))
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


def renew(owner: str) -> int:
    """Extend this worker's leases (a slow chunk must not look abandoned to other workers);
    how many rows it still holds."""
    expires = timezone.now() + timedelta(seconds=setting("SENDING_LEASE_SECONDS", 300))
    return Delivery.objects.filter(lease_owner=owner, status=Delivery.Status.LEASED).update(
        lease_expires_at=expires
    )


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
    """Writes one recipient's result right after its send, as one cheap statement."""

    def __init__(self, owner: str):
        self.owner = owner
        self.table = Delivery._meta.db_table
        self.max_attempts = setting("SENDING_MAX_ATTEMPTS", 5)
        self.retry_seconds = setting("SENDING_RETRY_SECONDS", 60)

    def record(self, outcome):
        """Write a transport's ``Outcome`` (sent, retry or failed)."""
        if outcome.status == "sent":
            self.sent(outcome.recipient, outcome.message_id)
        elif outcome.status == "retry":
            self.retry(outcome.recipient, outcome.reason)
        elif self.failed(outcome.recipient, outcome.reason) and outcome.bounce:
            # Refused by the receiving server: a bounce like any other (the policy decides).
            bounces.refused(outcome.recipient.delivery_id, outcome.recipient.email, outcome.reason)

    def _now(self):
        return connection.ops.adapt_datetimefield_value(timezone.now())

    def sent(self, recipient: Recipient, message_id: str = ""):
        self._execute(
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

    def retry(self, recipient: Recipient, reason: str):
        """Pending again after an exponential backoff; failed once attempts run out."""
        attempts = recipient.attempts + 1
        if attempts >= self.max_attempts:
            return self.failed(recipient, f"gave up after {attempts} attempts: {reason}")
        delay = self.retry_seconds * 2 ** (attempts - 1)
        when = connection.ops.adapt_datetimefield_value(timezone.now() + timedelta(seconds=delay))
        self._execute(
            "status=%s, attempts=attempts+1, error=%s, next_attempt_at=%s, lease_owner='',"
            " lease_expires_at=NULL",
            [Delivery.Status.PENDING, reason[:2000], when],
            recipient,
        )

    def _execute(self, assignments, params, recipient) -> bool:
        """True when the row was still this worker's to write."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {self.table} SET {assignments} WHERE id=%s AND lease_owner=%s",  # noqa: S608
                [*params, recipient.delivery_id, self.owner],
            )
            return cursor.rowcount == 1
