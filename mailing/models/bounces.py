"""Bounces: every report that a message did not arrive, classified once (``mailing.bounces``)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Bounce(models.Model):
    """One bounce, complaint or policy block as an ESP webhook (or, later, an SMTP answer
    or a bounce mailbox) reported it, with what the policy did about it."""

    class Type(models.TextChoices):
        HARD = "hard", _("Hard bounce")
        SOFT = "soft", _("Soft bounce")
        COMPLAINT = "complaint", _("Complaint")
        POLICY = "policy", _("Blocked by the receiver's policy")

    class Action(models.TextChoices):
        SUPPRESSED = "suppressed", _("Address suppressed")
        COUNTED = "counted", _("Counted")
        RECORDED = "recorded", _("Recorded only")

    # Kept as a hash, like the suppression list: counts hold after erasure.
    email_hash = models.CharField(max_length=64, db_index=True)
    subscriber = models.ForeignKey(
        "mailing.Subscriber",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bounces",
    )
    delivery = models.ForeignKey(
        "mailing.Delivery", null=True, blank=True, on_delete=models.SET_NULL, related_name="bounces"
    )
    type = models.CharField(max_length=10, choices=Type.choices)
    action = models.CharField(max_length=12, choices=Action.choices)
    # RFC 3463 enhanced status code when the report had one, e.g. "5.1.1".
    status = models.CharField(max_length=16, blank=True)
    reason = models.TextField(blank=True)
    source = models.CharField(max_length=100, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["email_hash", "type", "occurred_at"])]
        verbose_name = _("bounce")
        verbose_name_plural = _("bounces")

    def __str__(self):
        return f"{self.get_type_display()} {self.status or ''} ({self.occurred_at:%Y-%m-%d})"


class BounceMessage(models.Model):
    """A message read from the bounce mailbox, kept by digest so that none is handled twice
    (a mailbox that could not delete it, two pollers at once), and what became of it."""

    digest = models.CharField(max_length=64, unique=True)
    outcome = models.CharField(max_length=20)
    read_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("bounce mailbox message")
        verbose_name_plural = _("bounce mailbox messages")

    def __str__(self):
        return f"{self.outcome} {self.read_at:%Y-%m-%d %H:%M}"
