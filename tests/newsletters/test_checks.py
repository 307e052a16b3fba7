"""The email checks an editor sees before sending."""

import pytest
from django.urls import reverse
from wagtail.images.models import Image

from interviews.models import InterviewPage
from newsletters.checks import check_issue
from newsletters.rendering import render_email

pytestmark = pytest.mark.django_db


def messages(page):
    return [check.message for check in check_issue(page)]


def test_the_seed_issue_passes_every_check(issue3):
    assert messages(issue3) == []


def test_empty_subject_is_flagged(issue3):
    issue3.subject = ""
    assert "The subject line is empty." in messages(issue3)


def test_image_without_alt_text_is_flagged(make_issue):
    image = Image.objects.get(title="Portrait of Päivi Ekdahl")
    image.description = ""
    image.save()
    issue = make_issue([("image", {"image": image, "alt_text": ""})])
    assert "The image “Portrait of Päivi Ekdahl” has no alt text." in messages(issue)
    # Giving the block its own alt text settles it.
    fixed = make_issue([("image", {"image": image, "alt_text": "Päivi Ekdahl smiling"})])
    assert messages(fixed) == []


def test_links_to_unpublished_pages_are_flagged_and_left_out(make_issue):
    interview = InterviewPage.objects.get(slug="camille-esquerre")
    issue = make_issue(
        [
            ("button", {"label": "Meet Camille", "page": interview}),
            (
                "interview_spotlight",
                {"heading": "Spotlight", "interviews": [{"interview": interview, "quote": ""}]},
            ),
            ("rich_text", f'<p>See <a linktype="page" id="{interview.pk}">Camille</a>.</p>'),
        ]
    )
    interview.unpublish()
    found = messages(issue)
    assert "The email links to “Interview with Camille Esquerré”, which is not published." in (
        found
    )
    assert "“Interview with Camille Esquerré” is not published, so the email leaves it out." in (
        found
    )
    assert "CAMILLE ESQUERRÉ" not in render_email(issue).text


def test_html_over_gmail_limit_is_flagged(make_issue):
    long_text = "".join(f"<p>Paragraph {i} " + "gender equality " * 60 + "</p>" for i in range(120))
    issue = make_issue([("rich_text", long_text)])
    assert any("Gmail clips messages" in message for message in messages(issue))


def test_checks_panel_shows_on_the_edit_view(editor_client, issue3):
    issue3.subject = ""
    issue3.save_revision(clean=False)  # a draft, as the editor saved it
    response = editor_client.get(reverse("wagtailadmin_pages:edit", args=[issue3.pk]))
    assert response.status_code == 200
    assert "Email checks" in response.text
    assert "The subject line is empty." in response.text
