"""The content API in several languages: `?locale=`, `translation_of`, `meta.locale` and
`meta.translations`, the calendar and preview per language, webhooks with the locale."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from wagtail.models import Locale, PageViewRestriction

from cms.api.models import WebhookDelivery
from cms.translating import translate_from_po
from interviews.models import InterviewPage
from newsletters.models import NewsletterPage

pytestmark = pytest.mark.django_db

FRONT = "https://www.example.org"
PAGES = "/api/v2/pages/"
TRANSLATIONS_QUERY = '"wagtailcore_page"."translation_key" IN ('


def _by_id(body):
    return {item["id"]: item for item in body["items"]}


def test_a_listing_per_language(seeded_translated, api):
    english = seeded_translated["interviews"]
    french = seeded_translated["interviews_fr"]

    _r, body = api(f"{PAGES}?type=interviews.InterviewPage&locale=fr")
    assert set(_by_id(body)) == {p.pk for p in french}
    assert body["meta"]["total_count"] == 4
    item = _by_id(body)[french[0].pk]
    assert item["title"] == "Entretien avec Massimiliano Rumignani"
    assert item["role"] == "Chef de projet"
    assert item["organisation"]["name"] == "AMBIT"
    assert item["meta"]["locale"] == "fr"
    assert item["meta"]["translations"] == [{"id": english[0].pk, "locale": "en"}]
    # The French pages live under /fr/ on the front end.
    assert item["meta"]["url_path"] == "/fr/entretiens/massimiliano-rumignani/"
    assert item["meta"]["html_url"] == f"{FRONT}/fr/entretiens/massimiliano-rumignani/"

    _r, body = api(f"{PAGES}?type=interviews.InterviewPage&locale=en")
    assert set(_by_id(body)) == {p.pk for p in english}
    item = _by_id(body)[english[0].pk]
    assert item["meta"]["locale"] == "en"
    assert item["meta"]["translations"] == [{"id": french[0].pk, "locale": "fr"}]
    assert item["meta"]["url_path"] == "/interviews/massimiliano-rumignani/"

    # Without a locale, every language (as Wagtail's API).
    _r, body = api(f"{PAGES}?type=interviews.InterviewPage")
    assert body["meta"]["total_count"] == 8


def test_pages_only_in_english_fall_back_and_list_no_translation(seeded_translated, api):
    handbook = seeded_translated["handbook"]
    _r, body = api(f"{PAGES}{handbook.pk}/")
    assert body["meta"] == body["meta"] | {"locale": "en", "translations": []}
    _r, body = api(f"{PAGES}?type=cms.GoodPracticePage&locale=fr")
    assert body["items"] == []

    # The French issue points at the French interviews, at the English handbook.
    issue_fr = seeded_translated["newsletter_fr"]
    _r, body = api(f"{PAGES}{issue_fr.pk}/")
    assert body["meta"]["locale"] == "fr"
    assert body["subject"].startswith("Lettre PENELOPE n°")
    blocks = {block["type"]: block["value"] for block in body["body"]}
    spotlight = blocks["interview_spotlight"]["interviews"]
    assert [i["interview"]["id"] for i in spotlight] == [
        p.pk for p in seeded_translated["interviews_fr"]
    ]
    assert blocks["good_practice"]["practice"]["id"] == handbook.pk


def test_translation_of_lists_the_other_languages(seeded_translated, api):
    issue = seeded_translated["newsletter"]
    issue_fr = seeded_translated["newsletter_fr"]
    _r, body = api(f"{PAGES}?translation_of={issue.pk}")
    assert [item["id"] for item in body["items"]] == [issue_fr.pk]
    _r, body = api(f"{PAGES}?translation_of={issue_fr.pk}&locale=en")
    assert [item["id"] for item in body["items"]] == [issue.pk]
    _r, body = api(f"{PAGES}?translation_of={issue.pk}&locale=de")
    assert body["items"] == []


def test_drafts_and_private_translations_are_not_listed(seeded_translated, api):
    interview, interview_fr = (
        seeded_translated["interviews"][1],
        seeded_translated["interviews_fr"][1],
    )
    interview_fr.unpublish()
    _r, body = api(f"{PAGES}{interview.pk}/")
    assert body["meta"]["translations"] == []
    assert api(f"{PAGES}{interview_fr.pk}/")[0].status_code == 404

    interview_fr.save_revision().publish()
    _r, body = api(f"{PAGES}{interview.pk}/")
    assert body["meta"]["translations"] == [{"id": interview_fr.pk, "locale": "fr"}]

    PageViewRestriction.objects.create(page=interview_fr, restriction_type="login")
    _r, body = api(f"{PAGES}{interview.pk}/")
    assert body["meta"]["translations"] == []


def test_a_new_translation_shows_on_the_source_at_once(seeded, api, settings):
    """The source's cached fragment changes when a translation is published."""
    settings.API_CACHE_TIMEOUT = 300
    french = Locale.objects.get_or_create(language_code="fr")[0]
    interview = seeded["interviews"][2]
    first, body = api(f"{PAGES}{interview.pk}/")
    assert body["meta"]["translations"] == []
    assert api(f"{PAGES}{interview.pk}/", if_none_match=first["ETag"])[0].status_code == 304

    from tests.cms.test_translation import _same

    interview_fr = translate_from_po(interview, french, _same(interview, french))

    response, body = api(f"{PAGES}{interview.pk}/", if_none_match=first["ETag"])
    assert response.status_code == 200
    assert body["meta"]["translations"] == [{"id": interview_fr.pk, "locale": "fr"}]
    _r, body = api(f"{PAGES}?locale=fr&type=interviews.InterviewPage")
    assert [item["id"] for item in body["items"]] == [interview_fr.pk]

    interview_fr.delete()
    _r, body = api(f"{PAGES}{interview.pk}/")
    assert body["meta"]["translations"] == []


