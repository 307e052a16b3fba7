"""Each reader their language: which translation of an issue a recipient gets.

A reader's language is the one they chose (``Subscriber.language``), else the default
language of the list they are mailed through (``MailingList.language``), else the
language the issue is written in. They get the issue's live translation in that
language (a Wagtail page of the same ``translation_key`` in that locale); when there is
none, the issue as written: the send screen warns about it beforehand
(``audience``), and ``mailing.variants`` renders each language once per campaign.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q
from django.utils import translation

from mailing.models import MailingList, Subscriber
from newsletters.rendering import language_of


def enabled() -> dict[str, str]:
    """code → name of the site's languages, in the order of LANGUAGES."""
    return dict(settings.LANGUAGES)


def name(code: str) -> str:
    """The language's name in the active language ("French", "Französisch")."""
    if code in enabled():
        with contextlib.suppress(KeyError):
            return translation.gettext(translation.get_language_info(code)["name"])
    return code or "—"


def of_page(page) -> str:
    """The language a page (an issue or its translation) is written in."""
    return language_of(page)


def live_translations(issue) -> dict[str, object]:
    """code → the live page of each translation of the issue, itself included (one query)."""
    pages = (
        type(issue)
        .objects.filter(translation_key=issue.translation_key, live=True)
        .select_related("locale")
    )
    found = {page.locale.language_code: page for page in pages}
    found.setdefault(of_page(issue), issue)
    return found


def wanted(subscriber_language: str, list_language: str, source: str) -> str:
    """The language a reader should get: theirs, else their list's, else the issue's."""
    known = enabled()
    for code in (subscriber_language, list_language):
        if code and code in known:
            return code
    return source


def fallback(translations: dict, source: str) -> str:
    """What a reader gets when their language has no live translation: the site's first
    language (the one content is written in) when the issue has it live, else the
    language of the issue being sent."""
    first = settings.LANGUAGES[0][0]
    return first if first in translations else source


def list_languages(list_ids) -> dict[int, str]:
    ids = {i for i in list_ids if i is not None}
    if not ids:
        return {}
    return dict(MailingList.objects.filter(pk__in=ids).values_list("pk", "language"))


@dataclass(frozen=True)
class LanguageShare:
    """One language of an audience: how many want it and what they get."""

    code: str
    readers: int
    translated: bool  # a live translation in ``code`` exists (or it is the issue's own)
    gets: str  # the language they get: ``code`` when translated, else the fallback

    @property
    def name(self) -> str:
        return name(self.code)

    @property
    def gets_name(self) -> str:
        return name(self.gets)


def audience(recipients, issue, lists) -> list[LanguageShare]:
    """The recipients (``campaigns.recipients`` rows) per wanted language, most first.

    Counted in the database: subscribers per chosen language; those with none (or a
    language no longer enabled) per the default language of the list they go through.
    """
    source = of_page(issue)
    translations = live_translations(issue)
    known = enabled()
    counts: Counter[str] = Counter()
    by_language = (
        Subscriber.objects.filter(pk__in=recipients.values("subscriber_id"))
        .values_list("language")
        .annotate(n=Count("pk"))
        .order_by()
    )
    unchosen = 0
    for code, n in by_language:
        if code in known:
            counts[code] += n
        else:
            unchosen += n
    if unchosen:
        defaults = {ml.pk: ml.language for ml in lists if ml.language}
        if not defaults:
            counts[source] += unchosen
        else:
            rows = recipients.filter(~Q(subscriber__language__in=list(known)))
            for row in rows.iterator(chunk_size=5000):
                counts[wanted("", defaults.get(row["list_id"], ""), source)] += 1
    otherwise = fallback(translations, source)
    return [
        LanguageShare(code, n, code in translations, code if code in translations else otherwise)
        for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]
