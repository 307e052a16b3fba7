"""What subscribers read, in their language: the catalogues, the confirmation email, the
newsletter's chrome and the hosted pages (with their switcher and ``lang``)."""

import os
import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.utils import translation

from mailing import subscriptions, tokens
from mailing.models import Subscriber
from newsletters.models import NewsletterPage
from newsletters.rendering import render_email
from penelope import translations
from tests.mailing.factories import SubscriberFactory
from tests.mailing.helpers import committed, signup

LOCALE = Path(settings.BASE_DIR) / "locale"
CATALOGUES = ("en", "fr", "de", "it", "es")
NBSP = "\u00a0"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def path_of(url):
    return re.sub(r"^https?://[^/]+", "", url)


def lang_of(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


# --- the catalogues ------------------------------------------------------------------------


@pytest.mark.parametrize("code", CATALOGUES)
def test_every_catalogue_is_complete_and_compiles(code, tmp_path):
    po = polib.pofile(str(LOCALE / code / "LC_MESSAGES" / "django.po"))
    assert po.metadata["Language"] == code
    assert len(po) > 100
    assert not po.metadata_is_fuzzy
    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []
    assert [e.msgid for e in po.obsolete_entries()] == []
    nplurals = int(re.search(r"nplurals=(\d+)", po.metadata["Plural-Forms"]).group(1))
    for entry in po:
        wanted = set(PLACEHOLDER.findall(entry.msgid + (entry.msgid_plural or "")))
        if entry.msgid_plural:
            assert sorted(entry.msgstr_plural) == list(range(nplurals)), entry.msgid
            forms = entry.msgstr_plural.values()
        else:
            forms = [entry.msgstr]
        for form in forms:
            # Every placeholder kept (a plural's singular may spell "one" instead)...
            found = set(PLACEHOLDER.findall(form))
            assert found <= wanted and (found == wanted or entry.msgid_plural), (code, form)
            # ...and the markup the text carries.
            assert form.count("<strong>") == entry.msgid.count("<strong>"), form
    # polib's compilation is what the install step and the suite use: a copy compiles
    # and reads back with every message.
    copy = tmp_path / code / "LC_MESSAGES" / "django.po"
    copy.parent.mkdir(parents=True)
    shutil.copy(po.fpath, copy)
    (mo,) = translations.compile_all([tmp_path])
    assert len(polib.mofile(str(mo))) == len(po.translated_entries())


def test_the_compile_step_writes_only_what_is_stale(tmp_path):
    for code in ("fr", "de"):
        target = tmp_path / code / "LC_MESSAGES"
        target.mkdir(parents=True)
        shutil.copy(LOCALE / code / "LC_MESSAGES" / "django.po", target / "django.po")
    first = translations.compile_all([tmp_path])
    assert sorted(p.parent.parent.name for p in first) == ["de", "fr"]
    assert translations.compile_all([tmp_path]) == []  # up to date: nothing written
    french = tmp_path / "fr" / "LC_MESSAGES" / "django.po"
    later = french.with_suffix(".mo").stat().st_mtime + 10
    os.utime(french, (later, later))  # a translator edited the French
    assert [p.parent.parent.name for p in translations.compile_all([tmp_path])] == ["fr"]
    assert not list(tmp_path.rglob(".*.mo"))  # no temporary file left behind


def test_the_compile_command_reports_what_it_did(capsys):
    call_command("compile_translations")
    assert "already up to date" in capsys.readouterr().out
    for code in CATALOGUES:
        mo = LOCALE / code / "LC_MESSAGES" / "django.mo"
        assert mo.stat().st_mtime >= (mo.with_suffix(".po")).stat().st_mtime


# --- the confirmation email ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "subject", "button", "text_line"),
    [
        (
            "fr",
            "Merci de confirmer votre abonnement à PENELOPE newsletter",
            "Oui, je m'abonne",
            f"Pour confirmer, ouvrez ce lien{NBSP}:",
        ),
        (
            "de",
            "Bitte bestätigen Sie Ihr Abonnement von PENELOPE newsletter",
            "Ja, ich möchte mich anmelden",
            "Zur Bestätigung öffnen Sie diesen Link:",
        ),
    ],
)
def test_the_confirmation_email_is_in_the_language_given_at_signup(
    client, newsletter_list, sync_tasks, language, subject, button, text_line
):
    response = signup(
        client, email="lea@example.org", name="Léa", lists=["newsletter"], language=language
    )
    assert response.status_code == 202
    assert Subscriber.objects.get().language == language
    (message,) = mail.outbox
    html = message.alternatives[0][0]
    assert message.subject == subject
    assert lang_of(html) == language
    assert button in html.replace("&#x27;", "'").replace("&#39;", "'")
    assert text_line in message.body
    assert "Confirm your subscription" not in message.body + html
    # The link inside still works whatever the language.
    assert client.get(link_in_message(message)).status_code == 200


