"""Our own click and open tracking: the links of a campaign and what readers did with them."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CampaignLink(models.Model):
    """One distinct link of a sent campaign, behind the signed redirect (``mailing.links``)."""

    campaign = models.ForeignKey("mailing.Campaign", on_delete=models.CASCADE, related_name="links")
    # Order of first appearance in the email; names its placeholder (``links.key``).
    position = models.PositiveIntegerField()
    url = models.TextField(help_text=_("The link as written in the issue."))
    target = models.TextField(
        help_text=_("Where the redirect sends readers (campaign tags added).")
    )
    # The content page the link leads to, when it is a page of this CMS: clicks are
    # credited to it across issues.
    page = models.ForeignKey(
        "wagtailcore.Page", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "position"], name="mailing_campaignlink_position"
            )
        ]
        verbose_name = _("campaign link")

    def __str__(self):
        return self.url


class Engagement(models.Model):
    """One click or open our redirect or pixel saw (written in batches by ``mailing.hits``)."""

    class Kind(models.TextChoices):
        CLICK = "click", _("Click")
        OPEN = "open", _("Open")
        # Apple Mail Privacy Protection and similar proxies load every image on arrival:
        # no person opened anything. Kept apart from opens.
        MACHINE_OPEN = "machine_open", _("Automatic image load")

    campaign = models.ForeignKey("mailing.Campaign", on_delete=models.CASCADE, related_name="+")
    delivery = models.ForeignKey(
        "mailing.Delivery", on_delete=models.CASCADE, related_name="engagements"
    )
    link = models.ForeignKey(
        CampaignLink, null=True, blank=True, on_delete=models.CASCADE, related_name="engagements"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["campaign", "kind"], name="mailing_engagement_campaign"),
            models.Index(fields=["link", "delivery"], name="mailing_engagement_link"),
        ]

    def __str__(self):
        return f"{self.kind} {self.delivery_id}"
