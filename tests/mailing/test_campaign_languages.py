"""One campaign, each reader their language: the issue's live translation in the reader's
language (theirs, else their list's default, else the issue's), rendered once per
language; the source where no translation is live; the send screen and the report per
language; the "view in browser" copy in the reader's language."""

import pytest
from django.core import mail
from django.urls import reverse
from wagtail.models import Locale

from mailing import campaigns, languages, variants
from mailing.admin import reports
from mailing.models import CampaignVariant, Delivery
from mailing.sending import sender
from newsletters.models import NewsletterPage
from tests.mailing.factories import MailingListFactory, SubscriberFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

FR_SUBJECT = "Lettre d'information n° 3 : l'égalité femmes-hommes dans les PME européennes"
FR_PREHEADER = "Notre manuel devient lui-même une bonne pratique en Europe"
FR_MARK = FR_PREHEADER[:20]  # HTML lines are folded: a part that stays on one line


@pytest.fixture
def issue(seeded):
    return NewsletterPage.objects.get(issue_number=3)


@pytest.fixture
def french(issue):
    """The issue's French translation, published (as an editor does with wagtail-localize)."""
    locale, _ = Locale.objects.get_or_create(language_code="fr")
    existing = issue.get_translation_or_none(locale)
    page = existing or issue.copy_for_translation(locale, copy_parents=True)
    page = NewsletterPage.objects.get(pk=page.pk)
    page.title = "Lettre d'information n° 3"
    page.subject = FR_SUBJECT
    page.preheader = FR_PREHEADER
    page.save_revision().publish()
    return NewsletterPage.objects.get(pk=page.pk)


# local part → (subscriber language, list); lists: "plain" (no default), "francophone" (fr)
READERS = {
    "en1": ("en", "plain"),
    "en2": ("en", "francophone"),  # chose English: the list's default does not override
    "fr1": ("fr", "plain"),
    "fr2": ("fr", "plain"),
    "de1": ("de", "plain"),  # German: no translation, gets the English issue
    "none1": ("", "plain"),  # chose nothing: the issue's language
    "none2": ("", "francophone"),  # chose nothing: the list's French
    "gone": ("xx", "plain"),  # a language no longer enabled: as if none
}


@pytest.fixture
def readers(db):
    lists = {
        "plain": MailingListFactory(slug="plain", name="Plain"),
        "francophone": MailingListFactory(slug="francophone", name="Francophone", language="fr"),
    }
    for local, (language, slug) in READERS.items():
        person = SubscriberFactory(email=f"{local}@example.org", language=language)
        SubscriptionFactory(subscriber=person, mailing_list=lists[slug])
    return list(lists.values())


def local_part(message):
    return message.to[0].split("<")[-1].split("@")[0]


