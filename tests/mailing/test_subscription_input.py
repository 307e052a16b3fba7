"""Hostile input on every subscription endpoint: never a 5xx, a 4xx with a JSON message
from the APIs, and nothing changed or lost."""

import json

import pytest
from django.core import signing

from mailing import subscriptions, tokens
from mailing.models import Subscriber, SubscriberEvent, Subscription
from tests.mailing.helpers import SIGNUP, committed

pytestmark = pytest.mark.django_db

DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture
def member(newsletter_list, events_list):
    person = subscriptions.subscribe(
        "reader@example.org", [newsletter_list, events_list], name="Reader", confirmed=True
    ).subscriber
    return person


def state(person):
    """Everything a request could damage about a person."""
    person.refresh_from_db()
    return (
        person.email,
        person.name,
        person.language,
        person.status,
        sorted(person.subscriptions.values_list("mailing_list__slug", "status")),
    )


def post(client, url, body, content_type="application/json"):
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
    with committed(execute=True):
        return client.post(url, data=body, content_type=content_type, REMOTE_ADDR="192.0.2.9")


def assert_json_error(response, status):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] in {"invalid", "invalid_link", "method_not_allowed"}
    assert body["detail"]


# --- the signup API -------------------------------------------------------------------

SIGNUP_400 = {
    "deeply nested JSON": DEEP,
    "nested JSON in a field": '{"email": ' + DEEP + "}",
    "a JSON array": "[]",
    "a JSON string": '"ada@example.org"',
    "JSON null": "null",
    "a JSON number": "1",
    "a huge integer": '{"email": ' + "9" * 5000 + "}",
    "an infinite number": '{"email": 1e999, "lists": ["newsletter"]}',
    "not JSON": "{email: ada}",
    "bad UTF-8": b'{"email": "\xff\xfe@example.org"}',
    "a lone surrogate": '{"email": "\\ud800@example.org", "lists": ["newsletter"]}',
    "email as a number": {"email": 12345, "lists": ["newsletter"]},
    "email as a list": {"email": ["ada@example.org"], "lists": ["newsletter"]},
    "email as an object": {"email": {"$ne": ""}, "lists": ["newsletter"]},
    "email as true": {"email": True, "lists": ["newsletter"]},
    "no email": {"lists": ["newsletter"]},
    "name as an object": {"email": "ada@example.org", "name": {"first": "Ada"}},
    "language as a list": {"email": "ada@example.org", "language": ["en"]},
    "lists as an object": {"email": "ada@example.org", "lists": {"newsletter": True}},
    "lists as a number": {"email": "ada@example.org", "lists": 1},
    "lists nested": {"email": "ada@example.org", "lists": [["newsletter"]]},
    "lists of huge numbers": {"email": "ada@example.org", "lists": [10**30]},
    "too many lists": {"email": "ada@example.org", "lists": ["newsletter"] * 1000},
    "consent as a number": {"email": "ada@example.org", "consent": 1},
    "CRLF in the email": {"email": "ada@example.org\r\nBcc: all@example.org", "lists": []},
    "LF in the email": {"email": "ada@example.org\nX: 1", "lists": ["newsletter"]},
    "CRLF in the name": {"email": "ada@example.org", "name": "Ada\r\nBcc: x@example.org"},
    "a Unicode line separator in the name": {"email": "ada@example.org", "name": "Ada\u2028X"},
    "NUL in the name": {"email": "ada@example.org", "name": "Ada\x00"},
    "NUL in the email": {"email": "ada\x00@example.org", "lists": ["newsletter"]},
    "a zero-width space in the email": {"email": "a\u200bda@example.org", "lists": ["newsletter"]},
    "a right-to-left override in the email": {"email": "ada\u202e@example.org"},
    "a 10,000-character email": {"email": "a" * 10_000 + "@example.org"},
    "a 10,000-character name": {"email": "ada@example.org", "name": "A" * 10_000},
    "a 10,000-character language": {"email": "ada@example.org", "language": "e" * 10_000},
    "an unknown language": {"email": "ada@example.org", "language": "klingon"},
}


@pytest.mark.parametrize("body", SIGNUP_400.values(), ids=SIGNUP_400.keys())
def test_signup_refuses_malformed_input_with_a_json_message(client, newsletter_list, body):
    assert_json_error(post(client, SIGNUP, body), 400)
    assert not Subscriber.objects.exists()


def test_signup_refuses_a_huge_body_unread(client, newsletter_list):
    body = json.dumps({"email": "ada@example.org", "name": "A" * 1_000_000})
    assert_json_error(post(client, SIGNUP, body), 413)


def test_signup_refuses_too_many_form_fields(client, newsletter_list):
    body = "a=&" * 10_001
    response = post(client, SIGNUP, body, content_type="application/x-www-form-urlencoded")
    assert_json_error(response, 400)


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_signup_answers_other_methods_in_json(client, method):
    response = getattr(client, method)(SIGNUP)
    assert_json_error(response, 405)
    assert response["Allow"] == "GET, POST"


