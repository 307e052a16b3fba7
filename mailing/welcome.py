"""Welcome emails: a list's welcome issue, sent through the campaign pipeline (ledger
included) to each person whose subscription to that list is confirmed.

One small campaign per welcome (kind WELCOME, one ledger row): the report, retries,
bounces and one-click unsubscribe work as for any issue, and a second confirmation
of the same person on the same list never sends a second welcome.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from mailing import campaigns, queue
from mailing.models import Campaign, Delivery, MailingList, SubscriberEvent

logger = logging.getLogger(__name__)

TASK = "mailing.tasks.send_welcome"


def queue_welcome(subscriber_id: int, list_ids) -> None:
    """Send the welcome issue of each of these lists (those that have one) from the worker
    once the confirmation is committed."""
    from django_q.tasks import async_task

    wanted = list(
        MailingList.objects.filter(pk__in=list(list_ids), welcome_issue__isnull=False).values_list(
            "pk", flat=True
        )
    )
    for list_id in wanted:
        transaction.on_commit(
            lambda list_id=list_id: async_task(
                TASK, subscriber_id, list_id, task_name=f"welcome-{subscriber_id}-{list_id}"
            )
        )


def on_confirmed(sender, subscriber_id, list_ids, **kwargs):
    """``subscriptions.subscriptions_confirmed`` receiver."""
    queue_welcome(subscriber_id, list_ids)


def already_welcomed(subscriber_id: int, mailing_list: MailingList) -> bool:
    return Delivery.objects.filter(
        campaign__kind=Campaign.Kind.WELCOME,
        campaign__lists=mailing_list,
        subscriber_id=subscriber_id,
    ).exists()


def send_welcome(subscriber_id: int, list_id: int) -> int | None:
    """Task body: start the welcome campaign for one confirmed subscriber; its id, or None
    when there is nothing to send (no published welcome issue, already welcomed, no
    longer confirmed, suppressed)."""
    from mailing.subscriptions import record_event

    with transaction.atomic():
        # The list's row lock makes two confirmations of one person welcome once.
        mailing_list = (
            MailingList.objects.select_for_update(of=("self",))
            .select_related("welcome_issue")
            .get(pk=list_id)
        )
        page = mailing_list.welcome_issue
        if page is None or not page.live or already_welcomed(subscriber_id, mailing_list):
            return None
        if not campaigns.recipients([mailing_list]).filter(subscriber_id=subscriber_id).exists():
            return None
        campaign = campaigns.create(page, [mailing_list], kind=Campaign.Kind.WELCOME)
        campaign.transition(
            Campaign.Status.SCHEDULED, expect=[Campaign.Status.DRAFT], send_at=timezone.now()
        )
        if not campaigns.start(campaign.pk, only=[subscriber_id]):
            return None
        record_event(
            subscriber_id,
            SubscriberEvent.Kind.WELCOMED,
            mailing_list=mailing_list,
            detail={"campaign": campaign.pk, "issue": page.pk},
        )
        queue.enqueue_senders(campaign.pk, count=1)
    logger.info("welcome campaign %s for subscriber %s", campaign.pk, subscriber_id)
    return campaign.pk
