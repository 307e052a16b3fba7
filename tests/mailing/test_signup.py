import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.brokers import get_broker
from django_q.models import Success

from mailing import subscriptions, tokens
from mailing.models import Subscriber, SubscriberEvent, Subscription, Suppression
from tests import smtp
from tests.mailing.factories import SubscriberFactory, SubscriptionFactory
from tests.mailing.helpers import SIGNUP, committed, link_in, signup

pytestmark = pytest.mark.django_db

smtp_server = smtp.smtp_server


def test_signup_confirmation_email_through_smtp_then_confirm(
    client, newsletter_list, smtp_server, sync_tasks
):
    response = signup(
        client, email="Ada.Lovelace@Example.ORG", name="Ada", lists=["newsletter"], language="fr"
    )
    assert response.status_code == 202

    subscriber = Subscriber.objects.get()
    assert subscriber.email == "Ada.Lovelace@example.org"
    assert subscriber.language == "fr"
    subscription = subscriber.subscriptions.get()
    assert subscription.status == Subscription.Status.PENDING
    assert subscription.ip_address == "203.0.113.5"
    assert subscription.consent_text == "I agree to receive the PENELOPE newsletter."
    assert "www.example.org" in subscription.source

    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "Ada.Lovelace@example.org"
    assert message["From"] == "PENELOPE <newsletter@example.org>"
    assert "confirm" in message["Subject"].lower()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "#6b2c91" in html  # the newsletter's look
    assert "/subscriptions/confirm/" in html
    # The inbox preview text is hidden as the newsletter's is: not as white text, which
    # spam filters read as a trick (SpamAssassin's HTML_FONT_LOW_CONTRAST).
    # (In French: the signup gave "fr"; tests/mailing/test_translated_chrome.py has more.)
    preheader = html.split("Un clic et c")[0].rsplit("<div", 1)[1]
    assert "display:none" in preheader and "color" not in preheader
    path = link_in(message, "confirm")

    # Opening the link (or a scanner fetching it) confirms nothing...
    page = client.get(path)
    assert page.status_code == 200
    assert "Oui, je m'abonne" in page.content.decode().replace("&#x27;", "'")
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PENDING

    # ...pressing the button does, and pressing it twice is harmless.
    for _ in range(2):
        done = client.post(path, REMOTE_ADDR="198.51.100.7")
        assert done.status_code == 200
        assert "Votre abonnement est confirmé" in done.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CONFIRMED
    assert subscription.confirmed_at is not None
    kinds = list(subscriber.events.order_by("created_at", "pk").values_list("kind", flat=True))
    assert kinds == ["subscribed", "confirmation_sent", "confirmed"]
    confirmed_event = subscriber.events.get(kind="confirmed")
    assert confirmed_event.ip_address == "198.51.100.7"


def test_same_answer_whatever_the_state_of_the_address(client, newsletter_list, sync_tasks):
    SubscriptionFactory(subscriber__email="member@example.org", mailing_list=newsletter_list)
    Suppression.add("bounced@example.org", Suppression.Reason.HARD_BOUNCE)
    signup(client, email="pending@example.org", lists=["newsletter"])
    mail.outbox.clear()

    answers = [
        signup(client, email=address, lists=["newsletter"], ip=f"192.0.2.{i}")
        for i, address in enumerate(
            ["new@example.org", "pending@example.org", "member@example.org", "bounced@example.org"]
        )
    ]
    assert {r.status_code for r in answers} == {202}
    assert len({r.content for r in answers}) == 1
    # Only the new and the pending address get a confirmation email.
    assert sorted(m.to[0] for m in mail.outbox) == ["new@example.org", "pending@example.org"]
    assert not Subscriber.objects.filter(email="bounced@example.org").exists()
    member = Subscription.objects.get(subscriber__email="member@example.org")
    assert member.status == Subscription.Status.CONFIRMED


