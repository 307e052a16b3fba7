"""Draft preview for the external site: a signed, expiring token shows one draft."""

import time
from urllib.parse import quote

import pytest
from django.contrib.auth.models import AnonymousUser
from wagtail_headless_preview.models import PagePreview

pytestmark = pytest.mark.django_db

URL = "/api/v2/page_preview/?content_type={ct}&token={token}"


def _draft_preview(page, **changes):
    for name, value in changes.items():
        setattr(page, name, value)
    preview = page.create_page_preview()
    return preview.token


def test_a_valid_token_returns_the_drafts_full_representation(seeded, client):
    page = seeded["interviews"][0]
    token = _draft_preview(page, title="Draft title", pull_quote="Draft quote.")

    response = client.get(URL.format(ct="interviews.interviewpage", token=token))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == page.pk
    assert body["title"] == "Draft title"
    assert body["pull_quote"] == "Draft quote."
    assert body["organisation"]["name"] == "AMBIT"
    assert body["portrait"]["renditions"]["card"]["url"].startswith("https://cms.example.org/")
    assert "no-store" in response["Cache-Control"]
    assert "ETag" not in response
    # The published page is untouched.
    assert client.get(f"/api/v2/pages/{page.pk}/").json()["title"] != "Draft title"


def test_preview_of_a_never_published_page_with_tags_and_documents(seeded, client):
    from cms.models import GoodPracticePage

    index = seeded["handbook"].get_parent()
    page = GoodPracticePage(
        title="Brand new practice",
        slug="brand-new-practice",
        summary="Not yet published.",
        organisation=seeded["organisations"]["AMBIT"],
        live=False,
    )
    index.add_child(instance=page)
    page.tags.add("Mentoring")
    page.documents.create(document=seeded["handbook_pdf"], label="Get it")
    token = _draft_preview(page)

    body = client.get(URL.format(ct="cms.goodpracticepage", token=token)).json()

    assert body["title"] == "Brand new practice"
    assert body["tags"] == [{"name": "Mentoring", "slug": "mentoring"}]
    assert body["documents"][0]["label"] == "Get it"
    assert body["documents"][0]["document"]["url"].startswith("https://cms.example.org/")
    assert client.get(f"/api/v2/pages/{page.pk}/").status_code == 404


def test_tampered_token_is_refused_without_content(seeded, client):
    token = _draft_preview(seeded["interviews"][0], title="Secret draft")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    response = client.get(URL.format(ct="interviews.interviewpage", token=forged))

    assert response.status_code == 403
    assert b"Secret draft" not in response.content


def test_expired_token_is_refused_without_content(seeded, client, settings, monkeypatch):
    settings.PREVIEW_TOKEN_MAX_AGE = 3600
    token = _draft_preview(seeded["interviews"][0], title="Secret draft")
    later = time.time() + 3601
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)

    response = client.get(URL.format(ct="interviews.interviewpage", token=token))

    assert response.status_code == 410
    assert b"Secret draft" not in response.content


def test_token_for_another_type_or_a_deleted_preview_finds_nothing(seeded, client):
    token = _draft_preview(seeded["interviews"][0], title="Secret draft")

    assert client.get(URL.format(ct="cms.eventpage", token=token)).status_code == 404
    assert client.get(URL.format(ct="nope.nope", token=token)).status_code == 400
    PagePreview.objects.all().delete()
    assert client.get(URL.format(ct="interviews.interviewpage", token=token)).status_code == 404


def test_preview_button_opens_the_front_end_with_a_token(seeded, rf):
    """With a front end configured, the admin's preview goes to its preview route."""
    page = seeded["interviews"][0]
    request = rf.get("/admin/pages/preview/")

    response = page.serve_preview(request, page.default_preview_mode)

    preview = PagePreview.objects.get()
    assert response.status_code == 302
    assert response["Location"] == (
        "https://www.example.org/preview/?content_type=interviews.interviewpage&token="
        + quote(preview.token, safe="")
    )


# Preview with the CMS's own templates ------------------------------------------------


