"""The sending pipeline against a real SMTP server on loopback (aiosmtpd), in-process."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from mailing import sending, tokens
from mailing.models import (
    Campaign,
    Delivery,
    MailingList,
    Subscriber,
    Subscription,
    Suppression,
)
from tests.mailing.smtp_sink import SmtpSink, smtp_settings

pytestmark = pytest.mark.django_db


def subscribe(mailing_list, email, name="", status=Subscription.Status.CONFIRMED, **extra):
    subscriber, _ = Subscriber.objects.get_or_create(email=email, defaults={"name": name, **extra})
    Subscription.objects.create(subscriber=subscriber, mailing_list=mailing_list, status=status)
    return subscriber


@pytest.fixture
def audience(seeded):
    """The demo list (4 confirmed) plus a second list overlapping it, and people left out."""
    news = seeded["mailing_list"]
    events = MailingList.objects.create(name="Events", slug="events")
    subscribe(events, "lucia.seel@example.org")  # also on the demo list: mailed once
    subscribe(events, "Ana.Event@Example.org", "Ana Événement")
    subscribe(events, "pending@example.org", status=Subscription.Status.PENDING)
    subscribe(events, "gone@example.org", status=Subscription.Status.UNSUBSCRIBED)
    subscribe(events, "blocked@example.org")
    Subscriber.objects.filter(email="blocked@example.org").update(
        status=Subscriber.Status.BLOCKLISTED
    )
    subscribe(events, "bounced@example.org")
    Suppression.add("BOUNCED@example.org", Suppression.Reason.HARD_BOUNCE)
    return {"page": seeded["newsletter"], "lists": [news, events]}


EXPECTED = {
    "lucia.seel@example.org",
    "raquel.ortega@example.org",
    "mirela.puiu@example.org",
    "newsletter-reader@example.com",
    "ana.event@example.org",
}


@pytest.fixture
def sink():
    server = SmtpSink()
    recorder = server.start()
    with override_settings(**smtp_settings(server.port)):
        yield recorder
    server.stop()


def send_now(audience, **kwargs):
    campaign = sending.create_campaign(audience["page"], audience["lists"], **kwargs)
    assert sending.start_campaign(campaign.pk)
    campaign.refresh_from_db()
    return campaign


def test_recipients_are_confirmed_active_unsuppressed_and_deduplicated(audience):
    assert sending.count_recipients(audience["lists"]) == len(EXPECTED)


def test_campaign_reaches_every_recipient_once_with_the_headers(audience, sink):
    campaign = send_now(audience)
    assert campaign.recipients_count == len(EXPECTED)
    assert sending.run_sender(campaign.pk) == "done"

    received = sink.parsed()
    assert {rcpt for rcpt, _ in received} == EXPECTED
    assert all(count == 1 for count in sink.counts.values())
    message_ids = set()
    for rcpt, message in received:
        assert message.get_content_type() == "multipart/alternative"
        assert message["Subject"] == audience["page"].subject
        unsubscribe = message["List-Unsubscribe"]
        assert unsubscribe.startswith("<https://cms.example.org/subscriptions/unsubscribe/")
        subscriber_id, list_id = tokens.read_token(
            tokens.UNSUBSCRIBE, unsubscribe.strip("<>").rstrip("/").rsplit("/", 1)[1]
        )
        assert Subscriber.objects.get(pk=subscriber_id).email.lower() == rcpt
        assert list_id in {ml.pk for ml in audience["lists"]}
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"].endswith("<newsletter.cms.example.org>")
        message_ids.add(message["Message-ID"])
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert "%%" not in text and "%%" not in html
        assert unsubscribe.strip("<>") in html
        assert f"https://cms.example.org/newsletters/{campaign.pk}/" in html
        assert message.get_body(("html",))["Content-Transfer-Encoding"] in {"7bit", "8bit"}
    assert len(message_ids) == len(EXPECTED)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert campaign.finished_at is not None
    assert campaign.counts() == {
        "recipients": 5,
        "sent": 5,
        "failed": 0,
        "pending": 0,
    }


def test_names_are_encoded_in_headers_and_escaped_in_html(audience, sink):
    Subscriber.objects.filter(email__iexact="ana.event@example.org").update(name="Ana, Événement")
    campaign = send_now(audience)
    sending.run_sender(campaign.pk)
    message = dict(sink.parsed())["ana.event@example.org"]
    assert message["To"].addresses[0].display_name == "Ana, Événement"
    assert message["To"].addresses[0].addr_spec == "Ana.Event@example.org"


def test_a_second_run_or_a_restart_sends_nothing_more(audience, sink):
    campaign = send_now(audience)
    sending.run_sender(campaign.pk)
    assert not sending.start_campaign(campaign.pk)  # a second dispatcher tick
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    sending.run_sender(campaign.pk)
    assert sink.total == len(EXPECTED)


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
def test_transient_answers_are_retried_and_permanent_ones_recorded(audience, sink, pipelining):
    sink.pipelining = pipelining
    sink.answers = {
        "raquel.ortega@example.org": [451, 250],
        "mirela.puiu@example.org": [421, 250],
        "newsletter-reader@example.com": [550],
    }
    campaign = send_now(audience)
    with override_settings(SENDING_RETRY_SECONDS=0):
        assert sending.run_sender(campaign.pk) == "done"
    assert sink.counts["raquel.ortega@example.org"] == 1
    assert sink.counts["mirela.puiu@example.org"] == 1
    assert "newsletter-reader@example.com" not in sink.counts
    failed = Delivery.objects.get(campaign=campaign, status=Delivery.Status.FAILED)
    assert failed.subscriber.email == "newsletter-reader@example.com"
    assert failed.error.startswith("550")
    retried = Delivery.objects.get(campaign=campaign, subscriber__email="raquel.ortega@example.org")
    assert (retried.status, retried.attempts) == (Delivery.Status.SENT, 2)
    assert campaign.counts()["sent"] == 4


def test_transient_failures_back_off_then_give_up(audience, sink):
    sink.answers = {"raquel.ortega@example.org": [451]}
    campaign = send_now(audience)
    with override_settings(SENDING_RETRY_SECONDS=60):
        # Nothing else to do for a minute: the sender frees its worker.
        assert sending.run_sender(campaign.pk) == "idle"
    row = Delivery.objects.get(campaign=campaign, subscriber__email="raquel.ortega@example.org")
    assert row.status == Delivery.Status.PENDING
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=50)
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    with override_settings(SENDING_RETRY_SECONDS=0, SENDING_MAX_ATTEMPTS=3):
        assert sending.run_sender(campaign.pk) == "done"
    row.refresh_from_db()
    assert row.status == Delivery.Status.FAILED and row.attempts == 3


def test_expired_leases_return_to_the_queue(audience, sink):
    campaign = send_now(audience)
    dead = sending.lease(campaign.pk, "dead-worker", 3)
    assert len(dead) == 3
    Delivery.objects.filter(lease_owner="dead-worker").update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert sending.run_sender(campaign.pk) == "done"
    assert sink.total == len(EXPECTED)


def test_leases_never_overlap(audience):
    campaign = send_now(audience)
    first = sending.lease(campaign.pk, "a", 3)
    second = sending.lease(campaign.pk, "b", 3)
    assert len(first) == 3 and len(second) == 2
    assert not {r.delivery_id for r in first} & {r.delivery_id for r in second}
    assert sending.lease(campaign.pk, "c", 3) == []


def test_scheduled_campaign_waits_for_its_time(audience, sink):
    from mailing import tasks

    later = timezone.now() + timedelta(hours=1)
    campaign = sending.create_campaign(audience["page"], audience["lists"], send_at=later)
    tasks.dispatch()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    assert not campaign.deliveries.exists()
    Campaign.objects.filter(pk=campaign.pk).update(send_at=timezone.now())
    tasks.dispatch()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert campaign.deliveries.count() == len(EXPECTED)


def test_pause_resume_cancel(audience, sink):
    campaign = send_now(audience)
    assert sending.pause(campaign)
    assert sending.run_sender(campaign.pk) == "stopped"
    assert sink.total == 0
    assert not sending.pause(campaign)  # already paused
    assert sending.resume(campaign)
    assert sending.run_sender(campaign.pk) == "done"
    assert sink.total == len(EXPECTED)
    assert not sending.cancel(campaign)  # sent is final

    other = send_now(audience)
    assert sending.cancel(other)
    assert not sending.resume(other)
    assert sending.run_sender(other.pk) == "stopped"
    assert sink.total == len(EXPECTED)


def test_revision_is_pinned_when_sending_starts(audience, sink):
    page = audience["page"]
    campaign = send_now(audience)
    page.subject = "Edited after the start"
    page.save_revision().publish()
    sending.run_sender(campaign.pk)
    assert {m["Subject"] for _, m in sink.parsed()} == {campaign.subject}
    assert campaign.subject != "Edited after the start"


def test_ledger_queries_are_bounded_per_message(audience, sink):
    for i in range(40):
        subscribe(audience["lists"][1], f"reader{i}@example.net")
    campaign = send_now(audience)
    with CaptureQueriesContext(connection) as queries:
        sending.run_sender(campaign.pk)
    assert sink.total == 45
    # One UPDATE per recipient plus a few per chunk and per run.
    assert len(queries) <= 45 + 20


def test_other_backends_get_one_message_each_with_anymail_metadata(audience):
    campaign = send_now(audience)
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        assert sending.run_sender(campaign.pk) == "done"
    assert {m.to[0].rsplit("<", 1)[-1].strip(">").lower() for m in mail.outbox} == EXPECTED
    message = mail.outbox[0]
    delivery = Delivery.objects.get(pk=message.metadata["delivery"])
    assert delivery.campaign_id == campaign.pk
    assert message.metadata["campaign"] == str(campaign.pk)
    assert f"campaign-{campaign.pk}" in message.tags
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_test_send_goes_to_the_addresses_only(audience):
    assert sending.send_test(audience["page"], ["editor@example.org"]) == 1
    assert mail.outbox[0].to == ["editor@example.org"]
    assert mail.outbox[0].subject.startswith("[Test] ")
    assert not Campaign.objects.exists()


def test_a_campaign_that_cannot_start_is_marked_failed(audience, monkeypatch):
    from mailing import tasks

    def broken(page):
        raise RuntimeError("template missing")

    monkeypatch.setattr(sending, "render_email", broken)
    campaign = sending.create_campaign(audience["page"], audience["lists"])
    tasks.dispatch()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FAILED
    assert "template missing" in campaign.error
    assert not campaign.deliveries.exists()


def test_esp_batch_sends_use_merge_data_and_per_recipient_headers(audience):
    """anymail's test backend stands in for a paid ESP (the only mock in these tests)."""
    campaign = send_now(audience)
    with override_settings(
        EMAIL_BACKEND="anymail.backends.test.EmailBackend", SENDING_ESP_BATCH_SIZE=3
    ):
        assert sending.run_sender(campaign.pk) == "done"
    assert len(mail.outbox) == 2  # 5 recipients in batches of 3
    params = mail.outbox[0].anymail_test_params
    assert params["is_batch_send"]
    first = params["to"][0].addr_spec
    values = params["merge_data"][first]
    assert values["%%UNSUBSCRIBE_URL%%"].startswith("https://cms.example.org/subscriptions/")
    assert (
        params["merge_headers"][first]["List-Unsubscribe"] == f"<{values['%%UNSUBSCRIBE_URL%%']}>"
    )
    delivery = Delivery.objects.get(pk=params["merge_metadata"][first]["delivery"])
    assert delivery.campaign_id == campaign.pk and delivery.status == Delivery.Status.SENT
    assert "%%UNSUBSCRIBE_URL%%" in params["html_body"]  # filled in by the ESP
    assert campaign.counts()["sent"] == 5


