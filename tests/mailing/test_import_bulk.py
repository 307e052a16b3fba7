"""The import's bulk paths: addresses checked as `clean_email` would, rows written with
`COPY` on PostgreSQL (`bulk_create` on SQLite) with the same outcome, all or nothing."""

import io
import re

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from mailing.bulk_writes import insert_rows, rows_matching
from mailing.importing import _Addresses, import_subscribers
from mailing.models import MailingList, Subscriber, SubscriberEvent, Subscription, Suppression
from mailing.subscriptions import clean_email

pytestmark = pytest.mark.django_db

ADDRESSES = [
    "plain@example.org",
    "  spaced@example.org ",
    "Mixed.Case@Example.ORG",
    "o'reilly+tag@sub.example.co.uk",
    "x!#$%&'*+/=?^_`{|}~-@example.org",
    "a.b.c@example.org",
    "a..b@example.org",
    ".lead@example.org",
    "trail.@example.org",
    "a" * 64 + "@example.org",
    "a" * 65 + "@example.org",
    "b@" + ".".join(["d" * 60] * 4) + ".org",
    "c" * 60 + "@" + ".".join(["e" * 60] * 3) + ".org",
    "user@localhost",
    "user@example",
    "user@-bad.example.org",
    "user@bad-.example.org",
    "user@exa_mple.org",
    "user@123.45.67.89",
    "user@example.test",
    "user@example.invalid",
    "user@xn--bcher-kva.example",
    "user@bücher.example",
    "ünï@example.org",
    '"quoted"@example.org',
    "user@@example.org",
    "user@example..org",
    "user@.example.org",
    "no-at-sign",
    "",
    "user@exam\u0440le.org",  # a Cyrillic "р"
    "user@example.org\r\nBcc: x@example.org",
    "user@" + "x" * 64 + ".org",
]


def _outcome(check, address):
    try:
        return check(address)
    except ValidationError:
        return "invalid"


@pytest.mark.parametrize("address", ADDRESSES)
def test_plain_addresses_are_cleaned_as_the_full_check_does(address):
    addresses = _Addresses()
    first = _outcome(addresses.clean, address)
    assert first == _outcome(clean_email, address)
    assert _outcome(addresses.clean, address) == first  # the remembered domain agrees


def test_the_remembered_domains_stay_bounded(monkeypatch):
    monkeypatch.setattr("mailing.importing._DOMAINS_KEPT", 5)
    addresses = _Addresses()
    for i in range(20):
        assert addresses.clean(f"p@d{i}.example.org") == f"p@d{i}.example.org"
    assert len(addresses.domains) <= 5


CSV = "email,name\n" + "".join(f"p{i}@example.org,Person {i}\n" for i in range(2500))


def test_a_large_file_imports_every_row_in_batches(db):
    people = MailingList.objects.create(name="People", slug="people")
    Subscriber.objects.create(email="p7@example.org", email_hash="")  # a signup meanwhile
    rejects = io.StringIO()
    report = import_subscribers(
        io.StringIO(CSV + "p3@example.org,Again\nbroken,No\n"),
        people,
        confirmed=True,
        rejects=rejects,
        batch_size=1000,
    )
    assert report.accounted
    assert (report.rows, report.subscribed, report.rejected) == (2502, 2500, 2)
    assert Subscription.objects.filter(mailing_list=people, status="confirmed").count() == 2500
    assert Subscriber.objects.count() == 2500
    assert SubscriberEvent.objects.filter(kind="imported").count() == 2500
    person = Subscriber.objects.get(email="p42@example.org")
    assert person.name == "Person 42" and person.language == "en"
    assert person.search_text == "p42@example.org person 42"
    assert person.updated_at is not None and person.attributes == {}
    event = SubscriberEvent.objects.filter(subscriber=person).get()
    assert event.detail["line"] == 44 and event.detail["status"] == "confirmed"
    lines = rejects.getvalue().splitlines()
    assert "duplicate" in lines[1] and "invalid" in lines[2]


