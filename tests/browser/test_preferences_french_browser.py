"""A French subscriber's preference centre in Debian's Chromium: in French whatever the
browser's language, changed and saved in French, then shown in German with the switcher
while the emails' language is changed to Italian."""

import pytest
from playwright.sync_api import expect

from mailing import subscriptions, tokens
from mailing.models import Subscriber, Subscription
from tests.mailing.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_french_subscriber_changes_their_preferences_in_french(live_site, browser_page):
    page = browser_page  # an en-GB browser: the subscriber's language wins
    newsletter = MailingListFactory(name="PENELOPE newsletter", slug="newsletter")
    events = MailingListFactory(name="Event invitations", slug="events")
    lea = SubscriberFactory(email="lea@example.org", name="Léa", language="fr")
    for mailing_list in (newsletter, events):
        subscriptions.subscribe(lea.email, [mailing_list], confirmed=True, source="test")

    page.goto(tokens.preferences_url(lea.pk))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Vos préférences d'abonnement")).to_be_visible()
    expect(page.get_by_label("Langue de nos e-mails")).to_have_value("fr")
    expect(page.get_by_label("Langue de nos e-mails").locator("option:checked")).to_have_text(
        "Français"
    )
    expect(page.get_by_label("Event invitations")).to_be_checked()

    page.get_by_label("Votre nom").fill("Léa Martin")
    page.get_by_label("Event invitations").uncheck()
    page.get_by_role("button", name="Enregistrer mes préférences").click()

    expect(page.get_by_role("status")).to_have_text("Vos préférences sont enregistrées.")
    expect(page.get_by_label("Event invitations")).not_to_be_checked()
    expect(page.get_by_label("PENELOPE newsletter")).to_be_checked()
    lea.refresh_from_db()
    assert (lea.name, lea.language) == ("Léa Martin", "fr")
    statuses = dict(lea.subscriptions.values_list("mailing_list__slug", "status"))
    assert statuses == {
        "newsletter": Subscription.Status.CONFIRMED,
        "events": Subscription.Status.UNSUBSCRIBED,
    }

    # The switcher shows the page in German; the emails stay French until she says so.
    switcher = page.get_by_role("navigation", name="Langue de cette page")
    expect(switcher.get_by_role("link", name="Français")).to_have_attribute("aria-current", "true")
    switcher.get_by_role("link", name="Deutsch").click()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", name="Ihre Abonnement-Einstellungen")).to_be_visible()
    assert Subscriber.objects.get(pk=lea.pk).language == "fr"

    page.get_by_label("Sprache unserer E-Mails").select_option(label="Italiano")
    page.get_by_role("button", name="Meine Einstellungen speichern").click()
    # The page keeps the language she picked for it; the emails now come in Italian.
    expect(page.get_by_role("status")).to_have_text("Ihre Einstellungen sind gespeichert.")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    assert Subscriber.objects.get(pk=lea.pk).language == "it"

    # Her next visit from an email link: the preference centre in Italian.
    page.goto(tokens.preferences_url(lea.pk))
    expect(page.get_by_role("heading", name="Le Sue preferenze di iscrizione")).to_be_visible()
