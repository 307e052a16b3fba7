"""Translating content with wagtail-localize: "Translate this page", PO download and
upload, publishing; translatable organisations; references that follow the language."""

import io

import polib
import pytest
from django.urls import reverse
from wagtail.models import Locale, Page
from wagtail_localize.models import Translation, TranslationSource

from cms.localisation import localise_page_references
from cms.models import EventPage, GoodPracticePage, Organisation
from cms.translating import MissingStrings, translate_from_po
from interviews.models import InterviewPage
from newsletters.models import NewsletterPage

pytestmark = pytest.mark.django_db


@pytest.fixture
def french(db):
    return Locale.objects.get_or_create(language_code="fr")[0]


def _submit(client, page, locale):
    """The editor's "Translate this page" → French."""
    url = reverse("wagtail_localize:submit_page_translation", args=[page.pk])
    response = client.post(url, {"locales": [locale.pk]})
    assert response.status_code == 302, response.content[:500]
    translated = page.get_translation(locale).specific
    translation = Translation.objects.get(
        source=TranslationSource.objects.get(object_id=page.translation_key),
        target_locale=locale,
    )
    return translated, translation


def _po(client, translation) -> polib.POFile:
    url = reverse("wagtail_localize:download_pofile", args=[translation.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    return polib.pofile(response.content.decode())


def _upload(client, translation, po, next_url="/admin/"):
    url = reverse("wagtail_localize:upload_pofile", args=[translation.pk])
    upload = io.BytesIO(str(po).encode())
    upload.name = "fr.po"
    return client.post(url, {"file": upload, "next": next_url})


def test_an_editor_translates_an_interview_with_a_po_file_and_publishes_it(
    seeded, editor_client, french, django_capture_on_commit_callbacks
):
    interview = seeded["interviews"][0]
    with django_capture_on_commit_callbacks(execute=True):
        translated, translation = _submit(editor_client, interview, french)

    # A draft in French, waiting for its translator; its organisation was translated along.
    assert not translated.live
    assert translated.locale == french
    assert translated.organisation.locale == french
    assert translated.organisation.translation_key == interview.organisation.translation_key

    po = _po(editor_client, translation)
    messages = {entry.msgid for entry in po}
    # Every text of the page is there to translate: fields and blocks.
    assert {interview.title, interview.role, interview.pull_quote} <= messages
    assert "What challenges do you meet when creating gender equality?" in messages
    assert interview.interviewee_name in messages
    for entry in po:
        entry.msgstr = {
            interview.title: "Entretien avec Massimiliano Rumignani",
            interview.role: "Chef de projet",
            interview.pull_quote: "L’égalité femmes-hommes est un moteur d’innovation.",
        }.get(entry.msgid, entry.msgid)
    response = _upload(editor_client, translation, po, f"/admin/pages/{translated.pk}/edit/")
    assert response.status_code == 302

    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            reverse("wagtailadmin_pages:edit", args=[translated.pk]), {"action": "publish"}
        )
    assert response.status_code == 302
    translated.refresh_from_db()
    assert translated.live
    assert translated.title == "Entretien avec Massimiliano Rumignani"
    assert translated.role == "Chef de projet"
    assert translated.pull_quote == "L’égalité femmes-hommes est un moteur d’innovation."
    assert translated.translation_key == interview.translation_key
    # The English page is as it was.
    interview.refresh_from_db()
    assert interview.title == "Interview with Massimiliano Rumignani"


def test_a_po_file_of_another_translation_is_refused(seeded, editor_client, french):
    first, first_translation = _submit(editor_client, seeded["interviews"][0], french)
    second, second_translation = _submit(editor_client, seeded["interviews"][1], french)
    po = _po(editor_client, first_translation)
    for entry in po:
        entry.msgstr = "Pirate"
    response = _upload(editor_client, second_translation, po)
    assert response.status_code == 302
    second_translation.source.create_or_update_translation(french, publish=False, fallback=True)
    second.refresh_from_db()
    assert "Pirate" not in second.title


def test_a_broken_po_file_is_refused_with_a_message(seeded, editor_client, french):
    _translated, translation = _submit(editor_client, seeded["interviews"][0], french)
    url = reverse("wagtail_localize:upload_pofile", args=[translation.pk])
    upload = io.BytesIO(b'msgid "unterminated\n\x00\xff')
    upload.name = "fr.po"
    response = editor_client.post(url, {"file": upload, "next": "/admin/"}, follow=True)
    assert response.status_code == 200
    assert "Please upload a valid PO file." in response.content.decode()


@pytest.mark.parametrize(
    ("key", "model"),
    [
        ("interviews", InterviewPage),
        ("handbook", GoodPracticePage),
        ("events", EventPage),
        ("newsletter", NewsletterPage),
    ],
)
def test_every_content_type_gives_its_texts_to_translate(seeded, french, key, model):
    """Segments come out of every field and block of the page types editors translate."""
    page = seeded[key][0] if isinstance(seeded[key], list) else seeded[key]
    source, _ = TranslationSource.get_or_create_from_instance(page)
    translation = Translation.objects.create(source=source, target_locale=french)
    messages = [entry.msgid for entry in translation.export_po()]
    assert page.title in messages
    assert len(messages) >= 3
    # A draft translation made of the source text (what a new translation starts from).
    translation.save_target(publish=False)
    translated = page.get_translation(french).specific
    assert isinstance(translated, model)
    assert translated.title == page.title


def test_issue_story_blocks_point_at_the_french_interviews_once_they_exist(
    seeded, editor_client, french, django_capture_on_commit_callbacks
):
    interviews = seeded["interviews"]
    issue = seeded["newsletter"]
    # Two of the four interviews are in French; the others fall back on English.
    french_interviews = [
        translate_from_po(page, french, _same(page, french)) for page in interviews[:2]
    ]
    with django_capture_on_commit_callbacks(execute=True):
        translated, _translation = _submit(editor_client, issue, french)

    spotlight = next(b for b in translated.body if b.block_type == "interview_spotlight")
    chosen = [item["interview"].pk for item in spotlight.value["interviews"]]
    assert chosen == [p.pk for p in french_interviews] + [p.pk for p in interviews[2:]]
    good_practice = next(b for b in translated.body if b.block_type == "good_practice")
    assert good_practice.value["practice"].pk == seeded["handbook"].pk  # English only


def _same(page, locale) -> dict:
    """A "translation" keeping the source text: enough where only references matter."""
    return {entry.msgid: entry.msgid for entry in _source_po(page, locale)}


def _source_po(page, locale):
    source, _ = TranslationSource.get_or_create_from_instance(page)
    translation, _ = Translation.objects.get_or_create(source=source, target_locale=locale)
    return translation.export_po()


def test_a_translation_made_before_its_targets_follows_them_when_synced(seeded, french):
    issue = seeded["newsletter"]
    issue_fr = translate_from_po(issue, french, _same(issue, french))
    spotlight = next(b for b in issue_fr.body if b.block_type == "interview_spotlight")
    assert all(i["interview"].locale_id != french.pk for i in spotlight.value["interviews"])

    interview_fr = translate_from_po(
        seeded["interviews"][0],
        french,
        _same(seeded["interviews"][0], french),
    )
    # The editor syncs the issue's translation ("Sync translated pages").
    source = TranslationSource.objects.get(object_id=issue.translation_key)
    source.update_from_db()
    source.create_or_update_translation(french, publish=True, fallback=True)
    issue_fr = NewsletterPage.objects.get(pk=issue_fr.pk)
    spotlight = next(
        b
        for b in issue_fr.get_latest_revision_as_object().body
        if b.block_type == "interview_spotlight"
    )
    assert spotlight.value["interviews"][0]["interview"].pk == interview_fr.pk


def test_rich_text_page_links_follow_the_language(seeded, french):
    target = seeded["interviews"][1]
    target_fr = translate_from_po(target, french, _same(target, french))
    page = seeded["interviews"][0]
    page.intro = f'<p>See <a linktype="page" id="{target.pk}">her interview</a>.</p>'
    page.save_revision().publish()
    page_fr = translate_from_po(page, french, _same(page, french))
    assert f'id="{target_fr.pk}"' in page_fr.intro
    # The source keeps pointing at the English page.
    page.refresh_from_db()
    assert f'id="{target.pk}"' in page.intro
    assert localise_page_references(page) == 0


def test_organisations_are_translatable_snippets(seeded, editor_client, french):
    org = seeded["organisations"]["Regional Council of Lapland"]
    assert org.locale == Locale.get_default()
    url = reverse(
        "wagtail_localize:submit_snippet_translation", args=["cms", "organisation", org.pk]
    )
    response = editor_client.post(url, {"locales": [french.pk]})
    assert response.status_code == 302
    org_fr = org.get_translation(french)
    translation = Translation.objects.get(
        source__object_id=org.translation_key, target_locale=french
    )
    po = _po(editor_client, translation)
    for entry in po:
        entry.msgstr = {"Regional Council of Lapland": "Conseil régional de Laponie"}.get(
            entry.msgid, entry.msgid
        )
    _upload(editor_client, translation, po)
    translation.save_target(publish=True)
    org_fr.refresh_from_db()
    assert org_fr.name == "Conseil régional de Laponie"
    assert (org_fr.country, org_fr.website) == (org.country, org.website)  # synchronised
    # Names are unique per language, not across them.
    assert Organisation.objects.filter(translation_key=org.translation_key).count() == 2


def test_translating_from_po_needs_every_string(seeded, french):
    with pytest.raises(MissingStrings):
        translate_from_po(seeded["interviews"][0], french, {"Project Manager": "Chef de projet"})
    assert not seeded["interviews"][0].has_translation(french)


def test_issue_numbers_are_unique_per_language(seeded, french):
    from django.core.exceptions import ValidationError

    issue = seeded["newsletter"]
    issue_fr = translate_from_po(issue, french, _same(issue, french))
    assert issue_fr.issue_number == issue.issue_number  # one issue, two languages
    other = NewsletterPage(title="Another", slug="another", issue_number=99, subject="S")
    issue.get_parent().add_child(instance=other)
    other.issue_number = issue.issue_number
    with pytest.raises(ValidationError) as error:
        other.full_clean()
    assert "issue_number" in error.value.message_dict


def test_pages_of_the_demo_keep_their_locales(seeded_translated):
    fr = Locale.objects.get(language_code="fr")
    for page in [seeded_translated["newsletter_fr"], *seeded_translated["interviews_fr"]]:
        assert page.locale == fr and page.live
    assert Page.objects.filter(locale=fr).count() == 8  # home, 2 indexes, 4 interviews, issue
