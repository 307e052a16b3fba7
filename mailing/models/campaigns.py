"""Campaigns: one newsletter revision sent to lists, the per-recipient ledger and its events.

Status changes happen only through ``Campaign.transition`` (a conditional UPDATE), so
two workers, the admin and the scheduler can never move a campaign through two
conflicting states at once.
"""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _new_key():
    return secrets.token_hex(8)


class CampaignQuerySet(models.QuerySet):
    def with_web_copy(self):
        """Campaigns whose "view in browser" copy is public: under way or sent, to public
        lists only (an internal list's issue stays in its readers' inboxes)."""
        shown = [Campaign.Status.SENDING, Campaign.Status.PAUSED, Campaign.Status.SENT]
        return (
            self.filter(status__in=shown, kind=Campaign.Kind.ISSUE)
            .exclude(html="")
            .exclude(lists__is_public=False)
        )


class Campaign(models.Model):
    """One issue sent to lists at a time, through a status machine (``TRANSITIONS``).

    DRAFT: created, not yet confirmed by an editor; no worker ever touches it.
    ``mailing.campaigns.create`` makes a draft and ``schedule`` (the confirmation) moves
    it to SCHEDULED, which the dispatcher starts when ``send_at`` comes (SENDING), and
    which ends SENT, CANCELLED or FAILED (it could not start). The admin confirms on a
    screen of its own; the ``send_newsletter`` command confirms by being run.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    class Kind(models.TextChoices):
        ISSUE = "issue", _("Issue")
        # One subscriber's welcome email, queued when they confirm (mailing.welcome).
        WELCOME = "welcome", _("Welcome email")

    # from → allowed targets; the only place where status changes are defined.
    TRANSITIONS = {
        Status.DRAFT: {Status.SCHEDULED, Status.CANCELLED},
        Status.SCHEDULED: {Status.SENDING, Status.CANCELLED, Status.FAILED},
        Status.SENDING: {Status.PAUSED, Status.SENT, Status.CANCELLED, Status.FAILED},
        Status.PAUSED: {Status.SENDING, Status.CANCELLED},
        Status.SENT: set(),
        Status.CANCELLED: set(),
        Status.FAILED: set(),
    }

    page = models.ForeignKey(
        "newsletters.NewsletterPage", on_delete=models.PROTECT, related_name="campaigns"
    )
    revision = models.ForeignKey(
        "wagtailcore.Revision",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The page revision pinned when sending starts."),
    )
    lists = models.ManyToManyField("mailing.MailingList", related_name="campaigns")
    # Narrows the lists to the subscribers a segment selects when sending starts; kept
    # (PROTECT) while a campaign names it, so a send never widens to whole lists.
    segment = models.ForeignKey(
        "mailing.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name=_("segment"),
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ISSUE)
    send_at = models.DateTimeField(null=True, blank=True)
    from_name = models.CharField(max_length=200, blank=True)
    from_email = models.EmailField(blank=True)
    reply_to = models.EmailField(blank=True)
    rate_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Messages per second at most; empty for no limit.")
    )
    exclude_received = models.BooleanField(
        _("only those who have not received this issue"),
        default=False,
        help_text=_("Leaves out subscribers an earlier campaign of the same issue reached."),
    )
    utm = models.BooleanField(
        _("campaign tags on links"),
        default=True,
        help_text=_(
            "Adds utm_source, utm_medium and utm_campaign to links to the website, so its "
            "analytics can tell visits from this newsletter."
        ),
    )
    # Fixed when sending starts, from the lists' settings (``mailing.links.tracking_for``).
    track_clicks = models.BooleanField(default=False, editable=False)
    track_opens = models.BooleanField(default=False, editable=False)
    # Random per campaign: Message-IDs are <c{id}.{key}.d{delivery}@domain>, unguessable.
    key = models.CharField(max_length=32, default=_new_key, editable=False)

    # Snapshot rendered once when sending starts; every recipient gets exactly this, or
    # the variant for their language and topics (``CampaignVariant``).
    language = models.CharField(max_length=10, blank=True, editable=False)
    subject = models.CharField(max_length=255, blank=True)
    preheader = models.CharField(max_length=255, blank=True)
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)

    recipients_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "send_at"])]
        permissions = [("send_campaign", "Can send newsletters to mailing lists")]

    def __str__(self):
        return f"{self.page.title} ({self.get_status_display()})"

    @classmethod
    def can_move(cls, source: str, target: str) -> bool:
        return target in cls.TRANSITIONS.get(source, ())

    def transition(self, target: str, *, expect=None, **fields) -> bool:
        """Move to ``target`` if the stored status allows it; True when this call did it."""
        sources = [
            source
            for source in self.TRANSITIONS
            if self.can_move(source, target) and (expect is None or source in expect)
        ]
        updated = Campaign.objects.filter(pk=self.pk, status__in=sources).update(
            status=target, **fields
        )
        if updated:
            self.status = target
            for name, value in fields.items():
                setattr(self, name, value)
        else:
            self.refresh_from_db(fields=["status"])
        return bool(updated)

    @property
    def is_active(self):
        return self.status in {self.Status.SCHEDULED, self.Status.SENDING, self.Status.PAUSED}

    def has_web_copy(self) -> bool:
        return Campaign.objects.with_web_copy().filter(pk=self.pk).exists()

    def counts(self) -> dict:
        """Recipients and ledger rows by status, with one grouped query."""
        rows = dict(self.deliveries.values_list("status").annotate(n=models.Count("id")).order_by())
        leased = rows.get(Delivery.Status.LEASED, 0)
        return {
            "recipients": self.recipients_count,
            "sent": rows.get(Delivery.Status.SENT, 0),
            "failed": rows.get(Delivery.Status.FAILED, 0),
            "pending": rows.get(Delivery.Status.PENDING, 0) + leased,
        }

    def event_counts(self) -> dict:
        rows = dict(
            DeliveryEvent.objects.filter(delivery__campaign=self)
            .values_list("kind")
            .annotate(n=models.Count("delivery_id", distinct=True))
            .order_by()
        )
        return {kind: rows.get(kind, 0) for kind in DeliveryEvent.Kind.values}


class Delivery(models.Model):
    """The ledger: one row per campaign × subscriber, unique in the database."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        LEASED = "leased", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    # No index of its own: the unique (campaign, subscriber) index serves campaign lookups.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    subscriber = models.ForeignKey(
        "mailing.Subscriber", null=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    # The list the recipient is mailed through: one-click unsubscribe leaves that list.
    mailing_list_id = models.BigIntegerField(null=True, blank=True)
    # The rendering for the reader's topics (``mailing.variants``); None: the campaign's own.
    variant = models.ForeignKey(
        "mailing.CampaignVariant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    lease_owner = models.CharField(max_length=40, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Indexed only once set (a partial index): materialising the ledger writes none.
    provider_message_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "subscriber"], name="mailing_delivery_once_per_campaign"
            )
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "id"], name="mailing_delivery_queue"),
            # Partial indexes: a new (pending) row enters neither, so materialising a
            # million-row ledger maintains fewer indexes (see bench/audience.py).
            models.Index(
                fields=["lease_expires_at"],
                name="mailing_delivery_leased",
                condition=models.Q(status="leased"),
            ),
            models.Index(
                fields=["provider_message_id"],
                name="mailing_delivery_provider_id",
                condition=~models.Q(provider_message_id=""),
            ),
        ]

    def __str__(self):
        return f"{self.campaign_id}/{self.subscriber_id} {self.status}"


