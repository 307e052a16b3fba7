"""Campaign actions: what goes out, who gets it, draft, schedule (the confirmation), start,
pause, resume, cancel, finish, dispatch.

Every status change goes through ``Campaign.transition``; ``ACTIONS`` is the table of
what an editor may do to a running campaign, from which the admin draws its buttons.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from mailing import languages, links, queue, segments, variants
from mailing.models import Campaign, Delivery, Subscriber, Subscription
from mailing.sending import ledger
from mailing.sending.message import sender_address
from newsletters.models import NewsletterPage
from newsletters.rendering import render_email

logger = logging.getLogger(__name__)

Status = Campaign.Status


# --- what goes out -----------------------------------------------------------------------


class NotPublished(Exception):
    """The issue has no published revision: nothing of it may reach a list."""

    def __init__(self, page):
        super().__init__(
            _("“%(title)s” is not published: publish it before sending it to lists.")
            % {"title": page.title}
        )


def published(page):
    """(revision, issue) of what a campaign sends: the published revision and the issue as
    it holds; a live page saved without revisions (made in code) is its own published
    version. Raises NotPublished for a page that is not live."""
    if not page.live:
        raise NotPublished(page)
    revision = page.live_revision
    return revision, (revision.as_object() if revision else page)


# --- who gets it -------------------------------------------------------------------------


def same_issue(page_id: int):
    """The issue's pages in every language (its translations share a translation key)."""
    key = NewsletterPage.objects.filter(pk=page_id).values("translation_key")
    return NewsletterPage.objects.filter(translation_key__in=key).values("pk")


def received(page_id: int):
    """Subscribers (ids) whom a campaign of this issue, in any language, already reached."""
    return Delivery.objects.filter(
        campaign__page__in=same_issue(page_id),
        status=Delivery.Status.SENT,
        subscriber__isnull=False,
    ).values("subscriber_id")


def recipients(lists, *, exclude_received_of: int | None = None, segment=None):
    """(subscriber_id, list_id) of confirmed, active, unsuppressed subscribers, one per address.

    Addresses are unique per subscriber (case-insensitively), so grouping by subscriber
    deduplicates across lists; the lowest list id is the one the recipient is mailed through.
    ``exclude_received_of``: an issue's page id; leaves out whom it already reached.
    ``segment``: only the subscribers it selects (``mailing.segments``).
    """
    subscriptions = Subscription.objects.filter(
        mailing_list__in=lists,
        status=Subscription.Status.CONFIRMED,
        subscriber__status=Subscriber.Status.ACTIVE,
        subscriber__in=Subscriber.objects.not_suppressed(),
    )
    if exclude_received_of is not None:
        reached = received(exclude_received_of).filter(subscriber_id=OuterRef("subscriber_id"))
        subscriptions = subscriptions.filter(~Exists(reached))
    if segment is not None:
        subscriptions = subscriptions.filter(subscriber__in=segments.members(segment).values("pk"))
    return subscriptions.values("subscriber_id").annotate(list_id=Min("mailing_list_id")).order_by()


def count_recipients(lists, *, exclude_received_of: int | None = None, segment=None) -> int:
    return recipients(lists, exclude_received_of=exclude_received_of, segment=segment).count()


def earlier_sends(page, lists=None) -> list[Campaign]:
    """Campaigns of this issue (in any language) that reached someone (through one of
    ``lists`` when given), newest first, each with ``sent`` (messages sent)."""
    campaigns = (
        Campaign.objects.filter(page__in=same_issue(page.pk))
        .annotate(sent=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.SENT)))
        .filter(sent__gt=0)
        .prefetch_related("lists")
        .order_by("-started_at", "-pk")
    )
    if lists is not None:
        through = Campaign.lists.through.objects.filter(mailinglist__in=lists)
        campaigns = campaigns.filter(pk__in=through.values("campaign_id"))
    return list(campaigns)


# --- lifecycle ---------------------------------------------------------------------------

# Unconfirmed drafts older than this are deleted by the dispatcher.
DRAFT_MAX_AGE = timedelta(days=1)


def create(
    page,
    lists,
    *,
    send_at=None,
    user=None,
    rate_limit=None,
    segment=None,
    kind=Campaign.Kind.ISSUE,
) -> Campaign:
    """A DRAFT campaign (``send_at`` None: as soon as it is confirmed) to ``lists``,
    narrowed to ``segment`` when given; nothing sends it until ``schedule``."""
    lists = list(lists)
    from_name, from_email, reply_to = sender_address(lists[0] if lists else None)
    campaign = Campaign.objects.create(
        page=page,
        kind=kind,
        status=Status.DRAFT,
        send_at=send_at,
        from_name=from_name,
        from_email=from_email,
        reply_to=reply_to,
        rate_limit=rate_limit or getattr(settings, "SENDING_RATE_LIMIT", 0) or None,
        created_by=user,
        segment=segment,
    )
    campaign.lists.set(lists)
    return campaign


def draft(page, lists, *, send_at=None, user=None, segment=None) -> Campaign:
    """The editor's draft for this issue, refilled (one per editor and issue), else a new one."""
    lists = list(lists)
    existing = Campaign.objects.filter(page=page, status=Status.DRAFT, created_by=user).first()
    if existing is None or user is None:
        return create(page, lists, send_at=send_at, user=user, segment=segment)
    from_name, from_email, reply_to = sender_address(lists[0] if lists else None)
    Campaign.objects.filter(pk=existing.pk).update(
        send_at=send_at,
        from_name=from_name,
        from_email=from_email,
        reply_to=reply_to,
        created_at=timezone.now(),
        segment=segment,
    )
    existing.refresh_from_db()
    existing.lists.set(lists)
    return existing


