from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cms.models import (
    EventIndexPage,
    EventPage,
    GoodPracticeIndexPage,
    GoodPracticePage,
    HomePage,
    Organisation,
)
from interviews.models import InterviewIndexPage, InterviewPage
from newsletters.models import NewsletterIndexPage, NewsletterPage

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("child", "allowed_parents"),
    [
        (InterviewPage, {InterviewIndexPage}),
        (GoodPracticePage, {GoodPracticeIndexPage}),
        (EventPage, {EventIndexPage}),
        (NewsletterPage, {NewsletterIndexPage}),
        (InterviewIndexPage, {HomePage}),
        (GoodPracticeIndexPage, {HomePage}),
        (EventIndexPage, {HomePage}),
        (NewsletterIndexPage, {HomePage}),
    ],
)
def test_each_page_type_lives_only_under_its_parent(child, allowed_parents):
    parents = {
        HomePage,
        InterviewIndexPage,
        GoodPracticeIndexPage,
        EventIndexPage,
        NewsletterIndexPage,
        InterviewPage,
        GoodPracticePage,
        EventPage,
        NewsletterPage,
    }
    for parent in parents:
        allowed = child in parent.allowed_subpage_models()
        assert allowed == (parent in allowed_parents), (child, parent)


def test_seed_tree_refuses_misplaced_pages(seeded):
    events_index = EventIndexPage.objects.get()
    interviews_index = InterviewIndexPage.objects.get()
    assert not InterviewPage.can_create_at(events_index)
    assert InterviewPage.can_create_at(interviews_index)
    # Only one home page and one index of each kind.
    assert not HomePage.can_create_at(seeded["home"].get_parent())
    assert not EventIndexPage.can_create_at(seeded["home"])


def test_event_must_not_end_before_it_starts_and_needs_a_place():
    start = timezone.now()
    event = EventPage(title="E", slug="e", summary="s", start=start, end=start - timedelta(hours=1))
    with pytest.raises(ValidationError) as excinfo:
        event.full_clean()
    assert "end" in excinfo.value.message_dict
    assert "city" in excinfo.value.message_dict
    event.end, event.is_online = start + timedelta(hours=1), True
    event.clean()


def test_upcoming_and_past_events_are_easy_to_tell(seeded):
    upcoming = list(EventPage.objects.live().upcoming())
    past = list(EventPage.objects.live().past())
    assert [e.slug for e in upcoming] == ["virtual-learning-environment-launch"]
    assert upcoming[0].is_upcoming and not upcoming[0].is_past
    assert [e.slug for e in past] == [
        "european-cluster-conference-2024",
        "ewmd-brussels-declaration-online-event",
        "eu-clusters-talks-gender-equality-2024",
    ]
    assert all(e.is_past for e in past)


def test_event_in_progress_counts_as_upcoming(seeded):
    event = EventPage.objects.get(slug="european-cluster-conference-2024")
    now = timezone.now()
    event.start, event.end = now - timedelta(hours=1), now + timedelta(hours=1)
    event.save()
    assert EventPage.objects.upcoming().filter(pk=event.pk).exists()


def test_organisation_is_shared_between_page_types(seeded):
    eccp = Organisation.objects.get(short_name="ECCP")
    assert eccp.events.count() == 1
    penelope = Organisation.objects.get(short_name="PENELOPE")
    assert penelope.good_practices.count() == 1 and penelope.events.count() == 1