def test_signup_with_a_non_string_honeypot_is_a_bot(client, newsletter_list, sync_tasks):
    body = {"email": "ada@example.org", "lists": ["newsletter"], "website": {"a": 1}}
    assert post(client, SIGNUP, body).status_code == 202
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize(
    "address",
    [
        "victim@exаmple.org",  # a Cyrillic a: another domain, not the victim's
        "viсtim@example.org",  # a Cyrillic es in the local part
        "victim@ex\u0430mple.org",
    ],
)
def test_look_alike_letters_are_other_addresses_not_errors(
    client, newsletter_list, sync_tasks, address
):
    subscriptions.suppress("victim@example.org", "bounced")
    response = post(client, SIGNUP, {"email": address, "lists": ["newsletter"]})
    assert response.status_code in {202, 400}
    assert not Subscriber.objects.by_email("victim@example.org").exists()


def test_a_forged_client_ip_header_is_not_stored(client, newsletter_list, sync_tasks, settings):
    settings.SUBSCRIPTION_CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    with committed(execute=True):
        response = client.post(
            SIGNUP,
            data=json.dumps({"email": "ada@example.org", "lists": ["newsletter"]}),
            content_type="application/json",
            HTTP_X_REAL_IP="not-an-address\x00",
            HTTP_ORIGIN="https://www.example.org\x00",
        )
    assert response.status_code == 202
    subscription = Subscription.objects.get()
    assert subscription.ip_address is None
    assert "\x00" not in subscription.source


# --- the token APIs ---------------------------------------------------------------------


def bad_tokens(purpose, person):
    good = tokens.make_token(purpose, person.pk)
    other = tokens.PREFERENCES if purpose != tokens.PREFERENCES else tokens.UNSUBSCRIBE
    return {
        "tampered": good[:-4] + "AAAA",
        "forged with another key": signing.dumps(
            {"s": person.pk}, key="guessed-key", salt=f"mailing.{purpose}"
        ),
        "of another purpose": tokens.make_token(other, person.pk),
        "unsigned": "eyJzIjoxfQ",
        "huge": "A" * 10_000,
        "with CRLF": "abc%0D%0AX-Header:%201",
        "with NUL": "abc%00def",
        "Unicode": "ｔｏｋｅｎ",
        "an unknown subscriber": tokens.make_token(purpose, person.pk + 1000),
    }


TOKEN_APIS = [
    ("confirm", tokens.CONFIRM, "post", ""),
    ("unsubscribe", tokens.UNSUBSCRIBE, "post", ""),
    ("preferences", tokens.PREFERENCES, "get", ""),
    ("preferences", tokens.PREFERENCES, "post", ""),
    ("preferences", tokens.PREFERENCES, "get", "data/"),
    ("preferences", tokens.PREFERENCES, "post", "erase/"),
]


@pytest.mark.parametrize(("path", "purpose", "method", "tail"), TOKEN_APIS)
@pytest.mark.parametrize(
    "kind",
    [
        "tampered",
        "forged with another key",
        "of another purpose",
        "unsigned",
        "huge",
        "with CRLF",
        "with NUL",
        "Unicode",
        "an unknown subscriber",
    ],
)
def test_token_apis_refuse_bad_tokens(client, member, path, purpose, method, tail, kind):
    before = state(member)
    token = bad_tokens(purpose, member)[kind]
    response = getattr(client, method)(f"/api/subscriptions/{path}/{token}/{tail}")
    assert_json_error(response, 404)
    assert state(member) == before


def test_an_expired_confirmation_token_is_refused(client, newsletter_list, settings):
    person = subscriptions.subscribe("late@example.org", [newsletter_list]).subscriber
    token = tokens.make_token(tokens.CONFIRM, person.pk, newsletter_list.pk)
    settings.SUBSCRIPTION_CONFIRM_MAX_AGE = -1
    assert_json_error(client.post(f"/api/subscriptions/confirm/{token}/"), 404)
    assert person.subscriptions.get().status == Subscription.Status.PENDING


@pytest.mark.parametrize(
    ("path", "purpose", "method", "tail"),
    [
        ("confirm", tokens.CONFIRM, "get", ""),
        ("unsubscribe", tokens.UNSUBSCRIBE, "delete", ""),
        ("preferences", tokens.PREFERENCES, "put", ""),
        ("preferences", tokens.PREFERENCES, "post", "data/"),
        ("preferences", tokens.PREFERENCES, "get", "erase/"),
    ],
)
def test_token_apis_answer_wrong_methods_in_json(client, member, path, purpose, method, tail):
    token = tokens.make_token(purpose, member.pk)
    assert_json_error(getattr(client, method)(f"/api/subscriptions/{path}/{token}/{tail}"), 405)


