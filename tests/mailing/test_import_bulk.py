"""The import's bulk paths: addresses checked as `clean_email` would, rows written with
`COPY` on PostgreSQL (`bulk_create` on SQLite) with the same outcome, all or nothing."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from mailing.bulk_writes import insert_rows
from mailing.importing import _Addresses, import_subscribers
from mailing.models import MailingList, Subscriber, SubscriberEvent, Subscription
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


def test_a_batch_that_fails_leaves_nothing_of_itself(db, monkeypatch):
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
