"""State the content API keeps: a content version for HTTP validators, webhook deliveries."""

from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ContentVersion(models.Model):
    """One row whose counter moves whenever published content changes.

    The API folds it into every ETag, so a publish, unpublish, move, delete or privacy
    change invalidates every cached response at once: coarse, but never stale.
    """

    counter = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("content version")

    def __str__(self):
        return f"v{self.counter} ({self.changed_at:%Y-%m-%d %H:%M:%S})"

    @classmethod
    def current(cls) -> "ContentVersion":
        version = cls.objects.filter(pk=1).first()
        if version is None:
            version, _ = cls.objects.get_or_create(pk=1)
        return version

    @classmethod
    def bump(cls) -> None:
        now = timezone.now()
        if not cls.objects.filter(pk=1).update(counter=F("counter") + 1, changed_at=now):
            cls.objects.get_or_create(pk=1, defaults={"counter": 1, "changed_at": now})


class WebhookDelivery(models.Model):
    """One content event to one front-end endpoint, with its attempts."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RETRYING = "retrying", _("Retrying")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    url = models.URLField(max_length=500)
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.event} → {self.url} ({self.status})"
