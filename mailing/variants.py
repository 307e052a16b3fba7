"""Per-reader sections: one rendering of the issue per distinct topic set in the audience.

When a block of the issue matches readers' topics (``newsletters.rendering.
matches_reader_topics``), ``make`` renders the issue once for each distinct
``Subscriber.topics`` among the campaign's ledger rows and points those rows at it
(``Delivery.variant``); readers without topics keep the campaign's own rendering. The
sender picks each delivery's message by its variant.
"""

from __future__ import annotations

import copy

from mailing.models import Campaign, CampaignVariant, Delivery
from newsletters.rendering import matches_reader_topics, render_email


def topic_sets(campaign: Campaign) -> list[list[str]]:
    """The distinct, non-empty topic sets of the campaign's recipients (one query)."""
    rows = (
        Delivery.objects.filter(campaign=campaign, subscriber__isnull=False)
        .exclude(subscriber__topics=[])
        .values_list("subscriber__topics", flat=True)
        .order_by()
        .distinct()
    )
    return sorted({tuple(sorted(topics)) for topics in rows if topics}, key=lambda t: (len(t), t))


def make(campaign: Campaign, issue, extra_context: dict | None = None) -> int:
    """Render and attach the variants of a campaign whose ledger is materialised; returns
    how many were made (0 when no block matches topics)."""
    if not matches_reader_topics(issue):
        return 0
    made = 0
    for topics in topic_sets(campaign):
        rendered = render_email(
            issue, extra_context={**(extra_context or {}), "reader_topics": list(topics)}
        )
        variant = CampaignVariant.objects.create(
            campaign=campaign,
            topics=list(topics),
            subject=rendered.subject,
            preheader=rendered.preheader,
            html=rendered.html,
            text=rendered.text,
        )
        # The stored value is the sorted list ``mailing.topics`` writes: exact match.
        Delivery.objects.filter(campaign=campaign, subscriber__topics=list(topics)).update(
            variant=variant
        )
        made += 1
    return made


def as_campaign(campaign: Campaign, variant: CampaignVariant) -> Campaign:
    """The campaign with a variant's rendering in place of its own, for the transports
    (which read the subject, HTML and text off the campaign); never saved."""
    shadow = copy.copy(campaign)
    shadow.subject, shadow.preheader = variant.subject, variant.preheader
    shadow.html, shadow.text = variant.html, variant.text
    return shadow