def link_in_message(message):
    match = re.search(r"https?://[^/\s]+(/subscriptions/confirm/[^\s]+/)", message.body)
    return match.group(1)


@pytest.mark.django_db
def test_an_english_signup_still_gets_the_english_email(client, newsletter_list, sync_tasks):
    signup(client, email="ann@example.org", lists=["newsletter"], language="en")
    (message,) = mail.outbox
    assert message.subject == "Please confirm your subscription to PENELOPE newsletter"
    assert "To confirm, open this link:" in message.body
    assert lang_of(message.alternatives[0][0]) == "en"


# --- the newsletter's chrome -----------------------------------------------------------------


@pytest.fixture
def issue3(seeded):
    return NewsletterPage.objects.get(issue_number=3)


def translated(issue, code):
    """The issue's translation in ``code`` (a copy until a translator changes it)."""
    from wagtail.models import Locale

    locale, _ = Locale.objects.get_or_create(language_code=code)
    page = issue.get_translation_or_none(locale) or issue.copy_for_translation(
        locale, copy_parents=True
    )
    return NewsletterPage.objects.get(pk=page.pk)


@pytest.mark.django_db
def test_the_email_chrome_follows_the_pages_language(issue3):
    english = render_email(issue3)
    # The active language does not matter: an issue is written in its page's language.
    with translation.override("de"):
        french = render_email(translated(issue3, "fr"))
    spanish = render_email(translated(issue3, "es"))

    assert lang_of(french.html) == "fr" and lang_of(spanish.html) == "es"
    assert lang_of(english.html).startswith("en")
    html = french.html.replace("&#x27;", "'").replace("&#39;", "'")
    for chrome in (
        "Afficher cet e-mail dans votre navigateur",
        "Gérer vos préférences",
        "Se désabonner",
        "Lire l'entretien complet",
        "LETTRE D'INFORMATION Nº 3",
        "Vous recevez cet e-mail suite à votre abonnement",
    ):
        assert chrome in html, chrome
    assert f"Se désabonner{NBSP}: %%UNSUBSCRIBE_URL%%" in french.text
    assert "Lire l'entretien complet" in french.text
    for english_chrome in ("View this email in your browser", "Read the full interview"):
        assert english_chrome in english.html and english_chrome not in french.html
    assert "Leer la entrevista completa" in spanish.text
    # The per-recipient placeholders survive in every language.
    for placeholder in ("%%UNSUBSCRIBE_URL%%", "%%PREFERENCES_URL%%", "%%WEB_URL%%"):
        assert placeholder in french.html and placeholder in spanish.text
    # The issue's own words are the editors' (copied until translated).
    assert french.subject == english.subject


@pytest.mark.django_db
def test_event_dates_are_written_as_each_language_writes_them(issue3):
    def dates(language):
        return render_email(issue3 if language == "en" else translated(issue3, language)).text

    assert "8 May 2024 · The Square" in dates("en")
    assert "8 mai 2024 · The Square" in dates("fr")
    assert "8. Mai 2024 · The Square" in dates("de")
    assert "8 maggio 2024 · The Square" in dates("it")
    assert "8 de mayo de 2024 · The Square" in dates("es")
    assert "500 Teilnehmende" in dates("de") and "500 partecipanti" in dates("it")


def test_the_first_of_the_month_in_french():
    from datetime import datetime

    from newsletters.blocks import long_date

    with translation.override("fr"):
        assert long_date(datetime(2026, 12, 1)) == "1er décembre 2026"
        assert long_date(datetime(2026, 12, 2)) == "2 décembre 2026"
    with translation.override("ro"):  # no format of ours: Django's for the locale
        assert long_date(datetime(2026, 12, 2)) == "2 decembrie 2026"


# --- the hosted pages ------------------------------------------------------------------------