class CampaignVariant(models.Model):
    """The issue as rendered for one language and set of reader topics: the translation
    in the reader's language, sections for their topics. Readers in the campaign's own
    language without topics get the campaign's own rendering."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    # The language it is written in (the translation's locale); blank: the campaign's.
    language = models.CharField(max_length=10, blank=True)
    # The translation of the issue it was rendered from.
    page_id = models.BigIntegerField(null=True, blank=True)
    topics = models.JSONField(default=list)
    subject = models.CharField(max_length=255, blank=True)
    preheader = models.CharField(max_length=255, blank=True)
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)

    def __str__(self):
        return f"{self.campaign_id}: {self.language} {', '.join(self.topics)}".rstrip()


class DeliveryEvent(models.Model):
    """What the mail provider reported about one delivery (anymail tracking webhooks)."""

    class Kind(models.TextChoices):
        DELIVERED = "delivered", _("Delivered")
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Complained")
        OPENED = "opened", _("Opened")
        CLICKED = "clicked", _("Clicked")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    esp_event_id = models.CharField(max_length=255, blank=True)
    detail = models.TextField(blank=True)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["occurred_at"]
        indexes = [models.Index(fields=["delivery", "kind"])]

    def __str__(self):
        return f"{self.kind} {self.delivery_id}"