@pytest.mark.parametrize(
    "transactional",
    [
        False,
        # Outside a caller's transaction, where PostgreSQL's commits are answered later.
        pytest.param(
            True,
            marks=[
                pytest.mark.django_db(transaction=True),
                pytest.mark.skipif(
                    connection.vendor != "postgresql", reason="the same path as without"
                ),
            ],
        ),
    ],
)
def test_a_batch_that_fails_leaves_nothing_of_itself(transactional, monkeypatch):
    """Batches before the failure stay; of the failing one, not a subscriber is left."""
    people = MailingList.objects.create(name="People", slug="people")
    from mailing import importing

    written = []

    def insert_then_fail(model, rows, **kwargs):
        insert_rows(model, rows, **kwargs)
        written.append(model)
        if model is SubscriberEvent and len(written) > 3:
            raise IntegrityError("the database went away")

    monkeypatch.setattr(importing, "insert_rows", insert_then_fail)
    with pytest.raises(IntegrityError):
        import_subscribers(io.StringIO(CSV), people, confirmed=True, batch_size=1000)
    assert Subscriber.objects.count() == 1000
    assert Subscription.objects.count() == SubscriberEvent.objects.count() == 1000
    assert not Subscriber.objects.filter(email="p1000@example.org").exists()
    if transactional:
        _left_as_found()


POSTGRESQL = connection.vendor == "postgresql"
later_only = pytest.mark.skipif(
    not POSTGRESQL, reason="commits answered later exist on PostgreSQL only"
)


def _left_as_found():
    """Autocommit back on, no transaction, no statement waiting for its answer."""
    assert connection.get_autocommit() and not connection.in_atomic_block
    assert not connection.execute_wrappers
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert MailingList.objects.filter(slug="people").exists()  # the connection answers


@later_only
def test_a_batch_commits_while_the_next_rows_are_read(transactional_db, monkeypatch):
    """Outside a transaction of the caller's, each batch's COMMIT is sent and its answer
    read when the next batch writes, after that batch's rows were read and checked; the
    last batch commits as before (waiting for the disk), and every row is written."""
    from mailing import answered_later, importing

    people = MailingList.objects.create(name="People", slug="people")
    events = []
    send, answer, validate = (
        answered_later._send,
        answered_later._answer,
        importing._Importer.validate,
    )
    monkeypatch.setattr(answered_later, "_send", lambda *a: events.append("sent") or send(*a))
    monkeypatch.setattr(
        answered_later, "_answer", lambda *a: events.append("answered") or answer(*a)
    )
    monkeypatch.setattr(
        importing._Importer, "validate", lambda *a: events.append("row") or validate(*a)
    )
    with CaptureQueriesContext(connection) as ctx:
        report = import_subscribers(
            io.StringIO(CSV), people, confirmed=True, batch_size=1000, import_id="job"
        )
    assert (report.rows, report.subscribed) == (2500, 2500)
    flow = " ".join(events)
    # Batches of 1000, 1000 and 500: two commits answered later, each after the rows
    # read and checked while it was on its way (a batch is written once the row after
    # it is read, so the next 1000, then the last 499).
    assert flow.count("sent") == flow.count("answered") == 2
    between = [m.count("row") for m in re.findall(r"sent(?: row)* answered", flow)]
    assert between == [1000, 499]
    # Django's query log holds them as any statement, with the last batch's own commit.
    assert [q["sql"] for q in ctx.captured_queries].count("COMMIT") == 3
    assert Subscription.objects.filter(mailing_list=people, status="confirmed").count() == 2500
    assert SubscriberEvent.objects.filter(detail__import="job").count() == 2500
    _left_as_found()


@later_only
def test_a_commit_refused_when_answered_leaves_nothing_of_its_batch(transactional_db, monkeypatch):
    """A batch whose COMMIT the server refuses (here a deferred foreign key that points
    nowhere) raises when its answer is read, before the next batch writes anything: the
    import stops with the database's error, the batches committed before it stay."""
    from mailing import importing

    people = MailingList.objects.create(name="People", slug="people")
    calls = []

    def insert_one_orphan(model, rows, **kwargs):
        if model is SubscriberEvent:
            calls.append(model)
            if len(calls) == 2:  # the second batch's history gets a row for nobody
                rows = [*rows, {**rows[0], "subscriber_id": 2**62}]
        return insert_rows(model, rows, **kwargs)

    monkeypatch.setattr(importing, "insert_rows", insert_one_orphan)
    with pytest.raises(IntegrityError, match="foreign key"):
        import_subscribers(io.StringIO(CSV), people, confirmed=True, batch_size=1000)
    assert Subscriber.objects.count() == Subscription.objects.count() == 1000
    assert SubscriberEvent.objects.count() == 1000
    assert not Subscriber.objects.filter(email="p1000@example.org").exists()
    assert not Subscriber.objects.filter(email="p2000@example.org").exists()
    _left_as_found()


