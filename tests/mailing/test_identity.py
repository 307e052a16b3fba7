"""One identity per address: every spelling of a mailbox (full-width, punycode, NFD, any
case of the domain) is one subscriber, one suppression and one confirmation count."""

import hashlib
import importlib
import unicodedata

import pytest
from django.apps import apps

from mailing import subscriptions, tokens
from mailing.models import (
    Subscriber,
    Suppression,
    email_hash,
    legacy_email_hash,
    normalise_email,
)
from tests import smtp
from tests.mailing.helpers import signup

pytestmark = pytest.mark.django_db

smtp_server = smtp.smtp_server

NFD = unicodedata.normalize("NFD", "josé@example.org")
SPELLINGS = {
    # the mailbox in its normal form → other spellings people (or attackers) type
    "victim@example.org": [
        "victim@ｅｘａｍｐｌｅ.org",
        "victim@EXAMPLE.ORG",
        " victim@Example.org ",
        "VICTIM@example.org",
    ],
    "jose@bücher.de": ["jose@xn--bcher-kva.de", "jose@BÜCHER.DE", "jose@bu\u0308cher.de"],
    "josé@example.org": [NFD, "josé@ＥＸＡＭＰＬＥ.ORG"],
}
ALL = [(canonical, spelling) for canonical, others in SPELLINGS.items() for spelling in others]


@pytest.mark.parametrize(("canonical", "spelling"), ALL)
def test_every_spelling_is_one_identity(canonical, spelling):
    assert email_hash(spelling) == email_hash(canonical)
    assert normalise_email(spelling).lower() == canonical.lower()
    assert subscriptions.clean_email(spelling).lower() == canonical.lower()


def test_the_normal_form_is_email_validators():
    assert normalise_email("Ada.Lovelace@Example.ORG") == "Ada.Lovelace@example.org"
    assert normalise_email("ada@xn--bcher-kva.de") == "ada@bücher.de"
    assert normalise_email(NFD) == unicodedata.normalize("NFC", NFD)
    # What the validator refuses still gets one spelling (bounces, erased placeholders).
    assert normalise_email(" Postmaster@LOCALHOST ") == "Postmaster@localhost"
    # Plain ASCII addresses hash as they always did: old suppressions still hold.
    assert email_hash("Ada@Example.org") == hashlib.sha256(b"ada@example.org").hexdigest()


@pytest.mark.parametrize(("canonical", "spelling"), ALL)
def test_a_suppressed_address_gets_no_mail_in_any_spelling(
    client, newsletter_list, smtp_server, sync_tasks, canonical, spelling
):
    subscriptions.suppress(canonical, Suppression.Reason.HARD_BOUNCE)
    response = signup(client, email=spelling, lists=["newsletter"])
    assert response.status_code == 202
    assert smtp_server.total == 0
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize(("canonical", "spelling"), ALL)
def test_an_erased_address_gets_no_mail_in_any_spelling(
    client, newsletter_list, smtp_server, sync_tasks, canonical, spelling
):
    person = subscriptions.subscribe(canonical, [newsletter_list], confirmed=True).subscriber
    subscriptions.erase(person)
    response = signup(client, email=spelling, lists=["newsletter"])
    assert response.status_code == 202
    assert smtp_server.total == 0
    assert list(Subscriber.objects.values_list("status", flat=True)) == ["erased"]


def test_the_per_address_limit_counts_every_spelling_as_one(
    client, newsletter_list, smtp_server, sync_tasks, settings
):
    settings.SUBSCRIPTION_RATE_PER_ADDRESS = 3
    spellings = [
        "victim@example.org",
        "victim@ｅｘａｍｐｌｅ.org",
        "victim@EXAMPLE.ORG",
        "victim@Example.Org",
        "victim@ｅxample.org",
        "victim@exａmple.org",
        "victim@examplｅ.org",
        "victim@ＥＸＡＭＰＬＥ.ORG",
        "victim@example.ＯＲＧ",
        "victim@ｅｘａｍｐｌｅ．org",  # a full-width full stop too
    ]
    for i, spelling in enumerate(spellings):
        response = signup(client, email=spelling, lists=["newsletter"], ip=f"192.0.2.{i}")
        assert response.status_code == 202
    assert smtp_server.total == 3
    assert set(smtp_server.counts) == {"victim@example.org"}
    assert Subscriber.objects.get().events.filter(kind="confirmation_sent").count() == 3


