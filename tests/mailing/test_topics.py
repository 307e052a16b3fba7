"""Topics readers choose: offered from the CMS's tags, taken by the signup API, changed in
the preference centre (page and JSON), cleared on erasure, and selected by segments."""

import json

import pytest

from interviews.models import InterviewPage
from mailing import segments, subscriptions, tokens, topics
from mailing.models import Subscriber
from tests.mailing.helpers import signup

pytestmark = pytest.mark.django_db


@pytest.fixture
def tagged(seeded):
    """Two interviews tagged: "Digitalisation" and "Gender equality" are topics in use."""
    first, second = InterviewPage.objects.order_by("pk")[:2]
    first.tags.add("Digitalisation")
    first.save()
    second.tags.add("Gender equality", "Digitalisation")
    second.save()
    return seeded


@pytest.fixture
def newsletter_list(tagged):
    """The demo list (slug "newsletter")."""
    return tagged["mailing_list"]


def path_of(url):
    return "/" + url.split("/", 3)[3]


def test_topics_offered_are_the_tags_pages_use(tagged):
    from taggit.models import Tag

    Tag.objects.create(name="Unused", slug="unused")
    assert topics.available() == {
        "digitalisation": "Digitalisation",
        "gender-equality": "Gender equality",
    }
    chosen, unknown = topics.clean_topics(
        [" Digitalisation ", "gender-equality", "GENDER-EQUALITY", "unused", "x"]
    )
    assert chosen == ["digitalisation", "gender-equality"]
    assert unknown == ["unused", "x"]


def test_signup_api_lists_and_accepts_topics(client, tagged, newsletter_list, sync_tasks):
    listing = client.get("/api/subscriptions/").json()
    assert {"slug": "digitalisation", "name": "Digitalisation"} in listing["topics"]
    response = signup(
        client,
        email="reader@example.org",
        lists=["newsletter"],
        topics=["gender-equality", "Digitalisation"],
    )
    assert response.status_code == 202
    subscriber = Subscriber.objects.get(email="reader@example.org")
    assert subscriber.topics == ["digitalisation", "gender-equality"]


@pytest.mark.parametrize(
    ("value", "status", "message"),
    [
        (["no-such-topic"], 400, "Unknown topic: no-such-topic"),
        (["digitalisation", "\u0434igitalisation"], 400, "Unknown topic"),
        ([1, 2], 400, "list of names"),
        ({"a": 1}, 400, "list of names"),
        (["x"] * 51, 400, "Too many topics"),
        (["digitalisation\r\nBcc: x"], 400, "Unknown topic"),
        ("digitalisation", 202, ""),
        ([], 202, ""),
        (None, 202, ""),
    ],
)
def test_signup_api_refuses_unknown_or_malformed_topics(
    client, tagged, newsletter_list, value, status, message
):
    response = signup(client, email="t@example.org", lists=["newsletter"], topics=value)
    assert response.status_code == status, response.content
    if message:
        assert message in json.dumps(response.json())


def test_preference_centre_changes_topics_and_country(client, tagged, newsletter_list):
    result = subscriptions.subscribe(
        "pref@example.org", [newsletter_list], confirmed=True, send_confirmation_email=False
    )
    subscriber = result.subscriber
    url = path_of(tokens.preferences_url(subscriber.pk))
    page = client.get(url)
    assert b'id="topics"' in page.content and b"Gender equality" in page.content
    response = client.post(
        url,
        {
            "action": "save",
            "lists": [newsletter_list.pk],
            "name": "Pref",
            "language": "it",
            "topics": ["gender-equality"],
            "country": "IT",
        },
    )
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.topics == ["gender-equality"]
    assert subscriber.country == "IT"
    forged = client.post(
        url, {"action": "save", "language": "it", "topics": ["nope"], "country": "ZZ"}
    )
    assert forged.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.topics == ["gender-equality"]
    selected = segments.conditions_q([("topics", {"topics": ["gender-equality"], "match": "any"})])
    assert list(Subscriber.objects.filter(selected)) == [subscriber]


def test_preferences_api_reads_and_sets_topics(client, tagged, newsletter_list):
    subscriber = subscriptions.subscribe(
        "api@example.org", [newsletter_list], confirmed=True, send_confirmation_email=False
    ).subscriber
    token = tokens.preferences_url(subscriber.pk).rstrip("/").rsplit("/", 1)[-1]
    url = f"/api/subscriptions/preferences/{token}/"
    assert client.get(url).json()["topics"] == []
    response = client.post(
        url, json.dumps({"topics": ["digitalisation"]}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["topics"] == ["digitalisation"]
    bad = client.post(url, json.dumps({"topics": ["nope"]}), content_type="application/json")
    assert bad.status_code == 400
    assert "Unknown topic: nope" in json.dumps(bad.json())
    assert (
        client.post(url, json.dumps({"topics": "x"}), content_type="application/json").status_code
        == 400
    )


def test_erasure_clears_topics_and_country(tagged, newsletter_list):
    subscriber = subscriptions.subscribe(
        "gone@example.org",
        [newsletter_list],
        confirmed=True,
        send_confirmation_email=False,
        topics=["digitalisation"],
    ).subscriber
    subscriber.country = "FR"
    subscriber.save()
    subscriptions.erase(subscriber, source="test")
    subscriber.refresh_from_db()
    assert subscriber.topics == [] and subscriber.country == ""