def test_conflicting_rows_are_skipped_and_the_rest_written(db):
    people = MailingList.objects.create(name="People", slug="people")
    taken = Subscriber.objects.create(email="taken@example.org", email_hash="h1")
    insert_rows(
        Subscriber,
        [
            {"email": "TAKEN@example.org", "email_hash": "h1b"},
            {"email": "free@example.org", "email_hash": "h2", "attributes": {"org": "Ä"}},
        ],
        ignore_conflicts=True,
    )
    assert Subscriber.objects.count() == 2
    free = Subscriber.objects.get(email="free@example.org")
    assert free.attributes == {"org": "Ä"} and free.status == "active"
    insert_rows(
        Subscription,
        [{"subscriber_id": taken.pk, "mailing_list_id": people.pk}] * 2,
        ignore_conflicts=True,
    )
    assert Subscription.objects.get().status == "pending"


def test_inserted_rows_come_back_with_their_ids_and_conflicts_do_not(db):
    rows = [
        {"email": "one@example.org", "email_hash": "n1"},
        {"email": "two@example.org", "email_hash": "n2", "topics": ["a"]},
    ]
    back = insert_rows(Subscriber, rows, ignore_conflicts=True, returning=("email_hash", "id"))
    stored = dict(Subscriber.objects.values_list("email_hash", "pk"))
    assert set(stored) == {"n1", "n2"}
    assert Subscriber.objects.get(email_hash="n2").topics == ["a"]
    assert Subscriber.objects.get(email_hash="n1").topics == []  # the default, encoded
    if connection.vendor != "postgresql":
        assert back is None  # bulk_create does not return ids with ignore_conflicts
        return
    assert dict(back) == stored
    # One row taken meanwhile: the other is written, and only it comes back.
    back = insert_rows(
        Subscriber,
        [{"email": "ONE@example.org", "email_hash": "n1b"}, {"email": "3@example.org"}],
        ignore_conflicts=True,
        returning=("email_hash", "id"),
    )
    assert back == [("", Subscriber.objects.get(email="3@example.org").pk)]
    assert Subscriber.objects.count() == 3


def test_rows_are_found_by_keys_of_any_spelling(db):
    odd = ['quo"te', "back\\slash", "com,ma", "{brace}", " spaced ", "NULL", "it's", "é", ""]
    for key in odd:
        Suppression.objects.create(email_hash=key, reason="manual")
    found = rows_matching(Suppression, "email_hash", [*odd, "absent", "null"], ("email_hash",))
    assert sorted(h for (h,) in found) == sorted(odd)
    assert rows_matching(Suppression, "email_hash", [], ("email_hash",)) == []

    people = MailingList.objects.create(name="People", slug="people")
    others = MailingList.objects.create(name="Others", slug="others")
    a = Subscriber.objects.create(email="a@example.org")
    b = Subscriber.objects.create(email="b@example.org")
    Subscription.objects.create(subscriber=a, mailing_list=people)
    Subscription.objects.create(subscriber=a, mailing_list=others)
    Subscription.objects.create(subscriber=b, mailing_list=others)
    found = rows_matching(
        Subscription,
        "subscriber",
        [a.pk, b.pk, a.pk, 10**15],
        ("subscriber", "mailing_list"),
        where={"mailing_list": [people.pk]},
    )
    assert found == [(a.pk, people.pk)]
    both = rows_matching(Subscription, "subscriber", [a.pk], ("mailing_list",))
    assert sorted(both) == sorted([(people.pk,), (others.pk,)])