def test_what_the_person_typed_is_kept_for_display_only(
    client, newsletter_list, smtp_server, sync_tasks
):
    signup(client, email="Victim@ｅｘａｍｐｌｅ.org", lists=["newsletter"])
    person = Subscriber.objects.get()
    assert person.email == "Victim@example.org"
    assert person.email_as_typed == "Victim@ｅｘａｍｐｌｅ.org"
    assert smtp_server.counts == {"victim@example.org": 1}
    page = client.get(tokens.preferences_url(person.pk).split("example.org", 1)[1])
    assert "For <strong>Victim@ｅｘａｍｐｌｅ.org</strong>" in page.content.decode()
    data = subscriptions.export_data(person, record=False)
    assert (data["email"], data["email_as_typed"]) == (
        "Victim@example.org",
        "Victim@ｅｘａｍｐｌｅ.org",
    )
    # Another spelling later is the same person and changes nothing about them.
    signup(client, email="victim@EXAMPLE.org", lists=["newsletter"], name="Someone else")
    person.refresh_from_db()
    assert Subscriber.objects.count() == 1
    assert (person.email_as_typed, person.name) == ("Victim@ｅｘａｍｐｌｅ.org", "")
    # A changed address drops the stale spelling.
    person.email = "new@example.org"
    person.save()
    assert (person.email, person.email_as_typed) == ("new@example.org", "")


def test_a_suppression_made_before_the_normal_form_still_blocks_its_own_spelling():
    """Erased before the migration: only the old hash of what was typed is left."""
    typed = "victim@ｅｘａｍｐｌｅ.org"
    Suppression.objects.create(email_hash=legacy_email_hash(typed), reason="erased")
    assert legacy_email_hash(typed) != email_hash(typed)
    assert Suppression.is_suppressed(typed)
    assert subscriptions.subscribe(typed, []).suppressed


def test_the_data_migration_recomputes_addresses_hashes_and_suppressions():
    migration = importlib.import_module("mailing.migrations.0006_normalise_email_identities")

    def old_row(email, **extra):
        """A subscriber as the old rule stored it: domain lower-cased, nothing else."""
        person = Subscriber.objects.create(email="placeholder@example.org", **extra)
        Subscriber.objects.filter(pk=person.pk).update(
            email=email, email_hash=legacy_email_hash(email), email_as_typed=""
        )
        return person

    plain = old_row("plain@example.org")
    wide = old_row("wide@ｅｘａｍｐｌｅ.org")
    puny = old_row("jose@xn--bcher-kva.de")
    # Two spellings that signed up apart: the later one cannot take the address.
    twin = old_row("victim@example.org")
    twin_wide = old_row("victim@ｅｘａｍｐｌｅ.org")
    erased = old_row("erased-1@erased.invalid", status="erased")
    for address in ("wide@ｅｘａｍｐｌｅ.org", "plain@example.org"):
        Suppression.objects.create(email_hash=legacy_email_hash(address), reason="bounced")
    # Both twins were suppressed under their old hashes: they end as one row.
    for address in ("victim@example.org", "victim@ｅｘａｍｐｌｅ.org"):
        Suppression.objects.create(email_hash=legacy_email_hash(address), reason="complained")

    migration.forwards(apps, None)

    def row(person):
        return Subscriber.objects.values_list("email", "email_as_typed", "email_hash").get(
            pk=person.pk
        )

    assert row(plain) == ("plain@example.org", "", email_hash("plain@example.org"))
    wide_typed = "wide@ｅｘａｍｐｌｅ.org"
    assert row(wide) == ("wide@example.org", wide_typed, email_hash("wide@example.org"))
    assert row(puny) == ("jose@bücher.de", "jose@xn--bcher-kva.de", email_hash("jose@bücher.de"))
    assert row(twin_wide) == ("victim@ｅｘａｍｐｌｅ.org", "", email_hash("victim@example.org"))
    assert row(erased)[0] == "erased-1@erased.invalid"
    assert Suppression.is_suppressed("wide@example.org")
    assert Suppression.is_suppressed("plain@example.org")
    assert Suppression.objects.filter(email_hash=email_hash("victim@example.org")).count() == 1
    assert Suppression.objects.count() == 3
    assert not Subscriber.objects.not_suppressed().filter(pk__in=[twin.pk, twin_wide.pk]).exists()
    # Running it again changes nothing.
    migration.forwards(apps, None)
    assert row(wide)[1] == "wide@ｅｘａｍｐｌｅ.org" and Suppression.objects.count() == 3
