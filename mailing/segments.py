"""Segments as ORM filters: each condition block becomes a ``Q`` on ``Subscriber``.

Only portable lookups are used (``Exists`` subqueries, ``__in``, JSON key transforms,
``has_key`` and ``icontains`` on JSON), so a segment selects the same people on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import reduce
from operator import and_, or_

from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import IContains, IExact
from django.utils import timezone

from mailing.models import (
    Campaign,
    DeliveryEvent,
    MailingList,
    Segment,
    Subscriber,
    Subscription,
)


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def subscription_q(value) -> Q:
    subscriptions = Subscription.objects.filter(subscriber=OuterRef("pk"))
    if value.get("mailing_list"):
        # The list's id, looked up once (a join per subscriber otherwise).
        wanted = MailingList.objects.filter(slug=value["mailing_list"]).values("pk")[:1]
        subscriptions = subscriptions.filter(mailing_list_id=Subquery(wanted))
    if value.get("status"):
        subscriptions = subscriptions.filter(status=value["status"])
    if value.get("since"):
        subscriptions = subscriptions.filter(created_at__gte=_day_start(value["since"]))
    if value.get("until"):
        next_day = value["until"] + dt.timedelta(days=1)
        subscriptions = subscriptions.filter(created_at__lt=_day_start(next_day))
    return Q(Exists(subscriptions))


def language_q(value) -> Q:
    return Q(language__in=list(value.get("languages") or []))


def country_q(value) -> Q:
    return Q(country__in=list(value.get("countries") or []))


def topics_q(value) -> Q:
    """Topics are stored as a JSON list of slugs: a quoted slug is one whole element,
    written as is (PostgreSQL) or with ``\\u`` escapes (SQLite keeps ``json.dumps``)."""
    chosen = [
        Q(topics__icontains=f'"{slug}"') | Q(topics__icontains=json.dumps(slug))
        for slug in value.get("topics") or []
    ]
    if not chosen:
        return Q(pk__in=[])
    return reduce(and_ if value.get("match") == "all" else or_, chosen)


def attribute_q(value) -> Q:
    name = (value.get("name") or "").strip()
    operator = value.get("operator") or "equals"
    text = value.get("value") or ""
    present = Q(attributes__has_key=name)
    if operator == "exists":
        return present
    if operator == "missing":
        return ~present
    stored = KeyTextTransform(name, "attributes")
    if operator == "contains":
        return present & Q(IContains(stored, text))
    equal = present & Q(IExact(stored, text))
    return ~present | ~Q(IExact(stored, text)) if operator == "not_equals" else equal


def last_campaigns(n: int):
    """The ``n`` campaigns that started last (0: every campaign that started)."""
    started = Campaign.objects.filter(started_at__isnull=False)
    if n:
        return started.order_by("-started_at", "-pk").values("pk")[:n]
    return started.values("pk")


def engagement_q(value) -> Q:
    kind = value.get("kind") or "opened"
    kinds = {
        "opened": [DeliveryEvent.Kind.OPENED],
        "not_opened": [DeliveryEvent.Kind.OPENED],
        "clicked": [DeliveryEvent.Kind.CLICKED],
        "not_clicked": [DeliveryEvent.Kind.CLICKED],
        "opened_or_clicked": [DeliveryEvent.Kind.OPENED, DeliveryEvent.Kind.CLICKED],
    }[kind]
    events = DeliveryEvent.objects.filter(
        delivery__subscriber=OuterRef("pk"),
        kind__in=kinds,
        delivery__campaign__in=last_campaigns(value.get("campaigns") or 0),
    )
    engaged = Q(Exists(events))
    return ~engaged if kind.startswith("not_") else engaged


CONDITIONS = {
    "subscription": subscription_q,
    "language": language_q,
    "country": country_q,
    "topics": topics_q,
    "attribute": attribute_q,
    "engagement": engagement_q,
}


def conditions_q(conditions, match: str = Segment.Match.ALL) -> Q:
    """One ``Q`` for a segment's conditions (a StreamValue or (type, value) pairs);
    no condition selects everyone."""
    parts = []
    for item in conditions:
        block_type, value = (
            (item.block_type, item.value) if hasattr(item, "block_type") else tuple(item)
        )
        parts.append(CONDITIONS[block_type](value))
    if not parts:
        return Q()
    return reduce(or_ if match == Segment.Match.ANY else and_, parts)


def members(segment: Segment, queryset=None):
    """Subscribers the segment selects, whatever their status (``queryset`` to narrow)."""
    queryset = Subscriber.objects.all() if queryset is None else queryset
    return queryset.filter(conditions_q(segment.conditions, segment.match))


def reachable(conditions, match: str = Segment.Match.ALL):
    """Active, unsuppressed subscribers the conditions select: whom a send could reach."""
    everyone = Subscriber.objects.filter(status=Subscriber.Status.ACTIVE).not_suppressed()
    return everyone.filter(conditions_q(conditions, match))


def count(segment: Segment) -> int:
    return reachable(segment.conditions, segment.match).count()