PREFERENCES_400 = {
    "deeply nested JSON": DEEP,
    "a JSON array": '["events"]',
    "JSON null": "null",
    "not JSON": "{name: x}",
    "bad UTF-8": b'{"name": "\xff"}',
    "a huge integer": '{"name": ' + "9" * 5000 + "}",
    "name as an object": {"name": {"x": 1}},
    "name as a number": {"name": 1e308},
    "language as a list": {"language": ["de"]},
    "an unknown language": {"language": "xx-invalid"},
    "a 10,000-character language": {"language": "d" * 10_000},
    "lists as a string": {"lists": "events"},
    "lists as an object": {"lists": {"events": 1}},
    "lists of numbers": {"lists": [1, 2]},
    "lists of huge numbers": {"lists": [10**40]},
    "too many lists": {"lists": ["events"] * 1000},
    "an unknown list": {"lists": ["events", "nope"], "name": "Changed"},
    "CRLF in the name": {"name": "Reader\r\nBcc: all@example.org"},
    "NUL in the name": {"name": "Reader\x00"},
    "a lone surrogate in the name": '{"name": "\\udfff"}',
    "a 10,000-character name": {"name": "R" * 10_000},
}


@pytest.mark.parametrize("body", PREFERENCES_400.values(), ids=PREFERENCES_400.keys())
def test_preferences_api_refuses_malformed_input_and_changes_nothing(client, member, body):
    before = state(member)
    token = tokens.make_token(tokens.PREFERENCES, member.pk)
    assert_json_error(post(client, f"/api/subscriptions/preferences/{token}/", body), 400)
    assert state(member) == before
    assert not member.events.filter(kind=SubscriberEvent.Kind.PREFERENCES_CHANGED).exists()


def test_preferences_api_refuses_a_huge_body(client, member):
    token = tokens.make_token(tokens.PREFERENCES, member.pk)
    body = json.dumps({"name": "R" * 1_000_000})
    assert_json_error(post(client, f"/api/subscriptions/preferences/{token}/", body), 413)
    assert member.name == "Reader"


# --- the hosted pages ------------------------------------------------------------------

PAGES = [
    ("confirm", tokens.CONFIRM, ""),
    ("unsubscribe", tokens.UNSUBSCRIBE, ""),
    ("preferences", tokens.PREFERENCES, ""),
    ("preferences", tokens.PREFERENCES, "data/"),
    ("preferences", tokens.PREFERENCES, "erase/"),
]


@pytest.mark.parametrize(("path", "purpose", "tail"), PAGES)
@pytest.mark.parametrize("kind", ["tampered", "forged with another key", "huge", "with NUL"])
def test_hosted_pages_refuse_bad_tokens(client, member, path, purpose, tail, kind):
    before = state(member)
    token = bad_tokens(purpose, member)[kind]
    for method in ("get", "post"):
        response = getattr(client, method)(f"/subscriptions/{path}/{token}/{tail}")
        assert response.status_code in {404, 405}
        if response.status_code == 404:
            assert b"This link does not work" in response.content
    assert state(member) == before


PREFERENCE_FORMS = {
    "a list that is no number": {"lists": ["abc"]},
    "a list of a huge number": {"lists": ["9" * 40]},
    "a negative list": {"lists": ["-1"]},
    "CRLF in the name": {"name": "Reader\r\nBcc: all@example.org"},
    "NUL in the name": {"name": "Reader\x00"},
    "a 10,000-character name": {"name": "R" * 10_000},
    "an unknown language": {"language": "klingon"},
}


@pytest.mark.parametrize("fields", PREFERENCE_FORMS.values(), ids=PREFERENCE_FORMS.keys())
def test_preference_centre_shows_the_error_and_changes_nothing(client, member, events_list, fields):
    before = state(member)
    token = tokens.make_token(tokens.PREFERENCES, member.pk)
    data = {"action": "save", "name": "Reader", "language": "en", "lists": [events_list.pk]}
    response = client.post(f"/subscriptions/preferences/{token}/", {**data, **fields})
    assert response.status_code == 400
    assert b"Please correct the errors below." in response.content
    assert state(member) == before


@pytest.mark.parametrize(
    ("path", "purpose"), [("preferences", tokens.PREFERENCES), ("unsubscribe", tokens.UNSUBSCRIBE)]
)
def test_hosted_pages_refuse_huge_and_crowded_bodies(client, member, path, purpose):
    before = state(member)
    url = f"/subscriptions/{path}/{tokens.make_token(purpose, member.pk)}/"
    huge = client.post(url, {"name": "R" * 3_000_000})
    crowded = client.post(url, "a=&" * 10_001, "application/x-www-form-urlencoded")
    assert (huge.status_code, crowded.status_code) == (400, 400)
    assert state(member) == before
