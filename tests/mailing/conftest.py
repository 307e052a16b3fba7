"""Fixtures for the mailing tests: the lists subscribers join, in-process tasks, and
rate limits that start afresh in every test."""

import pytest
from django.core.cache import cache

from tests.dovecot import dovecot_server  # noqa: F401 - IMAP/POP3 on loopback
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


@pytest.fixture
def address_in_each_state(newsletter_list):
    """One address per state a signup can meet: {state: address}, all the same length so
    that nothing but the state differs between them."""
    from mailing import subscriptions
    from mailing.models import Suppression

    def on_list(address, **kwargs):
        return subscriptions.subscribe(
            address, [newsletter_list], send_confirmation_email=False, **kwargs
        ).subscriber

    on_list("pending1@example.org")
    on_list("confirm1@example.org", confirmed=True)
    subscriptions.unsubscribe(on_list("unsubsc1@example.org", confirmed=True))
    subscriptions.suppress("suppres1@example.org", Suppression.Reason.HARD_BOUNCE)
    subscriptions.erase(on_list("erasedd1@example.org", confirmed=True))
    return {
        "new": "newaddr1@example.org",
        "pending": "pending1@example.org",
        "confirmed": "confirm1@example.org",
        "unsubscribed": "unsubsc1@example.org",
        "suppressed": "suppres1@example.org",
        "erased": "erasedd1@example.org",
    }
