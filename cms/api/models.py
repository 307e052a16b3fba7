"""State the content API keeps: per-page fragment states and what each page embeds, a
site-wide content version, webhook deliveries."""

from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ContentVersion(models.Model):
    """One row whose counter moves whenever published content changes.

    Page responses are keyed per page (`PageState`); this coarse version validates the
    images, documents and calendar responses, and dates page listings' `Last-Modified`
    (a date cannot say which listing a newly published page enters).
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


class PageState(models.Model):
    """The token of a page's cached API representation (its "fragment").

    A fragment's cache key holds the page id, its live revision and this token; the token
    changes when the page is published, unpublished or moved, and when anything it
    embeds changes (a referenced page, image, document or organisation, found through
    `PageReference`). A page without a row has no cached fragment: the API records one,
    with its references, before caching the page's first fragment.
    """

    page = models.OneToOneField(
        "wagtailcore.Page", on_delete=models.CASCADE, primary_key=True, related_name="api_state"
    )
    token = models.CharField(max_length=32)
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("page API state")

    def __str__(self):
        return f"page {self.page_id}: {self.token}"


class PageReference(models.Model):
    """Something a page's published representation embeds: its change touches the page."""

    class Kind(models.TextChoices):
        PAGE = "p", _("Page")
        IMAGE = "i", _("Image")
        DOCUMENT = "d", _("Document")
        ORGANISATION = "o", _("Organisation")

    page = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.CASCADE, related_name="api_references"
    )
    kind = models.CharField(max_length=1, choices=Kind.choices)
    object_id = models.BigIntegerField()

    class Meta:
        verbose_name = _("page API reference")
        constraints = [
            models.UniqueConstraint(
                fields=["page", "kind", "object_id"], name="cms_pagereference_unique"
            )
        ]
        indexes = [models.Index(fields=["kind", "object_id"], name="cms_pageref_target_idx")]

    def __str__(self):
        return f"page {self.page_id} → {self.kind}{self.object_id}"


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
