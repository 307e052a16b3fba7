"""The sending pipeline against a real SMTP server on loopback (aiosmtpd), in-process."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from mailing import campaigns, queue, tokens
from mailing.models import (
    Campaign,
    Delivery,
    MailingList,
    Subscriber,
    Subscription,
    Suppression,
)
from mailing.sending import ledger, proof, sender
from mailing.sending.transports import esp
from tests.smtp import SmtpSink, smtp_settings

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


def scheduled(audience, **kwargs):
    """Created and confirmed, as the admin and the command do it."""
    campaign = campaigns.create(audience["page"], audience["lists"], **kwargs)
    assert campaign.status == Campaign.Status.DRAFT
    assert campaigns.schedule(campaign)
    return campaign


def send_now(audience, **kwargs):
    campaign = scheduled(audience, **kwargs)
    assert campaigns.start(campaign.pk)
    campaign.refresh_from_db()
    return campaign


def test_recipients_are_confirmed_active_unsuppressed_and_deduplicated(audience):
    assert campaigns.count_recipients(audience["lists"]) == len(EXPECTED)


def test_campaign_reaches_every_recipient_once_with_the_headers(audience, sink):
    campaign = send_now(audience)
    assert campaign.recipients_count == len(EXPECTED)
    assert sender.run_sender(campaign.pk) == "done"

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
    sender.run_sender(campaign.pk)
    message = dict(sink.parsed())["ana.event@example.org"]
    assert message["To"].addresses[0].display_name == "Ana, Événement"
    assert message["To"].addresses[0].addr_spec == "Ana.Event@example.org"


def test_a_second_run_or_a_restart_sends_nothing_more(audience, sink):
    campaign = send_now(audience)
    sender.run_sender(campaign.pk)
    assert not campaigns.start(campaign.pk)  # a second dispatcher tick
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    sender.run_sender(campaign.pk)
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
        assert sender.run_sender(campaign.pk) == "done"
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
        assert sender.run_sender(campaign.pk) == "idle"
    row = Delivery.objects.get(campaign=campaign, subscriber__email="raquel.ortega@example.org")
    assert row.status == Delivery.Status.PENDING
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=50)
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    with override_settings(SENDING_RETRY_SECONDS=0, SENDING_MAX_ATTEMPTS=3):
        assert sender.run_sender(campaign.pk) == "done"
    row.refresh_from_db()
    assert row.status == Delivery.Status.FAILED and row.attempts == 3


def test_expired_leases_return_to_the_queue(audience, sink):
    campaign = send_now(audience)
    dead = ledger.lease(campaign.pk, "dead-worker", 3)
    assert len(dead) == 3
    Delivery.objects.filter(lease_owner="dead-worker").update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert sender.run_sender(campaign.pk) == "done"
    assert sink.total == len(EXPECTED)


def test_leases_never_overlap(audience):
    campaign = send_now(audience)
    first = ledger.lease(campaign.pk, "a", 3)
    second = ledger.lease(campaign.pk, "b", 3)
    assert len(first) == 3 and len(second) == 2
    assert not {r.delivery_id for r in first} & {r.delivery_id for r in second}
    assert ledger.lease(campaign.pk, "c", 3) == []


def test_scheduled_campaign_waits_for_its_time(audience, sink):
    from mailing import tasks

    later = timezone.now() + timedelta(hours=1)
    campaign = scheduled(audience, send_at=later)
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
    assert campaigns.pause(campaign)
    assert sender.run_sender(campaign.pk) == "stopped"
    assert sink.total == 0
    assert not campaigns.pause(campaign)  # already paused
    assert campaigns.resume(campaign)
    assert sender.run_sender(campaign.pk) == "done"
    assert sink.total == len(EXPECTED)
    assert not campaigns.cancel(campaign)  # sent is final

    other = send_now(audience)
    assert campaigns.cancel(other)
    assert not campaigns.resume(other)
    assert sender.run_sender(other.pk) == "stopped"
    assert sink.total == len(EXPECTED)


def test_revision_is_pinned_when_sending_starts(audience, sink):
    page = audience["page"]
    campaign = send_now(audience)
    page.subject = "Edited after the start"
    page.save_revision().publish()
    sender.run_sender(campaign.pk)
    assert {m["Subject"] for _, m in sink.parsed()} == {campaign.subject}
    assert campaign.subject != "Edited after the start"


def test_ledger_queries_are_bounded_per_message(audience, sink):
    for i in range(40):
        subscribe(audience["lists"][1], f"reader{i}@example.net")
    campaign = send_now(audience)
    with CaptureQueriesContext(connection) as queries:
        sender.run_sender(campaign.pk)
    assert sink.total == 45
    # One UPDATE per recipient plus a few per chunk and per run.
    assert len(queries) <= 45 + 20


def test_other_backends_get_one_message_each_with_anymail_metadata(audience):
    campaign = send_now(audience)
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        assert sender.run_sender(campaign.pk) == "done"
    assert {m.to[0].rsplit("<", 1)[-1].strip(">").lower() for m in mail.outbox} == EXPECTED
    message = mail.outbox[0]
    delivery = Delivery.objects.get(pk=message.metadata["delivery"])
    assert delivery.campaign_id == campaign.pk
    assert message.metadata["campaign"] == str(campaign.pk)
    assert f"campaign-{campaign.pk}" in message.tags
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_test_send_goes_to_the_addresses_only(audience):
    assert proof.send_test(audience["page"], ["editor@example.org"]) == 1
    assert mail.outbox[0].to == ["editor@example.org"]
    assert mail.outbox[0].subject.startswith("[Test] ")
    assert not Campaign.objects.exists()


def test_a_campaign_that_cannot_start_is_marked_failed(audience, monkeypatch):
    from mailing import tasks

    def broken(page):
        raise RuntimeError("template missing")

    monkeypatch.setattr(campaigns, "render_email", broken)
    campaign = scheduled(audience)
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
        assert sender.run_sender(campaign.pk) == "done"
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
    original = esp.BatchTransport.post

    def flaky(self, message):
        calls.append(len(message.to))
        if len(calls) == 1:
            message.anymail_test_response = Flaky("service unavailable")
        return original(self, message)

    monkeypatch.setattr(esp.BatchTransport, "post", flaky)
    with override_settings(
        EMAIL_BACKEND="anymail.backends.test.EmailBackend",
        SENDING_ESP_BATCH_SIZE=10,
        SENDING_RETRY_SECONDS=0,
    ):
        assert sender.run_sender(campaign.pk) == "done"
    assert calls == [5, 5]
    assert campaign.counts()["sent"] == 5
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {2}


def test_rate_limited_campaigns_get_one_paced_sender(
    audience, sink, monkeypatch, django_capture_on_commit_callbacks
):
    from mailing import tasks

    queued = []
    monkeypatch.setattr(queue, "async_task", lambda func, *args, **kw: queued.append(func))
    with override_settings(SENDING_CONCURRENCY=4):
        with django_capture_on_commit_callbacks(execute=True):
            limited = scheduled(audience, rate_limit=50)
            free = scheduled(audience)
        assert queued == [queue.DISPATCH, queue.DISPATCH]
        queued.clear()
        with django_capture_on_commit_callbacks(execute=True):
            tasks.dispatch()
    assert queued.count(queue.SEND) == 1 + 4
    limited.refresh_from_db()
    assert limited.rate_limit == 50 and free.rate_limit is None
    clock = [1000.0]  # a fake monotonic clock that only sleeping moves
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 6))
        clock[0] += seconds

    monkeypatch.setattr(sender.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(sender.time, "sleep", sleep)
    assert sender.run_sender(limited.pk) == "done"
    assert slept == [0.02] * 4  # 5 messages at 50/s
    assert sink.total == 5


def test_a_draft_is_never_touched_by_a_worker(audience, sink):
    from mailing import tasks

    draft = campaigns.create(audience["page"], audience["lists"])
    tasks.dispatch()
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.DRAFT
    assert not campaigns.start(draft.pk)
    assert not draft.deliveries.exists()
    assert campaigns.cancel(draft)


def test_a_line_too_long_for_8bit_goes_through_djangos_encoder(audience, sink):
    campaign = send_now(audience)
    # No space to fold at: the prebuilt raw message cannot carry this line.
    long_line = "<p>" + "x" * 1200 + "</p>"
    Campaign.objects.filter(pk=campaign.pk).update(html=campaign.html + long_line)
    assert sender.run_sender(campaign.pk) == "done"
    assert sink.total == len(EXPECTED)
    for _rcpt, message in sink.parsed():
        assert "x" * 1200 in message.get_body(("html",)).get_content()
        assert "%%" not in message.get_body(("html",)).get_content()


def test_an_esp_that_cannot_batch_gets_one_message_per_recipient(audience, monkeypatch):
    from anymail.exceptions import AnymailUnsupportedFeature

    campaign = send_now(audience)
    original = esp.BatchTransport.post

    def no_batches(self, message):
        if getattr(message, "merge_data", None):
            raise AnymailUnsupportedFeature("no batch sends here")
        return original(self, message)

    monkeypatch.setattr(esp.BatchTransport, "post", no_batches)
    with override_settings(
        EMAIL_BACKEND="anymail.backends.test.EmailBackend", SENDING_ESP_BATCH_SIZE=3
    ):
        assert sender.run_sender(campaign.pk) == "done"
    assert len(mail.outbox) == len(EXPECTED)
    assert {len(m.to) for m in mail.outbox} == {1}
    assert all(m.metadata["campaign"] == str(campaign.pk) for m in mail.outbox)
    assert campaign.counts()["sent"] == len(EXPECTED)