def test_each_reader_gets_their_language_rendered_once_per_language(
    issue, french, readers, monkeypatch, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    renders = []
    real = variants.render_email

    def counting(page, **kwargs):
        rendered = real(page, **kwargs)
        renders.append((page.pk, languages.of_page(page), rendered.subject))
        return rendered

    monkeypatch.setattr(variants, "render_email", counting)
    campaign = campaigns.create(issue, readers)
    campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.language == "en"
    # One French rendering for the three French readers (the English is the campaign's own).
    assert renders == [(french.pk, "fr", FR_SUBJECT)]
    variant = CampaignVariant.objects.get(campaign=campaign)
    assert (variant.language, variant.page_id, variant.subject) == ("fr", french.pk, FR_SUBJECT)
    french_rows = Delivery.objects.filter(campaign=campaign, variant=variant)
    assert sorted(french_rows.values_list("subscriber__email", flat=True)) == [
        "fr1@example.org",
        "fr2@example.org",
        "none2@example.org",
    ]
    mail.outbox.clear()
    assert sender.run_sender(campaign.pk) == "done"
    subjects = {local_part(m): m.subject for m in mail.outbox}
    english = campaign.subject
    assert subjects == {
        "en1": english,
        "en2": english,
        "fr1": FR_SUBJECT,
        "fr2": FR_SUBJECT,
        "de1": english,
        "none1": english,
        "none2": FR_SUBJECT,
        "gone": english,
    }
    fr_message = next(m for m in mail.outbox if local_part(m) == "fr1")
    html = fr_message.alternatives[0][0]
    assert FR_MARK in html
    # "View in browser" leads to the French copy.
    assert f"/newsletters/{campaign.key}/?lang=fr" in html
    en_message = next(m for m in mail.outbox if local_part(m) == "en1")
    assert "?lang=" not in en_message.alternatives[0][0]
    # Both languages are sent issues now (each archive lists its own).
    french.refresh_from_db()
    assert french.sent_at is not None and french.public_sent_at is not None


def test_a_translation_published_later_is_not_what_a_running_campaign_pinned(
    issue, french, readers, settings
):
    """The campaign renders the translation's published revision when sending starts; a
    draft saved on the translation afterwards changes nothing that was sent."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    french.subject = "Brouillon non publié"
    french.save_revision()  # a draft, not published
    campaign = campaigns.create(issue, readers)
    campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    assert CampaignVariant.objects.get(campaign=campaign).subject == FR_SUBJECT


def test_an_unpublished_translation_is_not_sent(issue, french, readers, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    french.unpublish()
    campaign = campaigns.create(issue, readers)
    campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    assert not CampaignVariant.objects.filter(campaign=campaign).exists()
    assert sender.run_sender(campaign.pk) == "done"
    campaign.refresh_from_db()
    assert {m.subject for m in mail.outbox} == {campaign.subject}


def test_a_campaign_of_the_translation_sends_english_readers_the_english(
    issue, french, readers, settings
):
    """Composed in French, sent from the French page: the English readers get English, and
    so do those whose language has no translation (the site's first language)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    campaign = campaigns.create(french, readers)
    campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    campaign.refresh_from_db()
    assert (campaign.language, campaign.subject) == ("fr", FR_SUBJECT)
    variant = CampaignVariant.objects.get(campaign=campaign)
    assert variant.language == "en" and variant.subject == issue.subject
    assert sender.run_sender(campaign.pk) == "done"
    subjects = {local_part(m): m.subject for m in mail.outbox}
    assert subjects["fr1"] == subjects["none2"] == FR_SUBJECT
    # Readers who chose nothing on a list without a default get the issue's language.
    assert subjects["none1"] == FR_SUBJECT
    assert subjects["en1"] == subjects["de1"] == issue.subject


def test_languages_and_topics_together_render_once_per_pair(issue, french, readers, settings):
    """Topic sections and languages combine: one rendering per (language, topic set)."""
    from interviews.models import InterviewPage

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    andrea = InterviewPage.objects.get(slug="andrea-luciana-marcu")
    andrea.tags.add("Digitalisation")
    andrea.save()
    for page in (issue, french):
        page.body = [
            (
                "interview_spotlight",
                {
                    "heading": "Spotlight",
                    "interviews": [{"interview": andrea, "quote": ""}],
                    "topics": {"enabled": True, "fallback": "composed"},
                },
            )
        ]
        page.save_revision().publish()
    Delivery.objects.all().delete()
    for local in ("fr1", "en1"):
        subscriber = SubscriberFactory._meta.model.objects.get(email=f"{local}@example.org")
        subscriber.topics = ["digitalisation"]
        subscriber.save()
    campaign = campaigns.create(NewsletterPage.objects.get(pk=issue.pk), readers)
    campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    made = sorted(
        (v.language, tuple(v.topics)) for v in CampaignVariant.objects.filter(campaign=campaign)
    )
    assert made == [("", ("digitalisation",)), ("fr", ()), ("fr", ("digitalisation",))]
    assert sender.run_sender(campaign.pk) == "done"
    assert len(mail.outbox) == len(READERS)


def test_the_send_screen_counts_each_language_and_warns_of_missing_translations(
    issue, french, readers, editor_client
):
    campaign = campaigns.create(issue, readers)
    response = editor_client.get(reverse("mailing_campaign_confirm", args=[campaign.pk]))
    assert response.status_code == 200
    shares = {
        share.code: (share.readers, share.translated) for share in response.context["languages"]
    }
    assert shares == {"en": (4, True), "fr": (3, True), "de": (1, False)}
    page = response.content.decode()
    assert 'id="language-warning"' in page
    assert "German (1, who get it in English)" in page


def test_audience_counts_in_the_database(issue, french, readers, django_assert_max_num_queries):
    who = campaigns.recipients(readers)
    with django_assert_max_num_queries(4):
        shares = languages.audience(who, issue, readers)
    assert [(s.code, s.readers) for s in shares] == [("en", 4), ("fr", 3), ("de", 1)]


def test_the_report_splits_by_language(issue, french, readers, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    campaign = campaigns.create(issue, readers)
    campaigns.schedule(campaign)
    campaigns.start(campaign.pk)
    assert sender.run_sender(campaign.pk) == "done"
    campaign.refresh_from_db()
    rows = {
        row["code"]: (row["recipients"], row["sent"]) for row in reports.language_rows(campaign)
    }
    assert rows == {"en": (5, 5), "fr": (3, 3)}


def test_the_web_copy_in_the_readers_language(issue, french, readers, client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    campaign = campaigns.create(issue, readers)
    campaigns.schedule(campaign)
    campaigns.start(campaign.pk)
    url = reverse("mailing:web_version", args=[campaign.key])
    assert FR_MARK in client.get(url, {"lang": "fr"}).content.decode()
    default = client.get(url).content.decode()
    assert FR_MARK not in default and issue.preheader[:20] in default
    # Whatever arrives as ?lang= is at worst ignored.
    for value in ("de", "xx", "fr\r\nX: y", "f" * 5000, "ｆｒ", "en"):
        response = client.get(url, {"lang": value})
        assert response.status_code == 200
        assert FR_MARK not in response.content.decode()


def test_a_lists_default_language_is_one_of_the_sites(readers):
    from django.core.exceptions import ValidationError

    francophone = readers[1]
    francophone.language = "xx"
    with pytest.raises(ValidationError):
        francophone.full_clean()
    francophone.language = "de"
    francophone.full_clean()


def test_a_resend_from_the_translation_leaves_out_who_got_the_issue_in_any_language(
    issue, french, readers, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    first = campaigns.create(issue, [readers[0]])  # the plain list only
    campaigns.schedule(first)
    campaigns.start(first.pk)
    assert sender.run_sender(first.pk) == "done"
    assert [c.pk for c in campaigns.earlier_sends(french)] == [first.pk]
    # From the French page, to both lists, "only those who have not received this issue".
    assert campaigns.count_recipients(readers, exclude_received_of=french.pk) == 2
    second = campaigns.create(french, readers)
    campaigns.schedule(second, exclude_received=True)
    campaigns.start(second.pk)
    mail.outbox.clear()
    assert sender.run_sender(second.pk) == "done"
    assert sorted(local_part(m) for m in mail.outbox) == ["en2", "none2"]