def test_an_import_into_a_fresh_table_does_not_scan_it_for_each_batch(db):
    """On PostgreSQL, the batch lookups stay index probes (`rows_matching`), whatever the
    planner would choose for an IN list: the plan of each lookup is one Nested Loop."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner")
    Subscriber.objects.bulk_create(
        [Subscriber(email=f"s{i}@example.org", email_hash=f"{i:064x}") for i in range(3000)]
    )
    keys = [f"{i:064x}" for i in range(0, 6000, 3)]
    with connection.cursor() as cursor:
        captured = []
        with connection.execute_wrapper(
            lambda execute, sql, params, many, context: (
                captured.append((sql, params)) or execute(sql, params, many, context)
            )
        ):
            found = rows_matching(Subscriber, "email_hash", keys, ("email_hash", "id"))
        assert len(found) == 1000
        sql, params = captured[-1]
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert (
        "Nested Loop" in plan and "Index" in plan and "Seq Scan on mailing_subscriber" not in plan
    )


def test_only_the_last_batch_waits_for_the_disk(db):
    """Every batch but the last commits without waiting for its WAL to be flushed; the
    last one waits, and so makes the earlier ones durable too (PostgreSQL only)."""
    people = MailingList.objects.create(name="People", slug="people")
    with CaptureQueriesContext(connection) as ctx:
        report = import_subscribers(
            io.StringIO(CSV + "broken,Not an address\n"), people, confirmed=True, batch_size=1000
        )
    assert report.subscribed == 2500 and report.rejected == 1
    asynchronous = [q for q in ctx.captured_queries if "synchronous_commit" in q["sql"]]
    if connection.vendor == "postgresql":
        # Three batches (1000, 1000, 500), the rejected row after the last one read.
        assert len(asynchronous) == 2
    else:
        assert asynchronous == []
    # A file of exactly one batch: its only commit is the last.
    with CaptureQueriesContext(connection) as ctx:
        import_subscribers(io.StringIO(CSV), people, confirmed=True, batch_size=2500)
    assert not [q for q in ctx.captured_queries if "synchronous_commit" in q["sql"]]


def test_conflicts_are_skipped_whichever_columns_each_call_copies(db):
    """The temporary table a conflict goes through serves calls with and without ids."""
    Subscriber.objects.create(email="taken@example.org")
    for returning in ((), ("email_hash", "id"), ()):
        insert_rows(
            Subscriber,
            [{"email": "TAKEN@example.org"}, {"email": f"new{len(returning)}@example.org"}],
            ignore_conflicts=True,
            returning=returning,
        )
    assert sorted(Subscriber.objects.values_list("email", flat=True)) == [
        "new0@example.org",
        "new2@example.org",
        "taken@example.org",
    ]


def test_copied_values_come_back_as_written(newsletter_list):
    """What `COPY`'s text format escapes (backslash, tab, newline, carriage return, a
    literal `\\N`), NULLs, JSON holding them, booleans, dates with offsets, addresses."""
    from datetime import UTC, datetime, timedelta, timezone

    awkward = "tab\there\nnew\rline \\N back\\slash «ünï» 𝔘"
    subscriber = Subscriber.objects.create(email="copy@example.org")
    when = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=timezone(timedelta(hours=-5)))
    insert_rows(
        SubscriberEvent,
        [
            {
                "subscriber_id": subscriber.pk,
                "mailing_list_id": None,
                "kind": "imported",
                "created_at": when,
                "source": awkward,
                "ip_address": "2001:db8::1",
                "detail": {"text": awkward, "list": [1, None, True], "none": None},
            },
            {"subscriber_id": subscriber.pk, "kind": "confirmed", "source": "\\N"},
        ],
    )
    first, second = SubscriberEvent.objects.filter(subscriber=subscriber).order_by("pk")
    assert first.source == awkward and first.mailing_list_id is None
    assert first.detail == {"text": awkward, "list": [1, None, True], "none": None}
    assert first.created_at == when and first.created_at.astimezone(UTC).hour == 10
    assert first.ip_address == "2001:db8::1"
    assert second.source == "\\N" and second.ip_address is None and second.detail == {}