@pytest.fixture
def french(newsletter_list, events_list):
    subscriber = SubscriberFactory(email="lea@example.org", name="Léa", language="fr")
    for mailing_list in (newsletter_list, events_list):
        subscriptions.subscribe(subscriber.email, [mailing_list], confirmed=True, source="test")
    return subscriber


def page_text(response) -> str:
    return response.content.decode().replace("&#x27;", "'").replace("&#39;", "'")


@pytest.mark.django_db
def test_the_preference_centre_is_in_the_subscribers_language(
    client, french, django_assert_max_num_queries
):
    path = path_of(tokens.preferences_url(french.pk))
    with django_assert_max_num_queries(12):
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    html = page_text(response)
    assert response.status_code == 200
    assert lang_of(html) == "fr" and response["Content-Language"] == "fr"
    assert "Accept-Language" in response["Vary"]
    assert "<h1>Vos préférences d'abonnement</h1>" in html
    assert "Enregistrer mes préférences" in html and "Your subscription preferences" not in html
    # The emails' language, each named in its own words, the subscriber's chosen.
    assert '<option value="fr" selected>Français</option>' in html
    assert '<option value="de">Deutsch</option>' in html
    # The switcher: every enabled language, this one marked.
    assert 'aria-label="Langue de cette page"' in html
    assert '<a href="?lang=fr" lang="fr" hreflang="fr" aria-current="true">Français</a>' in html
    for code, _name in settings.LANGUAGES:
        assert f'href="?lang={code}"' in html


@pytest.mark.django_db
def test_the_switcher_shows_the_page_in_another_language_and_keeps_it(client, french):
    path = path_of(tokens.preferences_url(french.pk))
    html = page_text(client.get(path + "?lang=de"))
    assert lang_of(html) == "de"
    assert "<h1>Ihre Abonnement-Einstellungen</h1>" in html
    assert 'aria-current="true">Deutsch</a>' in html
    # The next pages of the journey stay in the language chosen.
    assert 'href="' + path + 'erase/?lang=de"' in html
    erase = page_text(client.get(path + "erase/?lang=de"))
    assert "<h1>Meine Daten löschen</h1>" in erase
    assert f'href="{path}?lang=de">Abbrechen</a>' in erase
    # Only the page changed, not the subscriber's language.
    french.refresh_from_db()
    assert french.language == "fr"


@pytest.mark.django_db
def test_a_new_language_for_the_emails_is_the_pages_from_the_next_visit(
    client, french, newsletter_list
):
    path = path_of(tokens.preferences_url(french.pk))
    response = client.post(
        path,
        {"action": "save", "name": "Léa", "language": "it", "lists": [str(newsletter_list.pk)]},
    )
    html = page_text(response)
    assert response.status_code == 200
    # Confirmed in the language she was reading, with Italian now chosen for the emails.
    assert "Vos préférences sont enregistrées." in html and lang_of(html) == "fr"
    assert '<option value="it" selected>Italiano</option>' in html
    french.refresh_from_db()
    assert french.language == "it"
    assert "<h1>Le Sue preferenze di iscrizione</h1>" in page_text(client.get(path))


@pytest.mark.django_db
def test_form_errors_are_in_the_page_language(client, french):
    path = path_of(tokens.preferences_url(french.pk))
    response = client.post(path, {"action": "save", "name": "Léa", "language": "xx"})
    html = page_text(response)
    assert response.status_code == 400
    assert "Merci de corriger les erreurs ci-dessous." in html
    assert "Sélectionnez un choix valide" in html  # Django's own catalogue
    french.refresh_from_db()
    assert french.language == "fr"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value",
    [
        "xx",
        "fr\r\nSet-Cookie: evil=1",
        "de%0d%0aX-Injected: 1",
        "ｄｅ",  # full-width look-alike
        "dе",  # Cyrillic "е"
        "d" * 100_000,
        "../../../etc/passwd",
        "<script>alert(1)</script>",
        "",
    ],
)
def test_a_bad_lang_is_ignored_safely(client, french, value):
    path = path_of(tokens.preferences_url(french.pk))
    response = client.get(path, {"lang": value})
    assert response.status_code == 200
    assert lang_of(page_text(response)) == "fr"  # the subscriber's language, unchanged
    assert response["Content-Language"] == "fr"
    assert "evil" not in str(response.cookies) and "X-Injected" not in response.headers
    assert "<script>alert" not in page_text(response)


