"""The seed issue as subscribers get it: complete, absolute, compiled, small enough."""

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup
from django.utils import timezone

from cms.models import EventPage
from interviews.demo import INTERVIEWS
from interviews.models import InterviewPage
from newsletters.blocks import EventsBlock
from newsletters.rendering import (
    GMAIL_CLIP_BYTES,
    PLACEHOLDERS,
    Personaliser,
    personalise,
    render_email,
)

pytestmark = pytest.mark.django_db


def visible_text(html):
    return " ".join(BeautifulSoup(html, "html.parser").get_text(" ").split())


def squash(text):
    return " ".join(text.split())


def test_seed_issue_carries_every_interviewee_quote_and_link(issue3):
    rendered = render_email(issue3)
    html_text, text = visible_text(rendered.html), squash(rendered.text)
    for interview in INTERVIEWS:
        name = interview["interviewee_name"]
        quote = squash(interview["pull_quote"])
        assert name in html_text and name.upper() in text
        assert quote in html_text and quote in text
        url = f"https://www.example.org/interviews/{interview['slug']}/"
        assert f'href="{url}"' in rendered.html and url in rendered.text
    assert "Project Manager at AMBIT" in html_text
    assert html_text.count("Read the full interview") == 4


def test_seed_issue_has_the_handbook_download_button(issue3):
    rendered = render_email(issue3)
    soup = BeautifulSoup(rendered.html, "html.parser")
    button = soup.find("a", string=re.compile("Click here to download the handbook"))
    assert button is not None
    assert re.match(r"^https://cms\.example\.org/documents/\d+/.+\.pdf$", button["href"])
    assert f"Click here to download the handbook: {button['href']}" in squash(rendered.text)


def test_seed_issue_carries_every_story_and_event(issue3):
    rendered = render_email(issue3)
    html_text, text = visible_text(rendered.html), squash(rendered.text)
    for expected in [
        "Our Gender Equality Training Handbook becomes itself a good practice in Europe!",
        "downloaded a whopping 273 times",
        "Our next actions",
        "Virtual Learning Environment",
        "We put under the spotlight our interviewees!",
        "EU Clusters Talks",
        "EWMD Network online event",
        "European Cluster Conference 2024",
        "90 participants",
        "50 participants",
        "500 participants",
        "Launch of the PENELOPE video toolkit",
    ]:
        assert expected in html_text, expected
        assert expected.upper() in text.upper(), expected
    assert "Watch the recording" in html_text
    assert "Register: https://www.penelope-project.eu/vle" in rendered.text


def test_nothing_but_the_per_recipient_placeholders_survives(issue3):
    rendered = render_email(issue3)
    for part in (rendered.html, rendered.text):
        assert "<mj-" not in part and "</mj-" not in part
        assert "{{" not in part and "{%" not in part and "%}" not in part
        assert set(re.findall(r"%%[A-Z_]+%%", part)) <= set(PLACEHOLDERS.values())
    for key in ("unsubscribe_url", "preferences_url", "web_url"):
        assert PLACEHOLDERS[key] in rendered.html and PLACEHOLDERS[key] in rendered.text


def test_html_is_under_gmail_clipping_and_lines_are_short(issue3):
    rendered = render_email(issue3)
    assert rendered.html_bytes < GMAIL_CLIP_BYTES
    assert max(len(line) for line in rendered.html.splitlines()) <= 900
    assert max(len(line) for line in rendered.text.splitlines()) <= 200


def test_links_and_images_are_absolute_with_alt_and_size(issue3):
    rendered = render_email(issue3)
    soup = BeautifulSoup(rendered.html, "html.parser")
    for a in soup.find_all("a", href=True):
        assert re.match(r"^(https://|mailto:|%%)", a["href"]), a["href"]
    images = soup.find_all("img")
    assert len(images) == 5  # the handbook cover and four portraits
    for img in images:
        assert img["src"].startswith("https://cms.example.org/media/images/")
        assert img.get("alt") and img.get("width") and img.get("height")
    portrait = next(img for img in images if "Massimiliano" in img["alt"])
    assert portrait["width"] == "120"
    assert ".width-240" in portrait["src"]  # a rendition at twice the display width


def test_preheader_is_hidden_and_footer_is_complete(issue3, settings):
    rendered = render_email(issue3)
    soup = BeautifulSoup(rendered.html, "html.parser")
    preheader = soup.find(string=re.compile("273 downloads, three events"))
    assert "display:none" in preheader.parent["style"].replace(" ", "")
    assert rendered.subject == issue3.subject
    text = visible_text(rendered.html)
    assert settings.NEWSLETTER_POSTAL_ADDRESS in text
    assert "You receive this email because you subscribed" in text
    for label in ("Unsubscribe", "Manage your preferences", "View in browser"):
        assert soup.find("a", string=label) is not None
    assert settings.NEWSLETTER_POSTAL_ADDRESS in rendered.text