def _serve_preview(rf, page, mode):
    request = rf.get("/admin/pages/preview/")
    request.user = AnonymousUser()
    response = page.serve_preview(request, mode)
    response.render()
    return response.content.decode()


def test_without_a_front_end_the_preview_uses_the_cms_templates(seeded, rf, settings):
    settings.FRONTEND_PREVIEW_URL = ""
    page = seeded["interviews"][0]
    page.pull_quote = "A draft quote nobody has published."

    assert page.preview_modes == [("", "CMS templates")]
    html = _serve_preview(rf, page, page.default_preview_mode)

    assert "A draft quote nobody has published." in html
    assert "own page templates." in html
    assert "set <code>FRONTEND_URL</code>" in html
    assert not PagePreview.objects.exists()


def test_with_a_front_end_the_cms_templates_are_a_second_mode(seeded, rf):
    page = seeded["events"][3]
    page.title = "Renamed launch (draft)"

    assert [mode for mode, _label in page.preview_modes] == ["", "cms"]
    html = _serve_preview(rf, page, "cms")

    assert "Renamed launch (draft)" in html
    assert "Choose “Website” in the preview mode menu" in html
    assert "https://www.example.org/preview" in html


@pytest.mark.parametrize("model_name", ["home", "handbook"])
def test_every_content_page_previews_with_the_cms_templates(seeded, rf, settings, model_name):
    settings.FRONTEND_PREVIEW_URL = ""
    page = seeded[model_name]
    page.title = "Draft title for the preview"
    assert "Draft title for the preview" in _serve_preview(rf, page, "")


def test_a_page_type_without_a_template_previews_plainly(seeded, rf, settings):
    from newsletters.models import NewsletterIndexPage

    settings.FRONTEND_PREVIEW_URL = ""
    page = NewsletterIndexPage.objects.get()
    page.title = "Newsletter archive (draft)"
    html = _serve_preview(rf, page, "")
    assert "<h1>Newsletter archive (draft)</h1>" in html


# What the preview API says matches the live API ------------------------------------


def test_preview_timestamps_are_utc_like_the_live_api(seeded, client, settings):
    from cms.models import EventPage

    settings.TIME_ZONE = "Europe/Brussels"
    event = EventPage.objects.get(pk=seeded["events"][3].pk)  # as the admin's form has it
    token = _draft_preview(event)

    live = client.get(f"/api/v2/pages/{event.pk}/").json()
    draft = client.get(URL.format(ct="cms.eventpage", token=token)).json()

    for key in ("first_published_at", "last_published_at"):
        assert draft["meta"][key] == live["meta"][key]
        assert live["meta"][key].endswith("Z")
    # The draft's event times come back from its revision in the site's zone.
    assert draft["start"] == live["start"] and live["start"].endswith("Z")
    assert draft["end"] == live["end"]


def test_rich_text_carries_no_editor_block_keys(seeded, client):
    page = seeded["interviews"][0]
    page.intro = '<p data-block-key="a1b2c">Hello <b>world</b></p><p data-block-key="x9">Bye</p>'
    page.save_revision().publish()
    token = _draft_preview(page)

    live = client.get(f"/api/v2/pages/{page.pk}/")
    draft = client.get(URL.format(ct="interviews.interviewpage", token=token))

    for response in (live, draft):
        assert b"data-block-key" not in response.content
        assert response.json()["intro"] == "<p>Hello <b>world</b></p><p>Bye</p>"


def test_preview_leaves_out_links_to_expired_pages(seeded, client):
    from django.utils import timezone
    from wagtail.models import Page

    target = seeded["interviews"][1]
    Page.objects.filter(pk=target.pk).update(expire_at=timezone.now())
    page = seeded["interviews"][0]
    token = _draft_preview(
        page, intro=f'<p>See <a linktype="page" id="{target.pk}">another interview</a>.</p>'
    )

    draft = client.get(URL.format(ct="interviews.interviewpage", token=token)).json()

    assert draft["intro"] == "<p>See <a>another interview</a>.</p>"
