"""The sending pipeline against a real SMTP server on loopback (aiosmtpd), in-process."""

import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.db.models import Max
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
from newsletters.models import NewsletterIndexPage, NewsletterPage
from tests.smtp import SmtpSink, smtp_settings

pytestmark = pytest.mark.django_db


def subscribe(mailing_list, email, name="", status=Subscription.Status.CONFIRMED, **extra):
    subscriber, _ = Subscriber.objects.get_or_create(email=email, defaults={"name": name, **extra})
    Subscription.objects.create(subscriber=subscriber, mailing_list=mailing_list, status=status)
    return subscriber


@pytest.fixture
def audience(seeded):
    """Four of the demo list's readers plus a second list overlapping it, and people left
    out. (The demo's readers in French, Italian, Finnish and Dutch are not part of it:
    these tests count and time a small, known audience; languages have their own tests.)"""
    news = seeded["mailing_list"]
    Subscriber.objects.filter(email__in=LANGUAGE_READERS).delete()
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


LANGUAGE_READERS = [
    "camille.durand@example.org",
    "giulia.bianchi@example.org",
    "aino.virtanen@example.org",
    "pieter.claes@example.org",
]

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
        assert f"https://cms.example.org/newsletters/{campaign.key}/" in html
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


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
@pytest.mark.parametrize("smtputf8", [True, False], ids=["smtputf8", "ascii-only"])
def test_an_internationalised_address_goes_out_as_the_server_can_take_it(
    audience, sink, pipelining, smtputf8
):
    # Addresses are stored with their Unicode domain; the envelope and the To header
    # carry its IDNA form, which every server takes. A non-ASCII mailbox name needs
    # SMTPUTF8: without it that one reader fails, with the reason, and nobody else.
    sink.pipelining, sink.smtputf8 = pipelining, smtputf8
    news = audience["lists"][0]
    subscribe(news, "ada@bücher.de", "Ada")
    subscribe(news, "josé@example.org", "José")
    campaign = send_now(audience)
    assert sender.run_sender(campaign.pk) == "done"
    assert sink.counts["ada@xn--bcher-kva.de"] == 1
    message = dict(sink.parsed())["ada@xn--bcher-kva.de"]
    assert message["To"].addresses[0].addr_spec == "ada@xn--bcher-kva.de"
    jose = Delivery.objects.get(campaign=campaign, subscriber__email="josé@example.org")
    if smtputf8:
        assert jose.status == Delivery.Status.SENT and sink.counts["josé@example.org"] == 1
        raw = dict(sink.raw)["josé@example.org"]
        assert "\r\nTo: =?utf-8?b?Sm9zw6k=?= <josé@example.org>\r\n".encode() in raw
    else:
        assert jose.status == Delivery.Status.FAILED and "SMTPUTF8" in jose.error
    assert campaign.counts()["sent"] == len(EXPECTED) + 1 + smtputf8


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
    # Status checks by count only (every 10 messages), not by the clock, so that a slow
    # machine does not add checks.
    with (
        override_settings(SENDING_STATUS_CHECK_SECONDS=3600),
        CaptureQueriesContext(connection) as queries,
    ):
        sender.run_sender(campaign.pk)
    assert sink.total == 45
    # One UPDATE per recipient; every SENDING_STATUS_CHECK_EVERY (10) messages a status
    # read (no lease renewal: half the lease has not passed); a few per chunk and run.
    assert len(queries) <= 45 + (45 // 10 + 1) + 25, len(queries)


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
    result = proof.send_test(audience["page"], ["editor@example.org"])
    assert result == proof.TestSend(sent=1, draft=False)
    assert mail.outbox[0].to == ["editor@example.org"]
    assert mail.outbox[0].subject.startswith("[Test] ")
    assert not Campaign.objects.exists()


def test_a_campaign_that_cannot_start_is_marked_failed(audience, monkeypatch):
    from mailing import tasks

    def broken(page, **kwargs):
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

    monkeypatch.setattr(sender, "monotonic", lambda: clock[0])
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
    assert not campaigns.cancel(draft)  # a draft is discarded from its confirmation screen


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


# --- only published content, re-sends, cancel mid-chunk -------------------------------------


def fresh(page):
    return NewsletterPage.objects.get(pk=page.pk)


def test_lists_get_the_published_revision_never_a_later_draft(audience, sink):
    page = fresh(audience["page"])
    published_subject = page.subject
    page.subject = "Half-written draft subject"
    page.save_revision()  # saved, not published
    campaign = send_now(audience)
    assert campaign.revision_id == fresh(page).live_revision_id
    sender.run_sender(campaign.pk)
    assert {message["Subject"] for message in sink.messages} == {published_subject}


def test_a_never_published_issue_cannot_be_scheduled(audience):
    index = NewsletterIndexPage.objects.get()
    draft = NewsletterPage(
        title="Issue 99", slug="issue-99", issue_number=99, subject="Not yet", live=False
    )
    index.add_child(instance=draft)
    draft.save_revision()
    campaign = campaigns.create(draft, audience["lists"])
    with pytest.raises(campaigns.NotPublished, match="publish it before sending it to lists"):
        campaigns.schedule(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_an_issue_unpublished_after_scheduling_fails_with_the_reason(audience, sink):
    campaign = scheduled(audience)
    fresh(audience["page"]).unpublish()
    assert not campaigns.start(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FAILED
    assert "is not published" in campaign.error
    assert not campaign.deliveries.exists() and sink.total == 0


def test_a_resend_can_leave_out_those_who_received_the_issue(audience, sink):
    first = send_now(audience)
    sender.run_sender(first.pk)
    newcomer = subscribe(audience["lists"][0], "newcomer@example.org")
    page = audience["page"]
    assert [c.pk for c in campaigns.earlier_sends(page, audience["lists"][:1])] == [first.pk]
    assert campaigns.count_recipients(audience["lists"], exclude_received_of=page.pk) == 1

    again = campaigns.create(page, audience["lists"])
    assert campaigns.schedule(again, exclude_received=True)
    assert campaigns.start(again.pk)
    assert sender.run_sender(again.pk) == "done"
    assert sink.counts["newcomer@example.org"] == 1
    assert all(count == 1 for count in sink.counts.values())
    assert list(again.deliveries.values_list("subscriber", flat=True)) == [newcomer.pk]


def test_a_slow_chunk_keeps_its_lease_and_leaves_rows_taken_over_to_their_new_owner(
    audience, sink, monkeypatch
):
    for i in range(40):
        subscribe(audience["lists"][1], f"reader{i}@example.net")
    campaign = send_now(audience)
    recorded, clock = [], {"offset": 0.0}
    original, real_monotonic = ledger.Ledger.record_all, sender.monotonic
    monkeypatch.setattr(sender, "monotonic", lambda: real_monotonic() + clock["offset"])

    def record_all(self, outcomes, **options):
        original(self, outcomes, **options)
        self.settle()  # written (on PostgreSQL its answer is read later otherwise)
        recorded.extend(outcome.recipient.delivery_id for outcome in outcomes)
        if len(recorded) == 5:
            # The machine stalls past the lease: what is still leased looks expired...
            clock["offset"] += 301
            Delivery.objects.filter(status=Delivery.Status.LEASED).update(
                lease_expires_at=timezone.now() - timedelta(seconds=1)
            )
            # ...and another worker has taken the last ten rows of the chunk over meanwhile.
            last = Delivery.objects.filter(status=Delivery.Status.LEASED).order_by("-id")[:10]
            Delivery.objects.filter(pk__in=[row.pk for row in last]).update(
                lease_owner="other-worker",
                lease_expires_at=timezone.now() + timedelta(seconds=300),
            )

    monkeypatch.setattr(ledger.Ledger, "record_all", record_all)
    with override_settings(
        SENDING_CHUNK_SIZE=500,
        SENDING_STATUS_CHECK_EVERY=5,
        SENDING_LEASE_SECONDS=300,
        SENDING_TASK_SECONDS=3600,
    ):
        assert sender.run_sender(campaign.pk) == "idle"  # the rest is the other worker's
        # The next status check renewed the stalled lease: nobody else could requeue it.
        assert ledger.requeue_expired(campaign.pk) == 0
    taken = Delivery.objects.filter(lease_owner="other-worker")
    assert taken.count() == 10 and set(taken.values_list("status", flat=True)) == {
        Delivery.Status.LEASED
    }
    # The taken rows were left to their new owner: nobody got two messages.
    assert sink.total == 35 and set(sink.counts.values()) == {1}


@pytest.mark.parametrize("action", ["cancel", "pause"])
def test_cancel_and_pause_stop_within_the_chunk_in_flight(audience, sink, monkeypatch, action):
    for i in range(40):
        subscribe(audience["lists"][1], f"reader{i}@example.net")
    campaign = send_now(audience)
    recorded = []
    original = ledger.Ledger.record_all

    def record_all(self, outcomes, **options):
        original(self, outcomes, **options)
        self.settle()  # written (on PostgreSQL its answer is read later otherwise)
        recorded.extend(outcome.recipient.delivery_id for outcome in outcomes)
        if len(recorded) == 7:  # the editor presses the button mid-chunk
            getattr(campaigns, action)(Campaign.objects.get(pk=campaign.pk))

    monkeypatch.setattr(ledger.Ledger, "record_all", record_all)
    with override_settings(SENDING_CHUNK_SIZE=500, SENDING_STATUS_CHECK_EVERY=5):
        assert sender.run_sender(campaign.pk) == "stopped"
    # At most one status read's worth of messages after the press, never the chunk.
    assert 7 <= sink.total <= 7 + 5
    counts = campaign.counts()
    assert counts["sent"] == sink.total and counts["pending"] == 45 - sink.total
    assert not Delivery.objects.filter(status=Delivery.Status.LEASED).exists()  # released
    campaign.refresh_from_db()
    if action == "cancel":
        last = Delivery.objects.filter(campaign=campaign).aggregate(m=Max("sent_at"))["m"]
        assert campaign.finished_at >= last  # nothing is dated after "Finished"
    else:
        assert campaigns.resume(campaign)
        assert sender.run_sender(campaign.pk) == "done"
        assert sink.total == 45 and set(sink.counts.values()) == {1}


def test_unconfirmed_drafts_are_reused_and_stale_ones_discarded(audience, editor):
    from mailing import tasks

    page, (news, events) = audience["page"], audience["lists"]
    first = campaigns.draft(page, [news], user=editor)
    again = campaigns.draft(page, [events], user=editor)
    assert again.pk == first.pk and list(again.lists.all()) == [events]
    assert Campaign.objects.count() == 1
    Campaign.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=2))
    recent = campaigns.create(page, [news])
    tasks.dispatch()
    assert list(Campaign.objects.values_list("pk", flat=True)) == [recent.pk]


# --- test sends --------------------------------------------------------------------------


def test_a_test_send_is_labelled_consistent_and_its_links_work(audience, sink, client):
    page = fresh(audience["page"])
    page.subject = "Draft subject"
    page.save_revision()
    result = proof.send_test(page, ["editor@example.org", "Second@Example.org"])
    assert result == proof.TestSend(sent=2, draft=True)
    [(rcpt, message), _second] = sink.parsed()
    assert rcpt == "editor@example.org"
    assert message["Subject"] == "[Test, draft] Draft subject"
    assert message["Message-ID"].endswith("@cms.example.org>")
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe == "https://cms.example.org/subscriptions/test/unsubscribe/"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    footer = r"(Manage your preferences|Unsubscribe|View in browser):\s*(\S+)"
    links = dict(re.findall(footer, text))
    assert links["Unsubscribe"] == unsubscribe and links["Unsubscribe"] in html
    for url in (links["Unsubscribe"], links["Manage your preferences"]):
        response = client.get(url.removeprefix("https://cms.example.org"))
        assert response.status_code == 200 and "This was a test" in response.text
    one_click = client.post(
        unsubscribe.removeprefix("https://cms.example.org"), {"List-Unsubscribe": "One-Click"}
    )
    assert one_click.status_code == 200
    copy = client.get(links["View in browser"].removeprefix("https://cms.example.org"))
    assert copy.status_code == 200 and "%%" not in copy.text
    assert page.header_title in copy.text
    forged = links["View in browser"].rstrip("/")[:-3] + "xyz/"
    assert client.get(forged.removeprefix("https://cms.example.org")).status_code == 404
    assert client.get("/subscriptions/test/erase/").status_code == 404
    assert not Campaign.objects.exists() and not Delivery.objects.exists()


def test_a_test_send_refuses_too_many_addresses_and_a_broken_subject(audience, sink):
    page = audience["page"]
    too_many = pytest.raises(proof.TestSendError, match="3 addresses at most")
    with override_settings(SENDING_TEST_MAX_RECIPIENTS=3), too_many:
        proof.send_test(page, [f"t{i}@example.org" for i in range(4)])
    NewsletterPage.objects.filter(pk=page.pk).update(subject="Issue 3\r\nBcc: all@example.org")
    page = fresh(page)
    page.save_revision(clean=False)  # saved before the editors' forms refused line breaks
    with pytest.raises(proof.TestSendError, match="line break"):
        proof.send_test(page, ["editor@example.org"])
    assert sink.total == 0


def test_a_test_send_refuses_a_list_name_saved_with_a_line_break(audience, sink):
    # Saved before the editors' forms refused line breaks: the test says so, sends nothing.
    mailing_list = audience["lists"][0]
    MailingList.objects.filter(pk=mailing_list.pk).update(name="News\r\nBcc: all@example.org")
    with pytest.raises(proof.TestSendError, match="cannot be sent"):
        proof.send_test(
            audience["page"],
            ["editor@example.org"],
            lists=MailingList.objects.filter(pk=mailing_list.pk),
        )
    assert sink.total == 0


# --- the commands ------------------------------------------------------------------------


def command(*args):
    from io import StringIO

    from django.core.management import call_command

    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_send_newsletter_refuses_an_unpublished_issue_and_warns_on_a_resend(audience, sink):
    from django.core.management.base import CommandError

    page = fresh(audience["page"])
    page.unpublish()
    with pytest.raises(CommandError, match="is not published: publish it before sending"):
        command("send_newsletter", page.slug, "--list", "newsletter")
    assert not Campaign.objects.exists()

    page.save_revision().publish()
    out, err = command("send_newsletter", page.slug, "--list", "newsletter", "--json")
    first = Campaign.objects.get(pk=json.loads(out)["campaign"])
    campaigns.start(first.pk)
    sender.run_sender(first.pk)
    out, err = command("send_newsletter", page.slug, "--list", "newsletter", "--only-new", "--json")
    assert f"campaign {first.pk} already sent this issue to PENELOPE newsletter" in err
    assert json.loads(out)["recipients"] == 0
    assert Campaign.objects.get(pk=json.loads(out)["campaign"]).exclude_received

    status = json.loads(command("campaign_status", str(first.pk), "--json")[0])
    assert {k: status[k] for k in ("status", "recipients", "sent", "failed", "pending")} == {
        "status": "sent",
        "recipients": 4,
        "sent": 4,
        "failed": 0,
        "pending": 0,
    }
    # Over SMTP, delivered is what the receiving server accepted.
    assert status["delivered"] == 4
    for key in ("bounced", "complained", "opened", "clicked", "clicks", "unsubscribed"):
        assert status[key] == 0, key


def test_send_newsletter_test_sends_say_what_went_wrong(audience, sink):
    from django.core.management.base import CommandError

    page = audience["page"]
    out, _err = command("send_newsletter", page.slug, "--test-to", "me@example.org", "--json")
    assert json.loads(out) == {"test_sent": 1, "draft": False}
    many = [arg for i in range(11) for arg in ("--test-to", f"t{i}@example.org")]
    with pytest.raises(CommandError, match="10 addresses at most"):
        command("send_newsletter", page.slug, *many)
    NewsletterPage.objects.filter(pk=page.pk).update(subject="Two\nlines")
    fresh(page).save_revision(clean=False)  # saved before the forms refused line breaks
    with pytest.raises(CommandError, match="line break"):
        command("send_newsletter", page.slug, "--test-to", "me@example.org")
    assert sink.total == 1
