import json
import re

import pytest

from mailing import subscriptions, tokens
from mailing.models import Subscriber, SubscriberEvent, Suppression
from tests.mailing.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(newsletter_list, events_list):
    subscriber = SubscriberFactory(email="reader@example.org", name="Reader", language="en")
    for mailing_list in (newsletter_list, events_list):
        subscriptions.subscribe(subscriber.email, [mailing_list], confirmed=True, source="test")
    return subscriber


def statuses(subscriber):
    return dict(subscriber.subscriptions.values_list("mailing_list__slug", "status"))


def path_of(url):
    return re.sub(r"^https?://[^/]+", "", url)


def test_unsubscribe_get_does_nothing_post_does(client, member, newsletter_list):
    path = path_of(tokens.unsubscribe_url(member.pk, newsletter_list.pk))
    page = client.get(path)
    assert page.status_code == 200
    assert b"Yes, unsubscribe me" in page.content and b"PENELOPE newsletter" in page.content
    assert statuses(member) == {"newsletter": "confirmed", "events": "confirmed"}

    done = client.post(path)
    assert done.status_code == 200 and b"You are unsubscribed" in done.content
    # Only the list the link was for.
    assert statuses(member) == {"newsletter": "unsubscribed", "events": "confirmed"}
    event = member.events.get(kind=SubscriberEvent.Kind.UNSUBSCRIBED)
    assert event.mailing_list == newsletter_list and event.source == "unsubscribe page"
    # Again: harmless.
    assert client.post(path).status_code == 200
    assert member.events.filter(kind="unsubscribed").count() == 1