def test_honeypot_is_accepted_and_ignored(client, newsletter_list, sync_tasks):
    response = signup(client, email="bot@example.org", lists=["newsletter"], website="http://spam")
    assert response.status_code == 202
    assert response.json() == signup(client, email="x@example.org", lists=["newsletter"]).json()
    assert not Subscriber.objects.filter(email="bot@example.org").exists()
    assert [m.to for m in mail.outbox] == [["x@example.org"]]


def test_rate_limit_per_ip(client, newsletter_list, settings, sync_tasks):
    settings.SUBSCRIPTION_RATE_PER_IP = 3
    codes = [
        signup(client, email=f"p{i}@example.org", lists=["newsletter"]).status_code
        for i in range(5)
    ]
    assert codes == [202, 202, 202, 429, 429]
    assert Subscriber.objects.count() == 3
    # Another IP is not affected.
    assert (
        signup(client, email="q@example.org", lists=["newsletter"], ip="192.0.2.99").status_code
        == 202
    )


def test_rate_limit_per_address_sends_no_more_mail_but_answers_the_same(
    client, newsletter_list, settings, sync_tasks
):
    settings.SUBSCRIPTION_RATE_PER_ADDRESS = 2
    answers = {
        signup(client, email="victim@example.org", lists=["newsletter"], ip=f"192.0.2.{i}").content
        for i in range(5)
    }
    assert len(answers) == 1
    assert len(mail.outbox) == 2


def test_invalid_input_is_refused_without_revealing_anything(
    client, newsletter_list, internal_list
):
    bad_email = signup(client, email="not-an-address", lists=["newsletter"])
    assert bad_email.status_code == 400
    assert "email" in bad_email.json()["errors"]
    # Internal lists look exactly like lists that do not exist.
    internal = signup(client, email="a@example.org", lists=["partners"])
    unknown = signup(client, email="a@example.org", lists=["nope"])
    assert internal.status_code == unknown.status_code == 400
    assert "lists" in internal.json()["errors"]
    assert client.post(SIGNUP, data="{not json", content_type="application/json").status_code == 400
    assert client.put(SIGNUP).status_code == 405
    assert not Subscriber.objects.exists()


