"""The ledger's writes: few statements per chunk, each result durable before the next send.

Runs on SQLite by default and on PostgreSQL with INTEGRATION_DATABASE_URL, where a lease
is one statement, a transport batch's outcomes are one statement and result commits do
not wait for the WAL flush (``mailing.sending.ledger.ASYNC_COMMIT``).
"""

import dataclasses
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from mailing import answered_later
from mailing.models import Bounce, Delivery
from mailing.sending import ledger, sender
from mailing.sending.transports.base import Outcome, Transport
from tests.mailing.test_sending import (
    EXPECTED,
    audience,
    send_now,
    sink,
    subscribe,
)

# The sending tests' fixtures, shared.
FIXTURES = (audience, sink)
POSTGRESQL = connection.vendor == "postgresql"


def ledger_writes(queries):
    """The statements that wrote results (they end the lease; not leases, renewals or
    releases, which the ORM writes with quoted names)."""
    table = Delivery._meta.db_table
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith(f"UPDATE {table} ") and "lease_owner=''" in q["sql"]
    ]


@pytest.mark.django_db
def test_a_batch_of_outcomes_is_one_statement_with_each_outcome_as_written_alone(audience):
    campaign = send_now(audience)
    chunk = ledger.lease(campaign.pk, "worker-a", 10)
    assert len(chunk) == len(EXPECTED) == 5
    sent, retried, bounced, exhausted, taken = chunk
    # Another worker took this row over after our lease ran out: not ours to write.
    Delivery.objects.filter(pk=taken.delivery_id).update(lease_owner="worker-b")
    outcomes = [
        Outcome.sent(sent, "esp-42"),
        Outcome.retry(retried, "429 slow down"),
        Outcome.failed(bounced, "550 5.1.1 no such user", bounce=True),
        Outcome.retry(dataclasses.replace(exhausted, attempts=4), "451 try later"),
        Outcome.sent(taken, "esp-43"),
    ]
    before = timezone.now()
    with (
        override_settings(SENDING_MAX_ATTEMPTS=5, SENDING_RETRY_SECONDS=60),
        CaptureQueriesContext(connection) as queries,
    ):
        ledger.Ledger("worker-a").record_all(outcomes)
    writes = ledger_writes(queries.captured_queries)
    assert len(writes) == (1 if POSTGRESQL else 5)
    if POSTGRESQL:
        assert "synchronous_commit" in writes[0]

    rows = {d.pk: d for d in Delivery.objects.filter(campaign=campaign)}
    row = rows[sent.delivery_id]
    assert (row.status, row.provider_message_id, row.error, row.attempts) == (
        "sent",
        "esp-42",
        "",
        1,
    )
    assert row.sent_at >= before and row.lease_owner == "" and row.lease_expires_at is None
    row = rows[retried.delivery_id]
    assert (row.status, row.error, row.attempts, row.sent_at) == (
        "pending",
        "429 slow down",
        1,
        None,
    )
    assert before + timedelta(seconds=59) < row.next_attempt_at < before + timedelta(seconds=70)
    assert row.lease_owner == "" and row.provider_message_id == ""
    row = rows[bounced.delivery_id]
    assert (row.status, row.error, row.sent_at) == ("failed", "550 5.1.1 no such user", None)
    row = rows[exhausted.delivery_id]
    assert row.status == "failed" and row.next_attempt_at is None
    assert row.error == "gave up after 5 attempts: 451 try later"
    row = rows[taken.delivery_id]
    assert (row.status, row.lease_owner, row.attempts, row.sent_at) == (
        "leased",
        "worker-b",
        0,
        None,
    )
    # The refusal is a bounce of that delivery, as when written one by one; nothing else is.
    assert list(Bounce.objects.values_list("delivery_id", flat=True)) == [bounced.delivery_id]


@pytest.mark.django_db
def test_a_refusal_for_a_row_taken_over_is_no_bounce(audience):
    campaign = send_now(audience)
    first, second, *_ = ledger.lease(campaign.pk, "worker-a", 10)
    Delivery.objects.filter(pk=first.delivery_id).update(lease_owner="worker-b")
    ledger.Ledger("worker-a").record_all(
        [
            Outcome.failed(first, "550 5.1.1 no such user", bounce=True),
            Outcome.failed(second, "550 5.1.1 no such user", bounce=True),
        ]
    )
    assert list(Bounce.objects.values_list("delivery_id", flat=True)) == [second.delivery_id]
    assert Delivery.objects.get(pk=first.delivery_id).status == "leased"


