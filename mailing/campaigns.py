"""Campaign actions: who gets it, create, schedule, start, pause, resume, cancel, finish, dispatch.

Every status change goes through ``Campaign.transition``; ``ACTIONS`` is the table of
what an editor may do to a running campaign, from which the admin draws its buttons.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from mailing import queue
from mailing.models import Campaign, Delivery, Subscriber, Subscription
from mailing.sending import ledger
from mailing.sending.message import sender_address
from newsletters.models import NewsletterPage
from newsletters.rendering import render_email

logger = logging.getLogger(__name__)

Status = Campaign.Status


# --- who gets it -------------------------------------------------------------------------


def recipients(lists):
    """(subscriber_id, list_id) of confirmed, active, unsuppressed subscribers, one per address.

    Addresses are unique per subscriber (case-insensitively), so grouping by subscriber
    deduplicates across lists; the lowest list id is the one the recipient is mailed through.
    """
    return (
        Subscription.objects.filter(
            mailing_list__in=lists,
            status=Subscription.Status.CONFIRMED,
            subscriber__status=Subscriber.Status.ACTIVE,
            subscriber__in=Subscriber.objects.not_suppressed(),
        )
        .values("subscriber_id")
        .annotate(list_id=Min("mailing_list_id"))
        .order_by()
    )


def count_recipients(lists) -> int:
    return recipients(lists).count()


# --- lifecycle ---------------------------------------------------------------------------


def create(page, lists, *, send_at=None, user=None, rate_limit=None) -> Campaign:
    """A DRAFT campaign (to go now by default); nothing sends it until ``schedule``."""
    lists = list(lists)
    from_name, from_email, reply_to = sender_address(lists[0] if lists else None)
    campaign = Campaign.objects.create(
        page=page,
        status=Status.DRAFT,
        send_at=send_at or timezone.now(),
        from_name=from_name,
        from_email=from_email,
        reply_to=reply_to,
        rate_limit=rate_limit or getattr(settings, "SENDING_RATE_LIMIT", 0) or None,
        created_by=user,
    )
    campaign.lists.set(lists)
    return campaign


def schedule(campaign: Campaign) -> bool:
    """The editor's confirmation: DRAFT → SCHEDULED; the dispatcher starts it when due."""
    if not campaign.transition(Status.SCHEDULED):
        return False
    queue.enqueue_dispatch()
    return True


def pinned_revision(page):
    """What goes out: the published revision, or the latest one for a never-published page."""
    return page.live_revision or page.latest_revision


def start(campaign_id: int) -> bool:
    """Scheduled → sending: pin the revision, render once, materialise the ledger."""
    with transaction.atomic():
        campaign = Campaign.objects.select_related("page").get(pk=campaign_id)
        revision = pinned_revision(campaign.page)
        if not campaign.transition(
            Status.SENDING,
            expect=[Status.SCHEDULED],
            started_at=timezone.now(),
            revision=revision,
        ):
            return False
        page = revision.as_object() if revision else campaign.page
        rendered = render_email(page)
        campaign.subject = rendered.subject
        campaign.preheader = rendered.preheader
        campaign.html = rendered.html
        campaign.text = rendered.text
        campaign.recipients_count = ledger.materialise(campaign, recipients(campaign.lists.all()))
        campaign.save(update_fields=["subject", "preheader", "html", "text", "recipients_count"])
    logger.info("campaign %s started: %s recipients", campaign.pk, campaign.recipients_count)
    return True


@dataclass(frozen=True)
class Action:
    """What an editor may do to a campaign: the status it moves to, from which, and after."""

    target: str
    # None: from every status the model lets reach ``target``.
    sources: frozenset | None = None
    # Stamped with the moment of the change (e.g. ``finished_at``).
    stamp: str = ""
    # Run once the change happened.
    then: Callable[[Campaign], object] | None = None

    def allowed(self, status: str) -> bool:
        return Campaign.can_move(status, self.target) and (
            self.sources is None or status in self.sources
        )


# The one table of editor actions: the admin's buttons and ``perform`` both read it.
ACTIONS = {
    "pause": Action(Status.PAUSED),
    "resume": Action(
        Status.SENDING, frozenset({Status.PAUSED}), then=lambda c: queue.enqueue_senders(c.pk)
    ),
    "cancel": Action(Status.CANCELLED, stamp="finished_at"),
}


def available_actions(campaign: Campaign) -> list[str]:
    """The names of the ``ACTIONS`` the campaign's status allows, in table order."""
    return [name for name, action in ACTIONS.items() if action.allowed(campaign.status)]


def perform(campaign: Campaign, name: str) -> bool:
    """Run the action called ``name`` (a key of ``ACTIONS``); True when it happened."""
    action = ACTIONS[name]
    fields = {action.stamp: timezone.now()} if action.stamp else {}
    if not campaign.transition(action.target, expect=action.sources, **fields):
        return False
    if action.then is not None:
        action.then(campaign)
    return True


def pause(campaign: Campaign) -> bool:
    return perform(campaign, "pause")


def resume(campaign: Campaign) -> bool:
    return perform(campaign, "resume")


def cancel(campaign: Campaign) -> bool:
    return perform(campaign, "cancel")


def finish_if_done(campaign: Campaign) -> bool:
    """Sending → sent once no row is pending or leased (none can appear after that)."""
    busy = campaign.deliveries.filter(
        status__in=[Delivery.Status.PENDING, Delivery.Status.LEASED]
    ).exists()
    if busy:
        return False
    if not campaign.transition(Status.SENT, expect=[Status.SENDING], finished_at=timezone.now()):
        return False
    _mark_issue_sent(campaign)
    logger.info("campaign %s sent", campaign.pk)
    return True


def _mark_issue_sent(campaign: Campaign):
    # The first finished campaign of an issue dates it; the next-issue draft starts there.
    NewsletterPage.objects.filter(pk=campaign.page_id, sent_at__isnull=True).update(
        sent_at=campaign.finished_at
    )


# --- the dispatcher ----------------------------------------------------------------------


def due_ids() -> list[int]:
    return list(
        Campaign.objects.filter(status=Status.SCHEDULED, send_at__lte=timezone.now()).values_list(
            "pk", flat=True
        )
    )


def dispatch(force: bool = False):
    """Start due campaigns and keep every sending campaign served by senders.

    ``force``: enqueue senders even for campaigns with live leases (the tasks in flight
    may have died with a previous cluster).
    """
    started_now = set()
    for campaign_id in due_ids():
        try:
            started = start(campaign_id)
        except Exception as exc:
            # Rendering or the ledger failed: say so on the campaign instead of retrying
            # the same error every minute.
            logger.exception("campaign %s could not start", campaign_id)
            Campaign(pk=campaign_id).transition(
                Status.FAILED, expect=[Status.SCHEDULED], error=str(exc)[:2000]
            )
            continue
        if started:
            started_now.add(campaign_id)
            queue.enqueue_senders(campaign_id)
    ledger.requeue_expired()
    sending_now = Campaign.objects.filter(status=Status.SENDING).exclude(pk__in=started_now)
    for campaign in sending_now:
        working = campaign.deliveries.filter(status=Delivery.Status.LEASED).exists()
        if force or not working:
            queue.enqueue_senders(campaign.pk)