def test_translations_cost_one_query_per_listing_not_per_page(seeded_translated, api, settings):
    from django.core.cache import cache

    settings.API_CACHE_TIMEOUT = 300

    def build(url):
        cache.clear()  # every fragment built now, with its translations
        with CaptureQueriesContext(connection) as queries:
            _r, body = api(url)
        return body, queries.captured_queries

    body, queries = build(f"{PAGES}?limit=50")
    assert body["meta"]["total_count"] >= 20
    assert all({"locale", "translations"} <= set(item["meta"]) for item in body["items"])
    translations = [q for q in queries if TRANSLATIONS_QUERY in q["sql"]]
    assert len(translations) == 1, [q["sql"] for q in translations]

    # The same work for 2 pages as for 20: nothing per page.
    _body, few = build(f"{PAGES}?limit=2&type=interviews.InterviewPage")
    _body, many = build(f"{PAGES}?limit=50&type=interviews.InterviewPage")
    assert len(_body["items"]) == 8
    assert len(many) == len(few)
    _body, french = build(f"{PAGES}?limit=50&type=interviews.InterviewPage&locale=fr")
    assert len(french) <= len(many) + 1

    # Served from the cached fragments: no translation query at all.
    api(f"{PAGES}?limit=50")
    with CaptureQueriesContext(connection) as cached:
        api(f"{PAGES}?limit=50")
    assert not [q for q in cached.captured_queries if TRANSLATIONS_QUERY in q["sql"]]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "xx",
        "FR",
        "fr\r\nX-Injected: 1",
        "f" * 100_000,
        "\u0066\u0433",  # "f" + Cyrillic ghe: a look-alike of "fr"
        "ｆｒ",  # fullwidth
        "fr ",
        "fr,en",
        "%00",
        "\x00",
    ],
)
def test_a_bad_locale_is_a_clear_400(seeded, api, value):
    from urllib.parse import quote

    response, body = api(f"{PAGES}?locale={quote(value)}")
    assert response.status_code == 400
    message = body["message"]
    assert "locale" in message or "NUL" in message
    assert len(message) < 200  # never echoes what it was given
    if value and "\x00" not in value:
        assert "enabled languages: en, fr" in message


@pytest.mark.parametrize("value", ["", "abc", "-1", "99999999999999999999999", "١٢", "1\r\n"])
def test_a_bad_translation_of_is_a_400(seeded, api, value):
    from urllib.parse import quote

    response, body = api(f"{PAGES}?translation_of={quote(value)}")
    assert response.status_code == 400
    assert "translation_of" in body["message"]


def test_the_calendar_per_language(seeded_translated, client):
    french = Locale.objects.get(language_code="fr")
    launch = seeded_translated["events"][3]  # the upcoming one
    from tests.cms.test_translation import _same

    launch_fr = translate_from_po(launch, french, _same(launch, french))
    launch_fr.title = "Lancement de la boîte à outils vidéo PENELOPE"
    launch_fr.save_revision().publish()

    all_events = client.get("/api/events.ics").content.decode()
    assert f"UID:event-{launch.pk}@" in all_events and f"UID:event-{launch_fr.pk}@" in all_events
    french_only = client.get("/api/events.ics?locale=fr").content.decode()
    assert f"UID:event-{launch_fr.pk}@" in french_only
    assert f"UID:event-{launch.pk}@" not in french_only
    assert "Lancement de la boîte à outils vidéo PENELOPE" in french_only
    assert f"URL:{FRONT}/fr/" in french_only.replace("\r\n ", "")
    english = client.get("/api/events.ics?locale=en").content.decode()
    assert f"UID:event-{launch_fr.pk}@" not in english

    for bad in ["xx", "", "fr\r\nX: 1", "f" * 5000, "\u0066\u0433"]:
        response = client.get("/api/events.ics", {"locale": bad})
        assert response.status_code == 400
        assert b"locale" in response.content


