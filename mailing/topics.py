"""Topics readers may choose: the tags the CMS's interviews, good practices and events use.

A subscriber's choice is stored as a sorted list of tag slugs (``Subscriber.topics``),
written only through ``clean_topics``, so that equal choices are equal values.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q
from taggit.models import Tag

from cms.models import EventPageTag, GoodPracticePageTag
from interviews.models import InterviewPageTag

# At most this many topics per reader (a form can send no more).
MAX_TOPICS = 50

_THROUGH = (InterviewPageTag, GoodPracticePageTag, EventPageTag)


def available() -> dict[str, str]:
    """{slug: name} of the tags at least one interview, good practice or event carries."""
    used = Q()
    for through in _THROUGH:
        used |= Q(pk__in=through.objects.values("tag_id"))
    return dict(Tag.objects.filter(used).order_by("name").values_list("slug", "name"))


def topic_choices() -> list[tuple[str, str]]:
    return list(available().items())


def clean_topics(values: Iterable[str], *, known: dict[str, str] | None = None):
    """(topics, unknown): the known slugs among ``values``, sorted and unique, and the rest.

    Matching forgives case and surrounding spaces, and a tag's name works like its slug."""
    known = available() if known is None else known
    by_name = {name.casefold(): slug for slug, name in known.items()}
    chosen, unknown = set(), []
    for value in values:
        if not isinstance(value, str):
            unknown.append(str(value)[:100])
            continue
        key = value.strip()
        slug = key if key in known else key.lower() if key.lower() in known else None
        slug = slug or by_name.get(key.casefold())
        if slug is None:
            unknown.append(key[:100])
        else:
            chosen.add(slug)
    return sorted(chosen), unknown
