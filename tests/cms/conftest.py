"""Fixtures of the content API tests: extra pages, an API client that reads JSON."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from cms.models import EventIndexPage, EventPage, GoodPracticeIndexPage, GoodPracticePage
from interviews.models import InterviewIndexPage, InterviewPage


@pytest.fixture
def api(client):
    """GET a JSON endpoint; returns (response, parsed body or None)."""

    def get(url, **headers):
        response = client.get(url, **{f"HTTP_{k.upper()}": v for k, v in headers.items()})
        body = (
            json.loads(response.content)
            if response.get("Content-Type", "").startswith("application/json") and response.content
            else None
        )
        return response, body

    return get


@pytest.fixture
def no_response_cache(settings):
    """Measure the real work: no rendered response served from the cache."""
    settings.API_CACHE_TIMEOUT = 0


def publish(page):
    page.save_revision().publish()
    return page


@pytest.fixture
def make_pages(seeded):
    """Create `n` published pages of each content type, with every relation filled in."""
    interviews_index = InterviewIndexPage.objects.get()
    practices_index = GoodPracticeIndexPage.objects.get()
    events_index = EventIndexPage.objects.get()
    org = seeded["organisations"]["AMBIT"]
    portrait = seeded["interviews"][0].portrait
    cover = seeded["handbook"].cover_image
    pdf = seeded["handbook_pdf"]
    target = seeded["interviews"][1]

    def body(i):
        return [
            (
                "paragraph",
                f'<p>See <a linktype="page" id="{target.pk}">an interview</a> and '
                f'<a linktype="document" id="{pdf.pk}">the handbook</a> ({i}).</p>',
            ),
            ("image", {"image": cover, "alt_text": f"Cover {i}", "caption": ""}),
            ("document", {"document": pdf, "label": "Download"}),
        ]

    def make(n, prefix="extra"):
        created = []
        for i in range(n):
            interview = InterviewPage(
                title=f"Interview {prefix} {i}",
                slug=f"{prefix}-interview-{i}",
                interviewee_name=f"Person {i}",
                role="Manager",
                organisation=org,
                country="IT",
                portrait=portrait,
                pull_quote="A quote.",
                intro=f'<p>Intro with <a linktype="page" id="{target.pk}">a link</a>.</p>',
                body=body(i)
                + [("question_answer", {"question": "Why?", "answer": "<p>Because.</p>"})],
            )
            interviews_index.add_child(instance=interview)
            interview.tags.add("gender", f"tag-{i % 3}")
            practice = GoodPracticePage(
                title=f"Practice {prefix} {i}",
                slug=f"{prefix}-practice-{i}",
                summary="A practice.",
                organisation=org,
                country="FR",
                cover_image=cover,
                body=body(i),
            )
            practices_index.add_child(instance=practice)
            practice.tags.add("gender")
            practice.documents.create(document=pdf, label="Download")
            practice.links.create(title="Elsewhere", url="https://example.com/")
            event = EventPage(
                title=f"Event {prefix} {i}",
                slug=f"{prefix}-event-{i}",
                start=timezone.now() + timedelta(days=30 + i),
                is_online=True,
                organiser=org,
                cover_image=cover,
                summary="An event.",
                body=body(i),
            )
            events_index.add_child(instance=event)
            event.tags.add("gender")
            created += [publish(interview), publish(practice), publish(event)]
        return created

    return make
