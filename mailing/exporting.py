"""Subscribers as CSV, in one format for every export (the admin's list and subscriber
downloads, ``manage.py export_subscribers``), safe to open in a spreadsheet.

One row per subscription, with its consent record; a subscriber on no list gets one row
with the subscription columns empty. Attributes follow as columns of their own. Cells
are neutralised against formula injection and the text carries a byte-order mark, so
Excel opens it with accents intact (``mailing.spreadsheets.csv_lines``). This format is
also one the importer reads back (``list`` and ``status`` included).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Exists, OuterRef, QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

from mailing.models import MailingList, Subscriber, Subscription, Suppression
from mailing.spreadsheets import csv_lines

COLUMNS = [
    "email",
    "name",
    "language",
    "list",
    "status",
    "subscribed_at",
    "confirmed_at",
    "unsubscribed_at",
    "source",
    "ip_address",
    "consent_text",
    "suppressed",
]


def _when(value) -> str:
    return value.isoformat() if value else ""


def export_rows(
    subscribers: QuerySet[Subscriber] | None = None,
    *,
    mailing_list: MailingList | None = None,
    status: str | None = None,
) -> Iterator[list]:
    """The header, then the rows (erased people are never exported).

    :param subscribers: whom to export (e.g. the admin's filtered listing); everyone
        when None.
    :param mailing_list: only subscriptions to this list.
    :param status: only subscriptions in this status.
    """
    people = Subscriber.objects.all() if subscribers is None else subscribers
    people = people.exclude(status=Subscriber.Status.ERASED).order_by()
    subscriptions = Subscription.objects.filter(subscriber__in=people.values("pk"))
    restricted = mailing_list is not None or bool(status)
    if mailing_list is not None:
        subscriptions = subscriptions.filter(mailing_list=mailing_list)
    if status:
        subscriptions = subscriptions.filter(status=status)
    if restricted:
        people = people.filter(Exists(subscriptions.filter(subscriber=OuterRef("pk"))))

    keys: set[str] = set()
    for attributes in people.values_list("attributes", flat=True).iterator(chunk_size=5000):
        if isinstance(attributes, dict):
            keys.update(attributes)
    attribute_keys = sorted(keys)
    # A key named like a column gets its own header, so that nothing is hidden.
    yield COLUMNS + [f"{k} (attribute)" if k in COLUMNS else k for k in attribute_keys]

    suppressed = Exists(Suppression.objects.filter(email_hash=OuterRef("subscriber__email_hash")))

    def person(subscriber):
        return [subscriber.email, subscriber.name, subscriber.language]

    def attributes(subscriber):
        values = subscriber.attributes if isinstance(subscriber.attributes, dict) else {}
        return [values.get(k, "") for k in attribute_keys]

    rows = (
        subscriptions.select_related("subscriber", "mailing_list")
        .annotate(suppressed=suppressed)
        .order_by("subscriber__email", "mailing_list__slug", "pk")
    )
    for s in rows.iterator(chunk_size=2000):
        yield [
            *person(s.subscriber),
            s.mailing_list.slug,
            s.status,
            _when(s.created_at),
            _when(s.confirmed_at),
            _when(s.unsubscribed_at),
            s.source,
            s.ip_address or "",
            s.consent_text,
            "yes" if s.suppressed else "no",
            *attributes(s.subscriber),
        ]
    if restricted:
        return
    alone = (
        people.exclude(Exists(Subscription.objects.filter(subscriber=OuterRef("pk"))))
        .annotate(suppressed=Exists(Suppression.objects.filter(email_hash=OuterRef("email_hash"))))
        .order_by("email")
    )
    for subscriber in alone.iterator(chunk_size=2000):
        yield [
            *person(subscriber),
            *[""] * 8,
            "yes" if subscriber.suppressed else "no",
            *attributes(subscriber),
        ]


def csv_response(rows, name: str) -> StreamingHttpResponse:
    """A download of ``rows`` as ``<name>-<date>.csv``, streamed."""
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{slugify(name)}-{stamp}.csv"'
    return response
