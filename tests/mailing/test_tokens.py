import time

import pytest
from django.core import signing

from mailing import tokens


def test_token_round_trip_is_bound_to_subscriber_and_list():
    token = tokens.make_token(tokens.UNSUBSCRIBE, 42, 7)
    assert tokens.read_token(tokens.UNSUBSCRIBE, token) == (42, 7)
    assert tokens.read_token(tokens.PREFERENCES, tokens.make_token(tokens.PREFERENCES, 42)) == (
        42,
        None,
    )


def test_token_of_another_purpose_is_refused():
    token = tokens.make_token(tokens.PREFERENCES, 42)
    with pytest.raises(tokens.InvalidToken):
        tokens.read_token(tokens.UNSUBSCRIBE, token)


def test_tampered_token_is_refused():
    token = tokens.make_token(tokens.UNSUBSCRIBE, 42)
    forged = signing.dumps({"s": 43}, salt="another-salt")
    for bad in (token[:-2] + "xx", forged, "", "not-a-token"):
        with pytest.raises(tokens.InvalidToken):
            tokens.read_token(tokens.UNSUBSCRIBE, bad)


def test_confirmation_token_expires():
    token = tokens.make_token(tokens.CONFIRM, 42, 1)
    assert tokens.read_token(tokens.CONFIRM, token) == (42, 1)
    time.sleep(1.1)
    with pytest.raises(tokens.InvalidToken):
        tokens.read_token(tokens.CONFIRM, token, max_age=1)


def test_urls_are_absolute_and_follow_the_contract(settings):
    settings.SITE_URL = "https://cms.example.org"
    url = tokens.unsubscribe_url(5, 2)
    assert url.startswith("https://cms.example.org/subscriptions/unsubscribe/")
    assert url.endswith("/")


@pytest.mark.django_db
def test_suppressed_addresses_are_excluded_whatever_their_case():
    from mailing.models import Subscriber, Suppression
    from tests.mailing.factories import SubscriberFactory

    kept = SubscriberFactory(email="Kept@Example.org")
    gone = SubscriberFactory(email="Gone@Example.ORG")
    Suppression.add("gone@example.org", Suppression.Reason.HARD_BOUNCE)
    assert list(Subscriber.objects.not_suppressed()) == [kept]
    assert gone.email == "Gone@example.org"