class Batches(Transport):
    """An API-style transport: ``batch_size`` recipients a call, answered together.

    At each call it checks that every earlier outcome is already committed."""

    batch_size = 2

    def __init__(self):
        self.returned, self.calls = [], 0

    def send(self, batch, before_delivery):
        self.calls += 1
        # The previous batch's write may still be on its way: it is read back before
        # anything of this batch is delivered.
        before_delivery()
        # Nothing held open between sends (the test's own transaction aside): each batch
        # was written by its own statement, committed on its own in a worker.
        assert not connection.savepoint_ids
        done = Delivery.objects.filter(pk__in=self.returned, status=Delivery.Status.SENT)
        assert done.count() == len(self.returned)
        self.returned += [r.delivery_id for r in batch]
        return [Outcome.sent(r, f"api-{r.delivery_id}") for r in batch]


@pytest.mark.django_db
def test_each_batch_is_durable_before_the_next_send_in_bounded_statements(audience, monkeypatch):
    for i in range(15):
        subscribe(audience["lists"][1], f"reader{i}@example.net")
    campaign = send_now(audience)
    transport = Batches()
    monkeypatch.setattr(sender, "transport_for", lambda campaign: transport)
    with (
        override_settings(
            SENDING_CHUNK_SIZE=500,
            SENDING_STATUS_CHECK_EVERY=4,
            SENDING_STATUS_CHECK_SECONDS=3600,
        ),
        CaptureQueriesContext(connection) as queries,
    ):
        assert sender.run_sender(campaign.pk) == "done"
    assert transport.calls == 10
    assert Delivery.objects.filter(campaign=campaign, status="sent").count() == 20
    assert set(Delivery.objects.values_list("provider_message_id", flat=True)) == {
        f"api-{pk}" for pk in transport.returned
    }
    # One statement per batch on PostgreSQL; elsewhere one per recipient in one
    # transaction per batch (a savepoint and its release here, inside the test's own
    # transaction). The rest of the chunk's work does not grow with the number of
    # recipients beyond the status checks (every 4 here: a status read).
    writes = ledger_writes(queries.captured_queries)
    assert len(writes) == (10 if POSTGRESQL else 20)
    transactions = 0 if POSTGRESQL else 2 * transport.calls
    checks = 20 // 4 + 1
    own = transport.calls  # the transport's checks above
    assert len(queries.captured_queries) - own <= len(writes) + transactions + checks + 25


@pytest.mark.django_db
def test_an_smtp_chunk_costs_one_statement_per_recipient_plus_status_checks(audience, sink):
    for i in range(40):
        subscribe(audience["lists"][1], f"reader{i}@example.net")
    campaign = send_now(audience)
    with (
        override_settings(
            SENDING_CHUNK_SIZE=500,
            SENDING_STATUS_CHECK_EVERY=10,
            SENDING_STATUS_CHECK_SECONDS=3600,
        ),
        CaptureQueriesContext(connection) as queries,
    ):
        assert sender.run_sender(campaign.pk) == "done"
    assert sink.total == 45 and set(sink.counts.values()) == {1}
    writes = ledger_writes(queries.captured_queries)
    assert len(writes) == 45
    if POSTGRESQL:
        assert all("synchronous_commit" in sql for sql in writes)
    # Besides: a status read per 10 messages, a lease, a release, the campaign's end.
    checks = 45 // 10 + 1
    assert len(queries.captured_queries) <= len(writes) + checks + 25