def test_one_click_unsubscribe_rfc_8058(member, newsletter_list, django_assert_max_num_queries):
    from django.test import Client

    # Mail providers post without cookies or CSRF token.
    client = Client(enforce_csrf_checks=True)
    path = path_of(tokens.unsubscribe_url(member.pk, newsletter_list.pk))
    with django_assert_max_num_queries(8):
        response = client.post(
            path,
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code == 200
    assert statuses(member)["newsletter"] == "unsubscribed"
    assert member.events.get(kind="unsubscribed").source == "one-click"


def test_unsubscribe_link_without_list_leaves_everything(client, member):
    client.post(path_of(tokens.unsubscribe_url(member.pk)))
    assert set(statuses(member).values()) == {"unsubscribed"}


def test_confirm_link_does_not_resubscribe_after_unsubscribing(client, newsletter_list):
    result = subscriptions.subscribe("changed-mind@example.org", [newsletter_list])
    subscriptions.unsubscribe(result.subscriber, source="test")
    client.post(path_of(tokens.confirm_url(result.subscriber.pk, newsletter_list.pk)))
    assert statuses(result.subscriber) == {"newsletter": "unsubscribed"}


def test_preferences_page_changes_lists_name_and_language(
    client, member, newsletter_list, events_list, internal_list
):
    path = path_of(tokens.preferences_url(member.pk))
    page = client.get(path)
    assert page.status_code == 200
    content = page.content.decode()
    assert "reader@example.org" in content
    assert "Event invitations" in content and "Partners only" not in content

    response = client.post(
        path,
        {"action": "save", "name": "Ada Reader", "language": "de", "lists": [events_list.pk]},
    )
    assert response.status_code == 200 and b"Your preferences are saved" in response.content
    member.refresh_from_db()
    assert (member.name, member.language) == ("Ada Reader", "de")
    assert statuses(member) == {"newsletter": "unsubscribed", "events": "confirmed"}
    change = member.events.get(kind="preferences_changed")
    assert change.detail["left"] == ["newsletter"]

    # Joining a public list again from the preference centre confirms it (the link
    # arrived by email) and records the consent.
    client.post(
        path,
        {
            "action": "save",
            "name": "Ada Reader",
            "language": "de",
            "lists": [events_list.pk, newsletter_list.pk],
        },
    )
    assert statuses(member) == {"newsletter": "confirmed", "events": "confirmed"}
    # An internal list cannot be joined by forging the form.
    client.post(path, {"action": "save", "name": "", "language": "de", "lists": [internal_list.pk]})
    assert "partners" not in statuses(member)


def test_preferences_unsubscribe_from_everything(client, member):
    path = path_of(tokens.preferences_url(member.pk))
    client.post(path, {"action": "unsubscribe_all"})
    assert set(statuses(member).values()) == {"unsubscribed"}


def test_download_my_data(client, member):
    path = path_of(tokens.preferences_url(member.pk))
    response = client.get(path + "data/")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["email"] == "reader@example.org"
    assert {s["list"] for s in data["subscriptions"]} == {"newsletter", "events"}
    assert data["subscriptions"][0]["consent_text"] == "I agree to receive the PENELOPE newsletter."
    assert [e["event"] for e in data["history"]][:2] == ["subscribed", "confirmed"]


def test_erase_me_then_links_die_and_address_is_suppressed(client, member, newsletter_list):
    path = path_of(tokens.preferences_url(member.pk))
    confirm_page = client.get(path + "erase/")
    assert confirm_page.status_code == 200 and b"cannot be undone" in confirm_page.content
    assert Subscriber.objects.filter(email="reader@example.org").exists()

    response = client.post(path + "erase/")
    assert response.status_code == 200 and b"Your data is erased" in response.content
    member.refresh_from_db()
    assert member.status == Subscriber.Status.ERASED
    assert "reader" not in member.email and member.name == ""
    assert not Subscriber.objects.filter(email__icontains="reader").exists()
    assert Suppression.is_suppressed("READER@example.org")
    assert Suppression.objects.get().reason == Suppression.Reason.ERASED
    assert set(statuses(member).values()) == {"unsubscribed"}
    assert not member.subscriptions.exclude(ip_address=None).exists()
    # Every link of the erased person now says nothing.
    assert client.get(path).status_code == 404
    assert client.get(path_of(tokens.unsubscribe_url(member.pk))).status_code == 404
    # Signing up again is accepted and ignored.
    again = client.post(
        "/api/subscriptions/",
        data=json.dumps({"email": "reader@example.org", "lists": ["newsletter"]}),
        content_type="application/json",
    )
    assert again.status_code == 202
    assert Subscriber.objects.count() == 1


def test_json_endpoints_for_sites_with_their_own_pages(client, member, newsletter_list):
    token = tokens.make_token(tokens.PREFERENCES, member.pk)
    base = f"/api/subscriptions/preferences/{token}/"
    prefs = client.get(base).json()
    assert prefs["name"] == "Reader"
    assert {lst["slug"]: lst["status"] for lst in prefs["lists"]} == {
        "events": "confirmed",
        "newsletter": "confirmed",
    }
    updated = client.post(
        base,
        data=json.dumps({"name": "R.", "language": "es", "lists": ["events"]}),
        content_type="application/json",
    )
    assert updated.status_code == 200
    assert updated.json()["name"] == "R." and updated.json()["language"] == "es"
    assert statuses(member) == {"newsletter": "unsubscribed", "events": "confirmed"}
    bad = client.post(base, data=json.dumps({"lists": ["nope"]}), content_type="application/json")
    assert bad.status_code == 400

    assert client.get(base + "data/").json()["email"] == "reader@example.org"

    unsub = tokens.make_token(tokens.UNSUBSCRIBE, member.pk)
    response = client.post(f"/api/subscriptions/unsubscribe/{unsub}/")
    assert response.json() == {"status": "unsubscribed", "changed": 1}

    assert client.post(base + "erase/").json() == {"status": "erased"}
    assert client.get(base).status_code == 404


def test_confirm_json_endpoint(client, newsletter_list):
    result = subscriptions.subscribe("api@example.org", [newsletter_list])
    token = tokens.make_token(tokens.CONFIRM, result.subscriber.pk, newsletter_list.pk)
    first = client.post(f"/api/subscriptions/confirm/{token}/").json()
    second = client.post(f"/api/subscriptions/confirm/{token}/").json()
    assert (first["changed"], second["changed"]) == (1, 0)


def test_suppress_records_bounce_in_history(newsletter_list):
    result = subscriptions.subscribe("bouncy@example.org", [newsletter_list], confirmed=True)
    subscriptions.suppress("Bouncy@Example.org", Suppression.Reason.HARD_BOUNCE, source="webhook")
    assert subscriptions.is_suppressed("bouncy@example.org")
    assert result.subscriber.events.filter(kind="bounced").exists()
    assert not Subscriber.objects.not_suppressed().filter(pk=result.subscriber.pk).exists()


def test_token_endpoints_need_no_csrf_cookie(member, newsletter_list):
    """External sites and mail providers call these without Django's CSRF cookie."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    signup = client.post(
        "/api/subscriptions/",
        data=json.dumps({"email": "x@example.org", "lists": ["newsletter"]}),
        content_type="application/json",
    )
    assert signup.status_code == 202
    token = tokens.make_token(tokens.PREFERENCES, member.pk)
    prefs = client.post(
        f"/api/subscriptions/preferences/{token}/",
        data=json.dumps({"name": "No Cookie"}),
        content_type="application/json",
    )
    assert prefs.status_code == 200 and prefs.json()["name"] == "No Cookie"
    unsub = tokens.make_token(tokens.UNSUBSCRIBE, member.pk, newsletter_list.pk)
    assert client.post(f"/api/subscriptions/unsubscribe/{unsub}/").status_code == 200
    # The hosted preference form, on the other hand, is protected like any form.
    assert (
        client.post(f"/subscriptions/preferences/{token}/", {"action": "save"}).status_code == 403
    )


def test_who_a_send_reaches(newsletter_list, events_list):
    def on(address, *lists, confirmed=True):
        return subscriptions.subscribe(
            address, lists, confirmed=confirmed, send_confirmation_email=False
        ).subscriber

    both = on("both@example.org", newsletter_list, events_list)
    on("pending@example.org", newsletter_list, confirmed=False)
    left = on("left@example.org", newsletter_list)
    subscriptions.unsubscribe(left, source="test")
    on("bounced@example.org", newsletter_list)
    subscriptions.suppress("bounced@example.org", Suppression.Reason.HARD_BOUNCE)
    erased = on("erased@example.org", newsletter_list)
    subscriptions.erase(erased)
    events_only = on("events@example.org", events_list)

    reached = Subscriber.objects.receiving([newsletter_list, events_list])
    assert sorted(s.pk for s in reached) == sorted([both.pk, events_only.pk])
    assert list(Subscriber.objects.receiving([newsletter_list])) == [both]


def test_confirmation_is_not_sent_once_the_address_is_suppressed(newsletter_list):
    from django.core import mail

    result = subscriptions.subscribe(
        "soon-bounced@example.org", [newsletter_list], send_confirmation_email=False
    )
    subscriptions.suppress("soon-bounced@example.org", Suppression.Reason.COMPLAINT)
    assert subscriptions.send_confirmation(result.subscriber.pk, [newsletter_list.pk]) is False
    assert not mail.outbox


@pytest.mark.parametrize("purpose", [tokens.CONFIRM, tokens.UNSUBSCRIBE, tokens.PREFERENCES])
def test_hosted_pages_keep_their_token_to_themselves(client, member, purpose):
    """Header and page agree on same-origin: Chromium sends the Origin with the page's own
    posts (no-referrer made it "null", which Django's CSRF check refuses) and no Referer
    to other sites."""
    response = client.get(path_of(tokens.page_url(purpose, member.pk)))
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "same-origin"
    assert b'<meta name="referrer" content="same-origin">' in response.content