def test_changing_a_pages_quote_changes_the_next_render(issue3):
    before = render_email(issue3)
    interview = InterviewPage.objects.get(slug="paivi-ekdahl")
    interview.pull_quote = "Lapland's factories are digital, and so is their future."
    interview.save_revision().publish()

    after = render_email(issue3)
    assert "factories are digital" not in before.html
    assert "Lapland&#x27;s factories are digital" in after.html or (
        "Lapland's factories are digital" in after.html
    )
    assert "“Lapland's factories are digital, and so is their future.”" in after.text


def test_a_draft_change_to_a_page_stays_out_of_the_email(issue3):
    interview = InterviewPage.objects.get(slug="camille-esquerre")
    interview.pull_quote = "Unpublished words"
    interview.save_revision()  # a draft, not published
    assert "Unpublished words" not in render_email(issue3).text


def test_renders_from_a_revision(issue3):
    issue3.subject = "A revised subject"
    revision = issue3.save_revision()
    rendered = render_email(revision.as_object())
    assert rendered.subject == "A revised subject"
    assert "MASSIMILIANO RUMIGNANI" in rendered.text


def test_personalise_fills_placeholders_and_escapes_html(issue3):
    rendered = render_email(issue3)
    values = {
        "name": "Ana <b>",
        "email": "ana@example.org",
        "unsubscribe_url": "https://cms.example.org/subscriptions/unsubscribe/tok/",
        "preferences_url": "https://cms.example.org/subscriptions/preferences/tok/",
        "web_url": "https://cms.example.org/newsletters/3/",
    }
    html = personalise(rendered.html, values, html=True)
    text = personalise(rendered.text, values)
    assert "%%" not in html and "%%" not in text
    assert 'href="https://cms.example.org/subscriptions/unsubscribe/tok/"' in html
    assert "Unsubscribe: https://cms.example.org/subscriptions/unsubscribe/tok/" in text
    assert personalise("Hello %%NAME%%", values, html=True) == "Hello Ana &lt;b&gt;"
    assert personalise("Hello %%NAME%%", values) == "Hello Ana <b>"


def test_a_campaign_personaliser_matches_personalise(issue3):
    rendered = render_email(issue3)
    values = {"name": "Zoë & co", "unsubscribe_url": "https://u.example/1", "web_url": "https://w/"}
    assert Personaliser(rendered.html, html=True).fill(values) == personalise(
        rendered.html, values, html=True
    )
    assert Personaliser(rendered.text).fill(values) == personalise(rendered.text, values)


def test_html_declares_its_language(issue3):
    html = render_email(issue3).html
    assert BeautifulSoup(html, "html.parser").html["lang"] == "en-gb"


def test_upcoming_event_times_say_their_time_zone(issue3):
    launch = EventPage.objects.get(slug="virtual-learning-environment-launch")
    start = timezone.localtime(launch.start)
    zone = start.tzname()
    assert zone in {"CET", "CEST"}  # Europe/Brussels, the site's time zone
    when = f"{start.day} {start:%B %Y}, {start:%H:%M} {zone}"
    rendered = render_email(issue3)
    assert when in rendered.text
    assert when in visible_text(rendered.html)
    # Past events read as reports: a date, no time.
    assert "8 May 2024 · The Square, Brussels, Belgium" in rendered.text


def test_event_times_follow_the_site_time_zone_and_name_offsets():
    event = EventPage(
        title="Webinar",
        start=datetime(2030, 1, 15, 9, 30, tzinfo=UTC),
        is_online=True,
    )
    later = datetime(2020, 1, 1, tzinfo=UTC)
    with timezone.override(ZoneInfo("America/New_York")):
        assert EventsBlock.describe(event, later)["when"] == "15 January 2030, 04:30 EST"
    with timezone.override(ZoneInfo("Asia/Dubai")):  # no abbreviation: the UTC offset
        assert EventsBlock.describe(event, later)["when"] == "15 January 2030, 13:30 UTC+04"


def test_footer_names_the_sender_once(issue3, settings):
    # The default address starts with the project's name: no "PENELOPE · PENELOPE project".
    rendered = render_email(issue3)
    for part in (visible_text(rendered.html), rendered.text):
        assert "PENELOPE project, Avenue des Arts 1" in part
        assert "PENELOPE · PENELOPE" not in part and "PENELOPE, PENELOPE" not in part
    settings.NEWSLETTER_POSTAL_ADDRESS = "Rue Belliard 40, 1040 Brussels"
    rendered = render_email(issue3)
    assert "PENELOPE · Rue Belliard 40, 1040 Brussels" in visible_text(rendered.html)
    assert "PENELOPE · Rue Belliard 40, 1040 Brussels" in rendered.text
