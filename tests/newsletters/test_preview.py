"""Editors preview the real email (HTML and plain text) from the admin."""

import pytest
from django.urls import reverse
from wagtail.test.utils.form_data import inline_formset, nested_form_data, streamfield

from newsletters.models import NewsletterIndexPage

pytestmark = pytest.mark.django_db


def test_preview_modes_of_a_revision(editor_client, issue3):
    revision = issue3.latest_revision
    url = reverse("wagtailadmin_pages:revisions_view", args=[issue3.pk, revision.pk])

    email = editor_client.get(url, {"mode": "email"})
    assert email.status_code == 200
    assert email["Content-Type"].startswith("text/html")
    html = email.content.decode()
    assert "Massimiliano Rumignani" in html and "<mj-" not in html
    assert "%%" not in html  # the editor sees it as a recipient would
    assert 'href="#unsubscribe"' in html

    text = editor_client.get(url, {"mode": "text"})
    assert text.status_code == 200
    assert text["Content-Type"].startswith("text/plain")
    assert "MASSIMILIANO RUMIGNANI, Project Manager at AMBIT" in text.content.decode()


def test_view_draft_shows_the_email(editor_client, issue3):
    response = editor_client.get(reverse("wagtailadmin_pages:view_draft", args=[issue3.pk]))
    assert response.status_code == 200
    assert "Click here to download the handbook" in response.content.decode()


def test_live_preview_while_editing(editor_client, issue3):
    archive = NewsletterIndexPage.objects.get()
    url = reverse(
        "wagtailadmin_pages:preview_on_add",
        args=["newsletters", "newsletterpage", archive.pk],
    )
    data = nested_form_data(
        {
            "title": "Newsletter #4",
            "slug": "newsletter-4",
            "issue_number": 4,
            "subject": "Our video toolkit is out",
            "preheader": "Watch it now.",
            "header_title": "Cluster-based gender mainstreaming",
            "body": streamfield(
                [
                    (
                        "button",
                        {
                            "label": "Watch the video toolkit",
                            "page": "",
                            "document": "",
                            "url": "https://example.org/toolkit",
                        },
                    )
                ]
            ),
            "comments": inline_formset([]),
        }
    )
    posted = editor_client.post(url, data)
    assert posted.status_code == 200 and posted.json()["is_valid"], posted.content

    for mode, expected in (
        ("email", 'href="https://example.org/toolkit"'),
        ("text", "Watch the video toolkit: https://example.org/toolkit"),
    ):
        response = editor_client.get(url, {"mode": mode})
        assert response.status_code == 200
        assert expected in response.content.decode()


def test_preview_requires_an_editor(client, issue3):
    revision = issue3.latest_revision
    url = reverse("wagtailadmin_pages:revisions_view", args=[issue3.pk, revision.pk])
    response = client.get(url, {"mode": "email"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
