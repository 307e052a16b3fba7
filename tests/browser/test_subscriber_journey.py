"""A subscriber's whole life in Debian's Chromium: signup through the API, the confirmation
email's link, issue #3 in the inbox, its preferences and unsubscribe links, the data
download and erasure, every link read out of mail a loopback SMTP server received.
"""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from mailing import campaigns, tokens
from mailing.models import Subscriber, SubscriberEvent, Subscription, Suppression
from tests.mailing.factories import MailingListFactory, SubscriptionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def link(message, action):
    """The absolute /subscriptions/<action>/<token>/ link in a message's plain text."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(rf"https?://\S+/subscriptions/{action}/[^/\s]+/", text)
    assert match, text
    return match.group(0)


def to(messages, address):
    (message,) = [m for m in messages if m["To"].addresses[0].addr_spec.lower() == address]
    return message


def test_a_subscriber_from_signup_to_erasure(live_site, browser_page, seeded):
    page, smtp, site = browser_page, live_site["smtp"], live_site["url"]
    newsletter = seeded["mailing_list"]
    MailingListFactory(name="Event invitations", slug="events")

    # Signup on an external site: the API answers 202, the worker sends one email.
    answer = page.request.post(
        f"{site}/api/subscriptions/",
        data={"email": "Ada.Lovelace@Example.ORG", "name": "Ada", "lists": ["newsletter"]},
    )
    assert answer.status == 202
    (confirmation,) = smtp.wait_for(1)
    assert confirmation["To"].addresses[0].addr_spec == "Ada.Lovelace@example.org"
    ada = Subscriber.objects.get(email="Ada.Lovelace@example.org")
    assert ada.subscriptions.get().status == Subscription.Status.PENDING

    # The link asks; the button confirms (the POST that Chromium refused with
    # "Origin checking failed - null does not match any trusted origins").
    page.goto(link(confirmation, "confirm"))
    expect(page.get_by_role("heading", name="Confirm your subscription")).to_be_visible()
    expect(page.get_by_text("PENELOPE newsletter")).to_be_visible()
    page.get_by_role("button", name="Yes, subscribe me").click()
    expect(page.get_by_role("heading", name="You are subscribed")).to_be_visible()
    assert ada.subscriptions.get().status == Subscription.Status.CONFIRMED
    assert ada.events.filter(kind=SubscriberEvent.Kind.CONFIRMED).count() == 1

    # Confirmed: the list's welcome email follows (the demo list has one).
    newsletter.refresh_from_db()
    welcome = smtp.wait_for(2)[1]
    assert welcome["To"].addresses[0].addr_spec.lower() == "ada.lovelace@example.org"
    assert welcome["Subject"] == newsletter.welcome_issue.specific.subject

    # Issue #3 goes out to the list (tasks in-process, the same loopback SMTP server).
    campaign = campaigns.create(seeded["newsletter"], [newsletter])
    assert campaigns.schedule(campaign)
    messages = smtp.wait_for(2 + 9)[2:]
    issue = to(messages, "ada.lovelace@example.org")
    assert issue["Subject"] == seeded["newsletter"].subject

    # Preferences from the newsletter's footer: name and lists.
    preferences = link(issue, "preferences")
    page.goto(preferences)
    expect(page.get_by_role("heading", name="Your subscription preferences")).to_be_visible()
    expect(page.get_by_text("For Ada.Lovelace@Example.ORG.")).to_be_visible()  # as typed
    expect(page.get_by_label("PENELOPE newsletter")).to_be_checked()
    page.get_by_label("Your name").fill("Ada King")
    page.get_by_label("Event invitations").check()
    page.get_by_role("button", name="Save my preferences").click()
    expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")
    expect(page.get_by_label("Your name")).to_have_value("Ada King")
    ada.refresh_from_db()
    assert ada.name == "Ada King"
    assert dict(ada.subscriptions.values_list("mailing_list__slug", "status")) == {
        "newsletter": "confirmed",
        "events": "confirmed",
    }

    # The data download is the JSON file of everything held.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data (JSON)").click()
    assert download.value.suggested_filename == "my-subscription-data.json"
    data = json.loads(open(download.value.path(), encoding="utf-8").read())  # noqa: SIM115
    assert (data["email"], data["name"]) == ("Ada.Lovelace@example.org", "Ada King")
    assert {s["list"]: s["status"] for s in data["subscriptions"]} == {
        "newsletter": "confirmed",
        "events": "confirmed",
    }
    assert {"subscribed", "confirmation_sent", "confirmed", "preferences_changed"} <= {
        e["event"] for e in data["history"]
    }

    # The newsletter's unsubscribe link leaves that list only, after a button press.
    page.goto(link(issue, "unsubscribe"))
    expect(page.get_by_text("Do you want to stop receiving PENELOPE newsletter?")).to_be_visible()
    page.get_by_role("button", name="Yes, unsubscribe me").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    assert dict(ada.subscriptions.values_list("mailing_list__slug", "status")) == {
        "newsletter": "unsubscribed",
        "events": "confirmed",
    }

    # Another reader's mail client uses the RFC 8058 one-click POST of the header.
    lucia = to(messages, "lucia.seel@example.org")
    one_click = lucia["List-Unsubscribe"].strip("<>")
    assert lucia["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    response = page.request.post(one_click, form={"List-Unsubscribe": "One-Click"})
    assert response.status == 200
    assert (
        Subscription.objects.get(subscriber__email="lucia.seel@example.org").status
        == Subscription.Status.UNSUBSCRIBED
    )

    # "Unsubscribe from everything" in the preference centre leaves the other list too.
    page.goto(preferences)
    page.get_by_role("button", name="Unsubscribe from everything").click()
    expect(page.get_by_text("no more emails from any of our lists")).to_be_visible()
    assert set(ada.subscriptions.values_list("status", flat=True)) == {"unsubscribed"}

    # Erasure from the preference centre.
    page.get_by_role("link", name="Back to your preferences").click()
    page.get_by_role("link", name="Erase my data").click()
    expect(page.get_by_text("It cannot be undone.")).to_be_visible()
    page.get_by_role("button", name="Erase my data").click()
    expect(page.get_by_role("heading", name="Your data is erased")).to_be_visible()
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.ERASED
    assert (ada.email_as_typed, ada.name) == ("", "")
    assert not Subscriber.objects.filter(email__icontains="lovelace").exists()
    assert Suppression.objects.filter(reason=Suppression.Reason.ERASED).count() == 1
    page.goto(preferences)
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()

    # Signing up again, in another spelling of the domain, mails nobody.
    again = page.request.post(
        f"{site}/api/subscriptions/",
        data={"email": "ada.lovelace@ＥＸＡＭＰＬＥ.org", "lists": ["newsletter"]},
    )
    assert again.status == 202 and again.json() == answer.json()
    assert smtp.total == 11  # confirmation, welcome, the issue to nine: nothing since
    assert not Subscriber.objects.filter(email__icontains="lovelace").exists()


class _Recorder(BaseHTTPRequestHandler):
    """A third-party website on another loopback port: it keeps the headers it got."""

    seen: list = []

    def do_GET(self):  # noqa: N802
        self.seen.append((self.path, dict(self.headers)))
        body = b"<!DOCTYPE html><title>Elsewhere</title><h1>Another site</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def third_party():
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", _Recorder.seen
    finally:
        server.shutdown()
        server.server_close()


def test_tokens_stay_out_of_the_referer_of_other_sites(
    live_site, browser_page, third_party, settings
):
    website, seen = third_party
    settings.FRONTEND_URL = website
    member = SubscriptionFactory(subscriber__email="reader@example.org").subscriber
    preferences = tokens.preferences_url(member.pk)
    assert urlsplit(preferences).netloc != urlsplit(website).netloc

    page = browser_page
    page.goto(preferences)
    # The page's own form still carries its origin: the save goes through CSRF.
    page.get_by_label("Your name").fill("Reader")
    page.get_by_role("button", name="Save my preferences").click()
    expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")

    page.get_by_role("link", name="Visit the PENELOPE website").click()
    expect(page.get_by_role("heading", name="Another site")).to_be_visible()
    # The navigation from our page carries no Referer; nothing Chromium sent the other
    # site afterwards (its favicon, referred by its own page) holds the token either.
    visit = next(headers for path, headers in seen if path == "/")
    assert "Referer" not in visit, visit
    token = preferences.rstrip("/").rsplit("/", 1)[1]
    assert token not in json.dumps(seen)
