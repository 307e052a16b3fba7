"""The email checks an editor sees before sending."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from wagtail.images.models import Image
from wagtail.models import PageViewRestriction

from cms.models import EventPage
from interviews.models import InterviewPage
from newsletters.checks import check_issue, has_line_break
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


def test_image_readers_could_not_load_is_flagged(make_issue):
    # A collection restricted to signed-in people: its files are not served to readers.
    from wagtail.models import Collection, CollectionViewRestriction

    private = Collection.get_first_root_node().add_child(name="Partners only")
    CollectionViewRestriction.objects.create(
        collection=private, restriction_type=CollectionViewRestriction.LOGIN
    )
    image = Image.objects.get(title="Portrait of Päivi Ekdahl")
    issue = make_issue([("image", {"image": image, "alt_text": "Päivi Ekdahl"})])
    assert messages(issue) == []
    image.collection = private
    image.save()
    issue = make_issue([("image", {"image": image, "alt_text": "Päivi Ekdahl"})])
    assert messages(issue) == [
        "The image “Portrait of Päivi Ekdahl” is in a collection restricted to signed-in "
        "people: readers would see a broken image. Move it to a public collection."
    ]


def hide(page, how):
    """Make ``page`` one an email may not show: unpublished, private or expired."""
    if how == "unpublished":
        page.unpublish()
    elif how == "private":
        PageViewRestriction.objects.create(page=page, restriction_type=PageViewRestriction.LOGIN)
    else:
        # Past its expiry date, still live: Wagtail's scheduled unpublishing has not run.
        type(page).objects.filter(pk=page.pk).update(expire_at=timezone.now() - timedelta(hours=1))


SAID = {
    "unpublished": ("is not published", "which is not published"),
    "private": ("is private (view-restricted)", "which is private (view-restricted)"),
    "expired": ("has expired", "which has expired"),
}


@pytest.mark.parametrize("how", ["unpublished", "private", "expired"])
def test_pages_an_email_may_not_show_are_left_out_and_listed(make_issue, how):
    interview = InterviewPage.objects.get(slug="camille-esquerre")
    event = EventPage.objects.get(slug="european-cluster-conference-2024")
    issue = make_issue(
        [
            (
                "story",
                {
                    "heading": "Our next actions",
                    "text": "<p>A toolkit is coming.</p>",
                    "button": {"label": "Meet Camille", "page": interview},
                },
            ),
            (
                "interview_spotlight",
                {"heading": "Spotlight", "interviews": [{"interview": interview, "quote": ""}]},
            ),
            ("rich_text", f'<p>See <a linktype="page" id="{interview.pk}">Camille</a>.</p>'),
            ("events", {"heading": "Events", "source": "chosen", "events": [event]}),
        ]
    )
    url = "https://www.example.org/interviews/camille-esquerre/"
    before = render_email(issue)
    assert url in before.html and "European Cluster Conference" in before.text
    hide(interview, how)
    hide(event, how)

    left_out, link = SAID[how]
    found = messages(issue)
    title, event_title = "Interview with Camille Esquerré", event.title
    assert f"“{title}” {left_out}, so the email leaves it out." in found
    assert f"The email links to “{title}”, {link}; the link is left out." in found
    assert f"“{event_title}” {left_out}, so the email leaves it out." in found
    rendered = render_email(issue)
    for part in (rendered.html, rendered.text):
        assert url not in part
        assert "Meet Camille" not in part  # a button without a target is not drawn
        assert "European Cluster Conference" not in part
    assert "CAMILLE ESQUERRÉ" not in rendered.text
    assert "OUR NEXT ACTIONS" in rendered.text and "See Camille." in rendered.text


@pytest.mark.parametrize("how", ["private", "expired"])
def test_upcoming_events_leave_out_private_and_expired_events(make_issue, how):
    issue = make_issue([("events", {"heading": "Save the date", "source": "upcoming"})])
    upcoming = EventPage.objects.live().upcoming().first()
    assert upcoming.title in render_email(issue).text
    hide(upcoming, how)
    rendered = render_email(issue)
    assert upcoming.title not in rendered.text and upcoming.title not in rendered.html
    assert messages(issue) == []  # nobody chose it: nothing to fix


def test_a_subject_with_a_line_break_blocks_sending(issue3):
    issue3.subject = "Issue 3\nBcc: everyone@example.org"
    [check] = check_issue(issue3)
    assert check.blocks_sending
    assert check.message == (
        "The subject line holds a line break: put it on one line and save the issue."
    )
    assert has_line_break("a\u2028b") and has_line_break("a\r") and not has_line_break("a b")


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