def test_preview_of_a_translated_draft(seeded_translated, client):
    interview_fr = seeded_translated["interviews_fr"][0]
    interview_fr.title = "Entretien (brouillon)"
    token = interview_fr.create_page_preview().token
    response = client.get(
        f"/api/v2/page_preview/?content_type=interviews.interviewpage&token={token}"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Entretien (brouillon)"
    assert body["meta"]["locale"] == "fr"
    assert body["meta"]["translations"] == [
        {"id": seeded_translated["interviews"][0].pk, "locale": "en"}
    ]

    # A translation never published yet previews too, with its language.
    french = Locale.objects.get(language_code="fr")
    handbook = seeded_translated["handbook"]
    from wagtail_localize.models import Translation, TranslationSource

    source, _ = TranslationSource.get_or_create_from_instance(handbook)
    Translation.objects.create(source=source, target_locale=french).save_target(publish=False)
    draft = handbook.get_translation(french).specific
    assert not draft.live
    token = draft.create_page_preview().token
    body = client.get(
        f"/api/v2/page_preview/?content_type=cms.goodpracticepage&token={token}"
    ).json()
    assert body["id"] == draft.pk and body["meta"]["locale"] == "fr"
    assert body["meta"]["translations"] == [{"id": handbook.pk, "locale": "en"}]


def test_publish_webhooks_carry_the_locale(
    seeded_translated, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.CONTENT_WEBHOOK_URLS = ["http://127.0.0.1:9/never"]
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    interview, interview_fr = (
        seeded_translated["interviews"][0],
        seeded_translated["interviews_fr"][0],
    )
    with django_capture_on_commit_callbacks(execute=True):
        interview_fr.save_revision().publish()
        interview.save_revision().publish()
        interview_fr.unpublish()
    events = [d.payload for d in WebhookDelivery.objects.order_by("pk")]
    assert [(e["event"], e["id"], e["locale"]) for e in events] == [
        ("page.published", interview_fr.pk, "fr"),
        ("page.published", interview.pk, "en"),
        ("page.unpublished", interview_fr.pk, "fr"),
    ]
    assert events[0]["translation_key"] == events[1]["translation_key"]
    assert events[0]["url_path"] == "/fr/entretiens/massimiliano-rumignani/"

    interview_fr.save_revision().publish()
    with django_capture_on_commit_callbacks(execute=True):
        InterviewPage.objects.get(pk=interview_fr.pk).delete()
    deleted = WebhookDelivery.objects.order_by("-pk").first().payload
    assert (deleted["event"], deleted["id"], deleted["locale"]) == (
        "page.deleted",
        interview_fr.pk,
        "fr",
    )


def test_the_demo_translation_is_complete_and_idempotent(seeded_translated):
    from penelope import demo

    issue, issue_fr = seeded_translated["newsletter"], seeded_translated["newsletter_fr"]
    assert issue_fr.translation_key == issue.translation_key
    assert issue_fr.issue_number == issue.issue_number == 3
    assert issue_fr.sent_at == issue.sent_at and issue_fr.public_sent_at == issue.public_sent_at
    assert issue.title == "Newsletter #3"  # the English is unchanged
    assert issue.subject.startswith("PENELOPE newsletter #3")
    count = NewsletterPage.objects.count()
    again = demo.seed_all()
    assert again["newsletter_fr"].pk == issue_fr.pk
    assert NewsletterPage.objects.count() == count
    assert again["newsletter_fr"].get_latest_revision().pk == issue_fr.get_latest_revision().pk


def test_find_a_translated_page_by_its_front_end_path(seeded_translated, client):
    interview_fr = seeded_translated["interviews_fr"][3]
    response = client.get("/api/v2/pages/find/?html_path=/fr/entretiens/paivi-ekdahl/")
    assert response.status_code == 302
    assert f"/api/v2/pages/{interview_fr.pk}/" in response["Location"]
    response = client.get("/api/v2/pages/find/?html_path=/interviews/paivi-ekdahl/")
    english = seeded_translated["interviews"][3]
    assert f"/api/v2/pages/{english.pk}/" in response["Location"]
    assert (
        client.get("/api/v2/pages/find/?html_path=/de/interviews/paivi-ekdahl/").status_code == 404
    )