def test_form_encoded_signup_and_single_public_list_default(client, newsletter_list, sync_tasks):
    with committed(execute=True):
        response = client.post(SIGNUP, {"email": "form@example.org"}, REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 202
    assert Subscription.objects.get().mailing_list == newsletter_list


def test_cors_allows_the_configured_front_end(client, newsletter_list):
    preflight = client.options(
        SIGNUP,
        HTTP_ORIGIN="https://www.example.org",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert preflight["Access-Control-Allow-Origin"] == "https://www.example.org"
    other = client.options(
        SIGNUP, HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in other


def test_one_email_confirms_several_lists(client, newsletter_list, events_list, sync_tasks):
    signup(client, email="two@example.org", lists=["newsletter", "events"])
    (message,) = mail.outbox
    assert "PENELOPE newsletter" in message.body and "Event invitations" in message.body
    path = link_in_locmem(message, "confirm")
    client.post(path)
    assert set(Subscription.objects.values_list("status", flat=True)) == {"confirmed"}


def test_single_opt_in_list_confirms_at_once(client, newsletter_list, sync_tasks):
    newsletter_list.double_opt_in = False
    newsletter_list.save()
    signup(client, email="quick@example.org", lists=["newsletter"])
    assert Subscription.objects.get().status == Subscription.Status.CONFIRMED
    assert not mail.outbox


def test_expired_confirmation_link_gets_the_invalid_link_page(
    client, newsletter_list, settings, sync_tasks
):
    result = subscriptions.subscribe("late@example.org", [newsletter_list])
    token = tokens.make_token(tokens.CONFIRM, result.subscriber.pk, newsletter_list.pk)
    settings.SUBSCRIPTION_CONFIRM_MAX_AGE = -1
    for response in (
        client.get(f"/subscriptions/confirm/{token}/"),
        client.post(f"/subscriptions/confirm/{token}/"),
    ):
        assert response.status_code == 404
        assert b"This link does not work" in response.content
    assert Subscription.objects.get().status == Subscription.Status.PENDING


def test_tampered_and_unknown_tokens_reveal_nothing(client, newsletter_list):
    subscriber = SubscriberFactory(email="someone@example.org", name="Someone")
    good = {
        "confirm": tokens.make_token(tokens.CONFIRM, subscriber.pk),
        "unsubscribe": tokens.make_token(tokens.UNSUBSCRIBE, subscriber.pk),
        "preferences": tokens.make_token(tokens.PREFERENCES, subscriber.pk),
    }
    unknown = {purpose: tokens.make_token(purpose, subscriber.pk + 1000) for purpose in good}
    bodies = set()
    for purpose, token in good.items():
        for bad in (
            token[:-3] + "abc",
            unknown[purpose],
            good["preferences" if purpose != "preferences" else "confirm"],
        ):
            response = client.get(f"/subscriptions/{purpose}/{bad}/")
            assert response.status_code == 404, (purpose, bad)
            assert b"someone" not in response.content.lower()
            bodies.add(response.content)
            api = client.post(f"/api/subscriptions/{purpose}/{bad}/")
            assert api.status_code == 404 and api.json()["status"] == "invalid_link"
    assert len(bodies) == 1
    assert SubscriberEvent.objects.count() == 0


def test_the_answer_does_the_same_queries_whatever_the_state_of_the_address(
    client, address_in_each_state, settings
):
    """Everything that depends on the address runs in the worker, not in the request."""
    settings.SUBSCRIPTION_RATE_PER_IP = 1000
    broker = get_broker()
    queued = broker.queue_size()
    seen = {}
    for state, address in address_in_each_state.items():
        with CaptureQueriesContext(connection) as queries:
            response = signup(client, email=address, lists=["newsletter"])
        assert response.status_code == 202
        # The statements with their values taken out: the lists looked up, the task queued.
        seen[state] = [re.sub(r"'[^']*'|\b\d+\b", "?", q["sql"]) for q in queries]
    assert len({tuple(statements) for statements in seen.values()}) == 1, seen
    assert len(seen["new"]) <= 2
    # Nothing happened yet for any of them: the worker has not run.
    assert not Subscriber.objects.filter(email="newaddr1@example.org").exists()
    assert broker.queue_size() - queued == len(address_in_each_state)


def test_the_worker_does_what_the_request_handed_over(
    client, newsletter_list, smtp_server, sync_tasks, django_assert_max_num_queries
):
    # Signup, confirmation and django-q's own bookkeeping of the two tasks.
    with django_assert_max_num_queries(30):
        signup(client, email="Count@Example.org", lists=["newsletter"], name="Count")
    (message,) = smtp_server.wait_for(1)
    assert Subscriber.objects.get().name == "Count"
    # Nothing personal stays in django-q's history of done tasks.
    assert not Success.objects.filter(func="mailing.tasks.process_signup").exists()


def test_the_confirmation_email_names_the_site_in_its_message_id(
    client, newsletter_list, smtp_server, sync_tasks, settings
):
    settings.SITE_URL = "https://news.example.net"
    signup(client, email="id@example.org", lists=["newsletter"])
    (message,) = smtp_server.wait_for(1)
    assert re.fullmatch(r"<[^@<>\s]+@news\.example\.net>", message["Message-ID"])
    assert "localhost" not in message["Message-ID"]


def link_in_locmem(message, action):
    match = re.search(rf"https?://[^/\s]+(/subscriptions/{action}/[^\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_public_lists_for_signup_forms(client, newsletter_list, internal_list):
    response = client.get(SIGNUP)
    assert response.json() == {
        "lists": [
            {
                "slug": "newsletter",
                "name": "PENELOPE newsletter",
                "description": "News, interviews and events.",
            }
        ],
        "topics": [],  # no page carries a tag here
    }
