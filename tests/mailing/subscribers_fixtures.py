"""Fixtures shared by the subscriber tests (imported explicitly by those modules)."""

import re

import pytest
from django.core.cache import cache

from mailing.models import MailingList


@pytest.fixture
def newsletter_list(db):
    return MailingList.objects.create(
        name="PENELOPE newsletter",
        slug="newsletter",
        description="News, interviews and events.",
        consent_text="I agree to receive the PENELOPE newsletter.",
        from_name="PENELOPE",
        from_email="newsletter@example.org",
    )


@pytest.fixture
def events_list(db):
    return MailingList.objects.create(name="Event invitations", slug="events")


@pytest.fixture
def internal_list(db):
    return MailingList.objects.create(name="Partners only", slug="partners", is_public=False)


@pytest.fixture
def sync_tasks(monkeypatch):
    """django-q2 tasks run in-process instead of waiting for a worker."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def link_in(message, action):
    """The /subscriptions/<action>/<token>/ link in a message's text part, as a path."""
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(rf"https?://[^/\s]+(/subscriptions/{action}/[^\s]+/)", body)
    assert match, body
    return match.group(1)
