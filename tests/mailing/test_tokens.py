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


@pytest.mark.parametrize(
    "args",
    [(42,), (42, 7), (42, 7, 9001), (42, None, 9001), (0, 0), (2**62, 2**31, 10**15)],
)
@pytest.mark.parametrize("purpose", sorted(tokens.PURPOSES))
def test_tokens_are_byte_for_byte_what_django_signing_makes(purpose, args, monkeypatch):
    """The fast signer behind every message's links writes Django's format exactly."""
    monkeypatch.setattr(time, "time", lambda: 1_790_000_123.7)
    payload = {"s": args[0]}
    if len(args) > 1 and args[1] is not None:
        payload["l"] = args[1]
    if len(args) > 2 and args[2]:
        payload["d"] = args[2]
    expected = signing.dumps(payload, salt=f"mailing.{purpose}", compress=False)
    token = tokens.make_token(purpose, *args)
    assert token == expected
    assert signing.loads(token, salt=f"mailing.{purpose}") == payload


def test_fast_tokens_follow_a_new_secret_key_and_its_fallbacks(settings, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_790_000_123.7)  # one second for both
    old = tokens.make_token(tokens.UNSUBSCRIBE, 42, 7)
    previous = settings.SECRET_KEY
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    new = tokens.make_token(tokens.UNSUBSCRIBE, 42, 7)
    assert new != old
    assert new == signing.dumps({"s": 42, "l": 7}, salt="mailing.unsubscribe")
    with pytest.raises(tokens.InvalidToken):
        tokens.read_token(tokens.UNSUBSCRIBE, old)
    settings.SECRET_KEY_FALLBACKS = [previous]
    assert tokens.read_token(tokens.UNSUBSCRIBE, old) == (42, 7)
    assert tokens.read_token(tokens.UNSUBSCRIBE, new) == (42, 7)


def test_a_payload_that_is_not_plain_ints_goes_through_django_signing():
    token = tokens.make_token(tokens.UNSUBSCRIBE, True, 7)  # a bool is not an int here
    assert signing.loads(token, salt="mailing.unsubscribe") == {"s": True, "l": 7}


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
