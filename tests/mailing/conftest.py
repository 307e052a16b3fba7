"""Fixtures for the mailing tests: the lists subscribers join, in-process tasks, and
rate limits that start afresh in every test."""

import pytest
from django.core.cache import cache

from tests.mailing.factories import MailingListFactory


@pytest.fixture
def newsletter_list(db):
    return MailingListFactory(
        name="PENELOPE newsletter",
        slug="newsletter",
        description="News, interviews and events.",
        consent_text="I agree to receive the PENELOPE newsletter.",
        from_name="PENELOPE",
        from_email="newsletter@example.org",
    )


@pytest.fixture
def events_list(db):
    return MailingListFactory(name="Event invitations", slug="events")


@pytest.fixture
def internal_list(db):
    return MailingListFactory(name="Partners only", slug="partners", is_public=False)


@pytest.fixture
def sync_tasks(monkeypatch):
    """django-q2 tasks run in-process instead of waiting for a worker."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Signup rate limits live in the cache: no test inherits another's attempts."""
    cache.clear()
    yield
    cache.clear()
