"""Blocks that match each reader's topics: the pages shown per topic set, the fallback,
and readers without topics getting the block as composed."""

import pytest

from cms.models import EventPage
from interviews.models import InterviewPage
from newsletters.rendering import matches_reader_topics, render_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def tagged(seeded):
    andrea = InterviewPage.objects.get(slug="andrea-luciana-marcu")
    paivi = InterviewPage.objects.get(slug="paivi-ekdahl")
    andrea.tags.add("Digitalisation")
    andrea.save()
    paivi.tags.add("Gender")
    paivi.save()
    return andrea, paivi


def spotlight(andrea, paivi, *, enabled=True, fallback="composed"):
    return (
        "interview_spotlight",
        {
            "heading": "In the spotlight",
            "interviews": [{"interview": paivi, "quote": ""}, {"interview": andrea, "quote": ""}],
            "topics": {"enabled": enabled, "fallback": fallback},
        },
    )


def names(rendered):
    text = rendered.text.casefold()
    return [n for n in ("Päivi Ekdahl", "Andrea Luciana Marcu") if n.casefold() in text]


def test_spotlight_shows_each_reader_the_interviews_on_their_topics(make_issue, tagged):
    issue = make_issue([spotlight(*tagged)])
    assert matches_reader_topics(issue)
    assert names(render_email(issue)) == ["Päivi Ekdahl", "Andrea Luciana Marcu"]
    for topics, expected in (
        (["digitalisation"], ["Andrea Luciana Marcu"]),
        (["gender"], ["Päivi Ekdahl"]),
        (["digitalisation", "gender"], ["Päivi Ekdahl", "Andrea Luciana Marcu"]),
        (["events"], ["Päivi Ekdahl", "Andrea Luciana Marcu"]),  # none match: as composed
    ):
        rendered = render_email(issue, extra_context={"reader_topics": topics})
        assert names(rendered) == expected, topics


def test_fallback_can_leave_the_block_out(make_issue, tagged):
    issue = make_issue([spotlight(*tagged, fallback="hide")])
    rendered = render_email(issue, extra_context={"reader_topics": ["unrelated"]})
    assert names(rendered) == [] and "IN THE SPOTLIGHT" not in rendered.text
    assert names(render_email(issue)) == ["Päivi Ekdahl", "Andrea Luciana Marcu"]


def test_option_off_ignores_reader_topics(make_issue, tagged):
    issue = make_issue([spotlight(*tagged, enabled=False)])
    assert not matches_reader_topics(issue)
    rendered = render_email(issue, extra_context={"reader_topics": ["gender"]})
    assert names(rendered) == ["Päivi Ekdahl", "Andrea Luciana Marcu"]


def test_upcoming_events_on_the_reader_topics(make_issue, seeded):
    import datetime as dt

    from django.utils import timezone

    # The first two events move into the coming weeks (the demo's may have passed).
    first, second = EventPage.objects.live().order_by("pk")[:2]
    soon = timezone.now() + dt.timedelta(days=10)
    EventPage.objects.filter(pk=first.pk).update(start=soon, end=None)
    EventPage.objects.filter(pk=second.pk).update(start=soon + dt.timedelta(days=5), end=None)
    upcoming = [EventPage.objects.get(pk=first.pk), EventPage.objects.get(pk=second.pk)]
    EventPage.objects.exclude(pk__in=[first.pk, second.pk]).update(
        start=soon - dt.timedelta(days=400), end=None
    )
    later = upcoming[1]
    later.tags.add("Gender")
    later.save()
    issue = make_issue(
        [
            (
                "events",
                {
                    "heading": "Save the date",
                    "source": "upcoming",
                    "count": 1,
                    "topics": {"enabled": True, "fallback": "composed"},
                },
            )
        ]
    )

    def text(**extra):
        return " ".join(render_email(issue, extra_context=extra).text.split())

    composed = text()
    assert upcoming[0].title in composed and later.title not in composed
    mine = text(reader_topics=["gender"])
    assert later.title in mine and upcoming[0].title not in mine
    assert upcoming[0].title in text(reader_topics=["nothing-on-this"])
