"""Per-reader renderings: the issue in each reader's language, with their topics' sections.

When sending starts, ``make`` looks at the distinct (language, list, topics) of the
campaign's ledger rows, resolves each reader's language (``mailing.languages``) to the
issue's live translation in it, and renders the issue once per distinct (translation,
topic set) a reader needs: once per language and topic set, never per recipient. The
rows point at their rendering (``Delivery.variant``); readers who get the campaign's own
rendering (its language, no topic sections) keep none. The sender picks each delivery's
message by its variant.
"""

from __future__ import annotations

import copy
from collections import defaultdict

from django.db.models import Q

from mailing import languages
from mailing.models import Campaign, CampaignVariant, Delivery
from newsletters.rendering import matches_reader_topics, render_email


def _groups(campaign: Campaign):
    """The distinct (subscriber language, list, topics) of the campaign's rows (one query)."""
    rows = (
        Delivery.objects.filter(campaign=campaign, subscriber__isnull=False)
        .values_list("subscriber__language", "mailing_list_id", "subscriber__topics")
        .order_by()
        .distinct()
    )
    # Topics as stored (``mailing.topics`` writes them sorted): rows are matched exactly.
    return {(lang or "", list_id, tuple(topics or [])) for lang, list_id, topics in rows}


def make(campaign: Campaign, issue, extra_context: dict | None = None) -> int:
    """Render and attach the variants of a campaign whose ledger is materialised; returns
    how many were made. ``issue``: the published version the campaign renders itself."""
    from mailing.campaigns import published

    source = languages.of_page(issue)
    translations = languages.live_translations(issue)
    translations[source] = issue  # the pinned revision, not the page as it is now
    otherwise = languages.fallback(translations, source)
    groups = _groups(campaign)
    list_languages = languages.list_languages(list_id for _l, list_id, _t in groups)
    pages, variants, made = {}, {}, 0
    rows_of = defaultdict(Q)  # variant key → the ledger rows that get it
    for subscriber_language, list_id, topics in sorted(groups, key=str):
        code = languages.wanted(subscriber_language, list_languages.get(list_id, ""), source)
        if code not in translations:
            code = otherwise  # no translation in their language
        if code not in pages:
            page = translations[code] if code == source else published(translations[code])[1]
            pages[code] = (page, matches_reader_topics(page))
        page, by_topics = pages[code]
        key = (code, tuple(sorted(topics)) if by_topics else ())
        if key == (source, ()):
            continue  # the campaign's own rendering
        if key not in variants:
            context = {**(extra_context or {})}
            if key[1]:
                context["reader_topics"] = list(key[1])
            rendered = render_email(page, extra_context=context)  # in the page's language
            variants[key] = CampaignVariant.objects.create(
                campaign=campaign,
                language=code if code != source else "",
                page_id=page.pk,
                topics=list(key[1]),
                subject=rendered.subject,
                preheader=rendered.preheader,
                html=rendered.html,
                text=rendered.text,
            )
            made += 1
        through = Q(mailing_list_id__isnull=True) if list_id is None else Q(mailing_list_id=list_id)
        rows_of[key] |= through & Q(
            subscriber__language=subscriber_language, subscriber__topics=list(topics)
        )
    # One UPDATE per rendering, not per (language, list, topics) group.
    for key, rows in rows_of.items():
        Delivery.objects.filter(rows, campaign=campaign).update(variant=variants[key])
    return made


def as_campaign(campaign: Campaign, variant: CampaignVariant) -> Campaign:
    """The campaign with a variant's rendering in place of its own, for the transports
    (which read the subject, HTML and text off the campaign); never saved."""
    shadow = copy.copy(campaign)
    shadow.subject, shadow.preheader = variant.subject, variant.preheader
    shadow.html, shadow.text = variant.html, variant.text
    # Its "view in browser" copy is the one in its language (``message.web_url``).
    shadow.web_language = variant.language
    return shadow