def test_esp_errors_retry_the_whole_batch(audience, monkeypatch):
    from anymail.exceptions import AnymailAPIError

    campaign = send_now(audience)

    class Flaky(AnymailAPIError):
        status_code = 503

    calls = []
    original = sending.BatchTransport.send_message

    def flaky(self, message):
        calls.append(len(message.to))
        if len(calls) == 1:
            message.anymail_test_response = Flaky("service unavailable")
        return original(self, message)

    monkeypatch.setattr(sending.BatchTransport, "send_message", flaky)
    with override_settings(
        EMAIL_BACKEND="anymail.backends.test.EmailBackend",
        SENDING_ESP_BATCH_SIZE=10,
        SENDING_RETRY_SECONDS=0,
    ):
        assert sending.run_sender(campaign.pk) == "done"
    assert calls == [5, 5]
    assert campaign.counts()["sent"] == 5
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {2}


def test_rate_limited_campaigns_get_one_paced_sender(
    audience, sink, monkeypatch, django_capture_on_commit_callbacks
):
    from mailing import tasks

    queued = []
    monkeypatch.setattr(tasks, "async_task", lambda func, *args, **kw: queued.append(func))
    with override_settings(SENDING_CONCURRENCY=4):
        with django_capture_on_commit_callbacks(execute=True):
            limited = sending.create_campaign(audience["page"], audience["lists"], rate_limit=50)
            free = sending.create_campaign(audience["page"], audience["lists"])
        assert queued == [tasks.DISPATCH, tasks.DISPATCH]
        queued.clear()
        with django_capture_on_commit_callbacks(execute=True):
            tasks.dispatch()
    assert queued.count(tasks.SEND) == 1 + 4
    limited.refresh_from_db()
    assert limited.rate_limit == 50 and free.rate_limit is None
    clock = [1000.0]  # a fake monotonic clock that only sleeping moves
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 6))
        clock[0] += seconds

    monkeypatch.setattr(sending.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(sending.time, "sleep", sleep)
    assert sending.run_sender(limited.pk) == "done"
    assert slept == [0.02] * 4  # 5 messages at 50/s
    assert sink.total == 5