@pytest.mark.django_db
@pytest.mark.parametrize("pipelining", [True, False])
def test_with_four_smtp_connections_a_statement_writes_four_results(audience, sink, pipelining):
    """SENDING_SMTP_CONNECTIONS=4: four messages in flight at once, one per connection,
    and their four results written together before the next four go."""
    sink.pipelining = pipelining
    for i in range(40):
        subscribe(audience["lists"][1], f"reader{i}@example.net")
    campaign = send_now(audience)
    settings = {"SENDING_CHUNK_SIZE": 500, "SENDING_STATUS_CHECK_SECONDS": 3600}
    with (
        override_settings(**settings, SENDING_SMTP_CONNECTIONS=4),
        CaptureQueriesContext(connection) as queries,
    ):
        assert sender.run_sender(campaign.pk) == "done"
    assert sink.total == 45 and set(sink.counts.values()) == {1}
    assert len(sink.peers) == 4  # four connections, each reused
    batches = -(-45 // 4)
    writes = ledger_writes(queries.captured_queries)
    assert len(writes) == (batches if POSTGRESQL else 45)
    if POSTGRESQL:
        assert all("synchronous_commit" in sql for sql in writes)
    transactions = 0 if POSTGRESQL else 2 * batches
    assert len(queries.captured_queries) <= len(writes) + transactions + 45 // 10 + 1 + 25


@pytest.mark.django_db
def test_a_lease_is_one_statement_on_postgresql_and_reads_who_to_mail(audience):
    campaign = send_now(audience)
    Delivery.objects.filter(campaign=campaign).update(attempts=2)
    with CaptureQueriesContext(connection) as queries:
        chunk = ledger.lease(campaign.pk, "worker-a", 3)
    assert len(queries.captured_queries) == (1 if POSTGRESQL else 5)
    rows = Delivery.objects.filter(campaign=campaign).select_related("subscriber")
    leased = sorted(row.pk for row in rows if row.lease_owner == "worker-a")
    assert [r.delivery_id for r in chunk] == leased == sorted(row.pk for row in rows)[:3]
    by_id = {row.pk: row for row in rows}
    for recipient in chunk:
        row = by_id[recipient.delivery_id]
        assert row.status == "leased" and row.lease_expires_at > timezone.now()
        assert (recipient.email, recipient.name) == (row.subscriber.email, row.subscriber.name)
        assert (recipient.subscriber_id, recipient.list_id, recipient.attempts) == (
            row.subscriber_id,
            row.mailing_list_id,
            2,
        )
    # An erased subscriber is still leased, with nobody to mail (the sender fails the row).
    rest = [row.pk for row in rows if row.pk not in leased]
    Delivery.objects.filter(pk=rest[0]).update(subscriber=None)
    later = ledger.lease(campaign.pk, "worker-b", 10)
    assert [r.delivery_id for r in later] == rest and later[0].erased


@pytest.mark.django_db
def test_renewal_extends_the_leases_still_held_and_counts_them(audience):
    campaign = send_now(audience)
    with override_settings(SENDING_LEASE_SECONDS=300):
        chunk = ledger.lease(campaign.pk, "worker-a", 10)
        mine = Delivery.objects.filter(lease_owner="worker-a")
        soon = timezone.now() + timedelta(seconds=100)
        mine.update(lease_expires_at=soon)
        taken = chunk[1].delivery_id
        Delivery.objects.filter(pk=taken).update(lease_owner="worker-b")
        assert ledger.renew("worker-a") == len(chunk) - 1 == 4
        assert all(
            expires > timezone.now() + timedelta(seconds=290)
            for expires in mine.values_list("lease_expires_at", flat=True)
        )
        assert Delivery.objects.get(pk=taken).lease_expires_at == soon  # not ours: untouched


def test_leases_are_extended_once_half_their_time_is_gone_not_at_every_check(
    audience, sink, monkeypatch
):
    """Every status check reads the status; a renewal (a write of every leased row) comes
    only when half the lease has passed on the sender's clock."""
    for i in range(40):
        subscribe(audience["lists"][1], f"reader{i}@example.net")
    campaign = send_now(audience)
    renewals, clock = [], {"offset": 0.0}
    real_renew, real_monotonic = sender.renew, sender.monotonic
    monkeypatch.setattr(sender, "renew", lambda owner: renewals.append(owner) or real_renew(owner))
    monkeypatch.setattr(sender, "monotonic", lambda: real_monotonic() + clock["offset"])
    original = ledger.Ledger.record_all

    def record_all(self, outcomes, **options):
        original(self, outcomes, **options)
        if any(outcome.recipient.delivery_id == first + 20 for outcome in outcomes):
            clock["offset"] += 200  # more than half of the 300-second lease

    first = Delivery.objects.filter(campaign=campaign).order_by("id").first().pk
    monkeypatch.setattr(ledger.Ledger, "record_all", record_all)
    settings = {"SENDING_STATUS_CHECK_EVERY": 5, "SENDING_LEASE_SECONDS": 300}
    with override_settings(**settings, SENDING_TASK_SECONDS=3600):
        assert sender.run_sender(campaign.pk) == "done"
    assert sink.total == 45
    assert len(renewals) == 1  # nine status checks, one renewal


@pytest.mark.django_db
@pytest.mark.parametrize("pipelining", [True, False])
def test_a_batch_write_overlaps_the_next_envelopes_never_a_delivery(
    audience, sink, monkeypatch, pipelining
):
    """On PostgreSQL a batch's write is sent, and its answer read only when the next batch
    is about to deliver: after the next envelopes are written (pipelining), before any
    message data. Elsewhere each write is answered before ``record_all`` returns."""
    from mailing.sending.transports import smtp

    sink.pipelining = pipelining
    for i in range(40):
        subscribe(audience["lists"][1], f"reader{i}@example.net")
    campaign = send_now(audience)
    events = []
    real_send, real_answer = answered_later._send, answered_later._answer
    write_envelope, serial_envelope = smtp.Session.write_envelope, smtp.Session.serial_envelope
    write_data = smtp.Session.write_data
    monkeypatch.setattr(
        answered_later, "_send", lambda *a: events.append("write sent") or real_send(*a)
    )
    monkeypatch.setattr(
        answered_later, "_answer", lambda *a: events.append("write answered") or real_answer(*a)
    )
    monkeypatch.setattr(
        smtp.Session,
        "write_envelope",
        lambda *a: events.append("envelope") or write_envelope(*a),
    )
    monkeypatch.setattr(
        smtp.Session,
        "serial_envelope",
        lambda *a: events.append("envelope") or serial_envelope(*a),
    )
    monkeypatch.setattr(
        smtp.Session, "write_data", lambda *a: events.append("data") or write_data(*a)
    )
    settings = {"SENDING_CHUNK_SIZE": 500, "SENDING_STATUS_CHECK_SECONDS": 3600}
    with override_settings(**settings, SENDING_SMTP_CONNECTIONS=4):
        assert sender.run_sender(campaign.pk) == "done"
    assert sink.total == 45 and set(sink.counts.values()) == {1}
    assert Delivery.objects.filter(campaign=campaign, status="sent").count() == 45
    if not POSTGRESQL:
        assert "write sent" not in events
        return
    batches = -(-45 // 4)
    assert events.count("write sent") == events.count("write answered") == batches
    # No message data while a write is unanswered: each is answered before the next data.
    pending = False
    for event in events:
        if event == "write sent":
            assert not pending
            pending = True
        elif event == "write answered":
            pending = False
        elif event == "data":
            assert not pending
    if pipelining:
        # ...and while it was on its way, the next batch's envelopes went out.
        overlapped = re.findall(r"write sent(?: envelope)+ write answered", " ".join(events))
        assert len(overlapped) == batches - 1  # every batch but the last has a next one


@pytest.mark.django_db
@pytest.mark.skipif(not POSTGRESQL, reason="writes answered later exist on PostgreSQL only")
def test_a_write_that_fails_raises_when_its_answer_is_read_and_leaves_the_connection_usable(
    audience,
):
    from django.db import DatabaseError

    campaign = send_now(audience)
    first, second, *_ = ledger.lease(campaign.pk, "worker-a", 10)
    book = ledger.Ledger("worker-a")
    with CaptureQueriesContext(connection) as queries:
        book.record_all([Outcome.sent(first, "a")], wait=False)
        assert book.unread is not None
        book.settle()
        book.settle()  # nothing left to read: no statement
    assert Delivery.objects.get(pk=first.delivery_id).status == "sent"
    assert book.take_status() == "sending"
    # Any statement through Django while a write is unanswered reads its answer first.
    book.record_all([Outcome.failed(second, "550 5.1.1 no such user")], wait=False)
    assert Delivery.objects.get(pk=second.delivery_id).status == "failed"
    assert book.unread is None and book.take_status() == "sending"
    assert not connection.execute_wrappers
    Delivery.objects.filter(pk=second.delivery_id).update(status="leased")
    assert len(ledger_writes(queries.captured_queries)) == 1
    assert float(queries.captured_queries[0]["time"]) >= 0
    # A statement the server refuses: the error comes with its answer, as Django's.
    bad = dataclasses.replace(second, delivery_id=2**63)  # out of bigint's range
    with connection.cursor() as cursor:
        cursor.execute("SAVEPOINT before_bad")
    book.record_all([Outcome.sent(bad, "b")], wait=False)
    with pytest.raises(DatabaseError, match="out of range"):
        book.settle()
    with connection.cursor() as cursor:
        cursor.execute("ROLLBACK TO SAVEPOINT before_bad")
    assert book.unread is None
    assert Delivery.objects.get(pk=second.delivery_id).status == "leased"