@pytest.mark.django_db
def test_a_regional_variant_picks_its_language(client, french):
    path = path_of(tokens.preferences_url(french.pk))
    assert lang_of(page_text(client.get(path, {"lang": "DE-at"}))) == "de"
    assert lang_of(page_text(client.get(path, {"lang": ["es", "it"]}))) == "it"  # the last


@pytest.mark.django_db
def test_unsubscribe_and_confirm_pages_in_the_subscribers_language(client, french, newsletter_list):
    path = path_of(tokens.unsubscribe_url(french.pk, newsletter_list.pk))
    ask = page_text(client.get(path))
    assert "Souhaitez-vous ne plus recevoir PENELOPE newsletter" in ask
    assert "Oui, je me désabonne" in ask
    done = page_text(client.post(path + "?lang=es"))
    assert "<h1>Se ha dado de baja</h1>" in done
    # The way back to the preferences keeps the language picked. (Its token is signed
    # with the second it was made in: read it back rather than compare it with one
    # made here, which may fall in the next second.)
    back = re.search(r'href="[^"]*/subscriptions/preferences/([^/"]+)/\?lang=es"', done)
    assert back and tokens.read_token(tokens.PREFERENCES, back.group(1))[0] == french.pk

    spanish = SubscriberFactory(email="pablo@example.org", language="es")
    subscriptions.subscribe(spanish.email, [newsletter_list], send_confirmation_email=False)
    confirm = page_text(client.get(path_of(tokens.confirm_url(spanish.pk, newsletter_list.pk))))
    assert "<h1>Confirme su suscripción</h1>" in confirm and "Sí, quiero suscribirme" in confirm
    confirmed = page_text(client.post(path_of(tokens.confirm_url(spanish.pk, newsletter_list.pk))))
    assert "Su suscripción está confirmada" in confirmed


@pytest.mark.django_db
def test_a_subscriber_without_a_language_gets_the_browsers(client, newsletter_list):
    nobody = SubscriberFactory(email="x@example.org", language="")
    path = path_of(tokens.preferences_url(nobody.pk))
    assert lang_of(page_text(client.get(path, HTTP_ACCEPT_LANGUAGE="it-CH,it;q=0.9"))) == "it"
    assert lang_of(page_text(client.get(path))) == "en"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "heading", "lang"),
    [
        ("fr-BE,fr;q=0.9,en;q=0.5", "Ce lien ne fonctionne pas", "fr"),
        ("de-DE", "Dieser Link funktioniert nicht", "de"),
        ("ja,zh;q=0.8", "This link does not work", "en"),
        ("fr\r\nX: y;;;q=é", "This link does not work", "en"),
        ("", "This link does not work", "en"),
    ],
)
def test_a_bad_link_follows_the_browsers_language(client, accept, heading, lang):
    response = client.get("/subscriptions/preferences/not-a-token/", HTTP_ACCEPT_LANGUAGE=accept)
    html = page_text(response)
    assert response.status_code == 404
    assert f"<h1>{heading}</h1>" in html and lang_of(html) == lang
    # ...or the language picked on it.
    picked = client.get("/subscriptions/preferences/not-a-token/?lang=it")
    assert picked.status_code == 404 and "Questo link non funziona" in page_text(picked)


@pytest.mark.django_db
def test_the_json_api_keeps_english_unless_the_browser_asks(client, newsletter_list, sync_tasks):
    with committed(execute=True):
        english = client.post(
            "/api/subscriptions/", {"email": "a@example.org"}, content_type="application/json"
        )
        french = client.post(
            "/api/subscriptions/",
            {"email": "b@example.org"},
            content_type="application/json",
            HTTP_ACCEPT_LANGUAGE="fr",
        )
        invalid = client.post(
            "/api/subscriptions/",
            {"email": "not an address", "lists": ["newsletter"]},
            content_type="application/json",
            HTTP_ACCEPT_LANGUAGE="de",
        )
    assert english.status_code == french.status_code == 202
    assert english.json()["detail"].startswith("Thank you.")
    assert french.json()["detail"].startswith("Merci.")
    assert english.json()["status"] == french.json()["status"] == "accepted"
    assert invalid.status_code == 400 and invalid.json()["status"] == "invalid"
    assert invalid.json()["errors"]["email"] == ["Bitte geben Sie eine gültige E-Mail-Adresse ein."]
    # The confirmation email follows the signup's language, not the browser's.
    assert [m.subject for m in mail.outbox][-1].startswith("Please confirm")
