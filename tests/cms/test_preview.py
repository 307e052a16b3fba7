"""Draft preview for the external site: a signed, expiring token shows one draft."""

import time
from urllib.parse import quote

import pytest
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
    """What the admin's preview panel shows: the front end's preview URL, signed token."""
    page = seeded["interviews"][0]
    request = rf.get("/admin/pages/preview/")

    response = page.serve_preview(request, page.default_preview_mode)

    preview = PagePreview.objects.get()
    html = response.content.decode()
    assert "https://www.example.org/preview/?content_type=interviews.interviewpage&amp;" in html
    assert "token=" + quote(preview.token, safe="") in html