def discard_stale_drafts() -> int:
    """Drafts nobody confirmed within ``DRAFT_MAX_AGE``: they never sent anything."""
    stale = Campaign.objects.filter(
        status=Status.DRAFT, created_at__lt=timezone.now() - DRAFT_MAX_AGE
    )
    return stale.delete()[0]


def schedule(campaign: Campaign, *, exclude_received: bool | None = None) -> bool:
    """The editor's confirmation: DRAFT → SCHEDULED (``send_at`` now when it had none);
    the dispatcher starts it when due. Raises NotPublished for an issue that is not live."""
    if not NewsletterPage.objects.filter(pk=campaign.page_id, live=True).exists():
        raise NotPublished(campaign.page)
    fields = {"send_at": campaign.send_at or timezone.now()}
    if exclude_received is not None:
        fields["exclude_received"] = exclude_received
    if not campaign.transition(Status.SCHEDULED, expect=[Status.DRAFT], **fields):
        return False
    queue.enqueue_dispatch()
    return True


def start(campaign_id: int, *, only: list[int] | None = None) -> bool:
    """Scheduled → sending: pin the published revision, render once, materialise the ledger.

    An issue unpublished since it was scheduled fails the campaign with the reason:
    nothing but a published revision ever reaches a list. ``only``: subscriber ids the
    recipients are limited to (a welcome email); a welcome campaign never starts without.
    """
    with transaction.atomic():
        campaign = Campaign.objects.select_related("page").get(pk=campaign_id)
        if campaign.kind != Campaign.Kind.ISSUE and only is None:
            return False
        try:
            revision, issue = published(campaign.page)
        except NotPublished as exc:
            campaign.transition(Status.FAILED, expect=[Status.SCHEDULED], error=str(exc))
            return False
        if not campaign.transition(
            Status.SENDING,
            expect=[Status.SCHEDULED],
            started_at=timezone.now(),
            revision=revision,
        ):
            return False
        # An internal list's issue has no public web copy: no dead "view in browser" link;
        # nor has a welcome email.
        internal = campaign.lists.filter(is_public=False).exists()
        no_web_link = internal or campaign.kind != Campaign.Kind.ISSUE
        extra = {"no_web_link": no_web_link}
        campaign.language = languages.of_page(issue)
        rendered = render_email(issue, extra_context=extra)
        campaign.subject = rendered.subject
        campaign.preheader = rendered.preheader
        campaign.html = rendered.html
        campaign.text = rendered.text
        who = recipients(
            campaign.lists.all(),
            exclude_received_of=campaign.page_id if campaign.exclude_received else None,
            segment=campaign.segment,
        )
        if only is not None:
            who = who.filter(subscriber_id__in=only)
        campaign.recipients_count = ledger.materialise(campaign, who)
        campaign.track_clicks, campaign.track_opens = links.tracking_for(campaign.lists.all())
        # Each reader the translation in their language, with their topics' sections:
        # rendered once per language and topic set.
        variants.make(campaign, issue, extra)
        campaign.save(
            update_fields=[
                *("language", "subject", "preheader", "html", "text", "recipients_count"),
                *("track_clicks", "track_opens"),
            ]
        )
        links.register(campaign)
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
    # A draft is not cancelled but discarded (deleted) from its confirmation screen.
    "cancel": Action(
        Status.CANCELLED,
        frozenset({Status.SCHEDULED, Status.SENDING, Status.PAUSED}),
        stamp="finished_at",
    ),
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


def settle_stopped(campaign_id: int) -> None:
    """A sender stopped on a cancel: the finish time covers the messages it had in flight,
    so no message is ever dated after "Finished"."""
    last = Delivery.objects.filter(campaign_id=campaign_id, status=Delivery.Status.SENT).aggregate(
        last=Max("sent_at")
    )["last"]
    if last is not None:
        Campaign.objects.filter(
            pk=campaign_id, status=Status.CANCELLED, finished_at__lt=last
        ).update(finished_at=last)


def _mark_issue_sent(campaign: Campaign):
    # The first finished campaign of an issue dates it; the next-issue draft starts there.
    # A welcome email is no issue of the newsletter: it dates nothing.
    if campaign.kind != Campaign.Kind.ISSUE:
        return
    public = not campaign.lists.filter(is_public=False).exists()
    # The translations that went out in readers' languages are sent issues too (each in
    # its language's archive).
    translated = campaign.variants.exclude(page_id=None).values_list("page_id", flat=True)
    for page_id in {campaign.page_id, *translated}:
        NewsletterPage(pk=page_id).mark_sent(campaign.finished_at, public=public)


# --- the dispatcher ----------------------------------------------------------------------


def due_ids() -> list[int]:
    return list(
        Campaign.objects.filter(
            status=Status.SCHEDULED, send_at__lte=timezone.now(), kind=Campaign.Kind.ISSUE
        ).values_list("pk", flat=True)
    )


def dispatch(force: bool = False):
    """Start due campaigns and keep every sending campaign served by senders.

    ``force``: enqueue senders even for campaigns with live leases (the tasks in flight
    may have died with a previous cluster).
    """
    discard_stale_drafts()
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
