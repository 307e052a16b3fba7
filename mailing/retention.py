"""Nobody kept pending forever, nobody mailed for ever without reading.

- ``expire_pending``: subscriptions left unconfirmed past ``SUBSCRIPTION_PENDING_MAX_AGE``
  are deleted; a person left with no subscription at all loses their personal data (the
  row stays anonymised, so the history keeps that a signup expired, without the address).
- ``disengaged``: subscribers who opened and clicked nothing in their last N campaigns.
- ``request_reconfirmation``: their subscriptions go back to pending with a fresh
  confirmation email; unconfirmed, they expire like any signup.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from mailing.models import (
    Campaign,
    Delivery,
    DeliveryEvent,
    Subscriber,
    SubscriberEvent,
    Subscription,
)

Kind = SubscriberEvent.Kind
Status = Subscription.Status
BATCH = 500


def pending_cutoff(now=None):
    return (now or timezone.now()) - timedelta(seconds=settings.SUBSCRIPTION_PENDING_MAX_AGE)


def expired_pending(now=None):
    """Pending subscriptions whose wait (since the signup or the re-confirmation request)
    is over."""
    return Subscription.objects.annotate(
        waiting_since=Coalesce("pending_since", "created_at")
    ).filter(status=Status.PENDING, waiting_since__lt=pending_cutoff(now))


def expire_pending(now=None) -> dict:
    """Delete expired pending subscriptions, then the personal data of whoever is left
    with no subscription; returns ``{"subscriptions": n, "people": m}``."""
    now = now or timezone.now()
    done = {"subscriptions": 0, "people": 0}
    while True:
        with transaction.atomic():
            batch = list(
                expired_pending(now)
                .select_for_update()
                .order_by("pk")
                .values_list("pk", "subscriber_id", "mailing_list_id")[:BATCH]
            )
            if not batch:
                return done
            Subscription.objects.filter(pk__in=[pk for pk, _s, _l in batch]).delete()
            SubscriberEvent.objects.bulk_create(
                SubscriberEvent(
                    subscriber_id=subscriber_id,
                    mailing_list_id=list_id,
                    kind=Kind.EXPIRED,
                    created_at=now,
                    source="pending expiry",
                    detail={"max_age_seconds": settings.SUBSCRIPTION_PENDING_MAX_AGE},
                )
                for _pk, subscriber_id, list_id in batch
            )
            done["subscriptions"] += len(batch)
            alone = Subscriber.objects.filter(
                pk__in={subscriber_id for _pk, subscriber_id, _l in batch},
                status=Subscriber.Status.ACTIVE,
            ).exclude(Exists(Subscription.objects.filter(subscriber=OuterRef("pk"))))
            for subscriber in alone:
                forget(subscriber)
                done["people"] += 1


def forget(subscriber: Subscriber) -> None:
    """Remove the personal data of someone who never confirmed: unlike an erasure on
    request, no suppression is kept, so they may sign up again."""
    SubscriberEvent.objects.filter(subscriber=subscriber).update(ip_address=None)
    subscriber.email = f"expired-{subscriber.pk}@erased.invalid"
    subscriber.email_as_typed = ""
    subscriber.name = ""
    subscriber.language = ""
    subscriber.attributes = {}
    subscriber.status = Subscriber.Status.ERASED
    subscriber.save()


# --- engagement -------------------------------------------------------------------------


def disengaged(campaigns: int, queryset=None):
    """Subscribers who received at least ``campaigns`` issues and neither opened nor
    clicked anything in the latest ``campaigns`` of them (welcome emails not counted)."""
    campaigns = max(1, int(campaigns))
    queryset = Subscriber.objects.all() if queryset is None else queryset
    received = Delivery.objects.filter(
        subscriber=OuterRef("pk"),
        status=Delivery.Status.SENT,
        campaign__kind=Campaign.Kind.ISSUE,
    ).order_by("-sent_at", "-pk")
    # The sending time of the N-th latest issue they received: their window.
    nth = received.values("sent_at")[campaigns - 1 : campaigns]
    engaged = DeliveryEvent.objects.filter(
        delivery__subscriber=OuterRef("pk"),
        delivery__campaign__kind=Campaign.Kind.ISSUE,
        delivery__sent_at__gte=OuterRef("window_start"),
        kind__in=[DeliveryEvent.Kind.OPENED, DeliveryEvent.Kind.CLICKED],
    )
    return (
        queryset.filter(status=Subscriber.Status.ACTIVE)
        .annotate(window_start=Subquery(nth))
        .filter(window_start__isnull=False)
        .exclude(Exists(engaged))
    )


def request_reconfirmation(subscriber: Subscriber, *, source: str = "") -> int:
    """Their confirmed subscriptions go back to pending, with one confirmation email;
    returns how many subscriptions now wait (none for someone not active)."""
    from mailing import subscriptions

    if subscriber.status != Subscriber.Status.ACTIVE:
        return 0
    now = timezone.now()
    with transaction.atomic():
        confirmed = Subscription.objects.filter(subscriber=subscriber, status=Status.CONFIRMED)
        list_ids = list(confirmed.select_for_update().values_list("mailing_list_id", flat=True))
        if not list_ids:
            return 0
        # confirmed_at stays: confirming again is no new subscription (no welcome email).
        confirmed.filter(mailing_list_id__in=list_ids).update(
            status=Status.PENDING, pending_since=now
        )
        for list_id in list_ids:
            subscriptions.record_event(
                subscriber, Kind.RECONFIRM_REQUESTED, mailing_list=list_id, source=source
            )
        subscriptions.queue_confirmation(subscriber.pk, list_ids)
    return len(list_ids)
