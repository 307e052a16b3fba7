"""An editor builds a segment and watches its live count, then sends issue #3 to a list
narrowed by it through the confirmation screen; a reader picks topics in the preference
centre. Debian's Chromium against the live server."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from interviews.models import InterviewPage
from mailing import tokens
from mailing.models import Campaign, Segment, Subscriber
from newsletters.models import NewsletterPage

pytestmark = pytest.mark.browser

PASSWORD = "a-long-test-password"  # noqa: S105 - a test login


@pytest.fixture
def admin_page(live_site, seeded, browser_page):
    get_user_model().objects.create_superuser("sam", "sam@example.org", PASSWORD)
    page = browser_page
    page.goto(f"{live_site['url']}/admin/login/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_site['url']}/admin/")
    return page


def french_readers(seeded):
    """Two more of the demo list's readers read French (besides the demo's own)."""
    confirmed = Subscriber.objects.receiving([seeded["mailing_list"]]).order_by("pk")
    ids = list(confirmed.values_list("pk", flat=True)[:2])
    Subscriber.objects.filter(pk__in=ids).update(language="fr")
    return list(confirmed.filter(language="fr").values_list("pk", flat=True))


def test_segment_live_count_and_send_through_confirmation(live_site, admin_page, seeded):
    from playwright.sync_api import expect

    page, site = admin_page, live_site["url"]
    french = french_readers(seeded)
    everyone = Subscriber.objects.filter(status="active").count()
    page.goto(f"{site}/admin/snippets/mailing/segment/add/")
    count = page.locator("[data-segment-count]")
    expect(count).to_have_text(str(everyone))
    page.get_by_label("Name").fill("French readers")
    page.get_by_label("Slug").fill("french")
    page.get_by_role("button", name="Insert a block").first.click()
    page.get_by_role("option", name="Language").click()
    page.get_by_label("Language is one of").select_option("fr")
    expect(count).to_have_text(str(len(french)))
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_role("link", name="French readers")).to_be_visible()
    segment = Segment.objects.get(slug="french")
    assert [c.block_type for c in segment.conditions] == ["language"]

    issue = NewsletterPage.objects.get(issue_number=3)
    page.goto(site + reverse("mailing_campaign_send", args=[issue.pk]))
    page.get_by_label(seeded["mailing_list"].name).check()
    recipients = page.locator("#recipient-count [data-count]")
    expect(recipients).not_to_have_text("0")
    page.get_by_label("Segment").select_option(label="French readers")
    expect(recipients).to_have_text(str(len(french)))
    page.get_by_role("button", name=re.compile("Review and send now")).click()
    expect(page.locator('[data-fact="segment"]')).to_contain_text("French readers")
    expect(page.locator('[data-fact="recipients"]')).to_contain_text(f"{len(french)} people")
    page.get_by_role("button", name="Confirm and send now").click()
    expect(page.get_by_text("Sending started.")).to_be_visible()
    campaign = Campaign.objects.get(page=issue, segment=segment)
    assert set(campaign.deliveries.values_list("subscriber_id", flat=True)) == set(french)


def test_reader_picks_topics_in_the_preference_centre(live_site, browser_page, seeded):
    from playwright.sync_api import expect

    interview = InterviewPage.objects.order_by("pk").first()
    interview.tags.add("Digitalisation", "Gender equality")
    interview.save()
    reader = Subscriber.objects.receiving([seeded["mailing_list"]]).order_by("pk").first()
    page = browser_page
    # SITE_URL is the live server; the page in English whatever the reader's language.
    page.goto(tokens.preferences_url(reader.pk) + "?lang=en")
    topics = page.get_by_role("group", name="Topics you are interested in")
    topics.get_by_label("Gender equality").check()
    page.get_by_label("Country").select_option("IT")
    page.get_by_role("button", name="Save my preferences").click()
    expect(page.get_by_role("status")).to_contain_text("Your preferences are saved")
    expect(topics.get_by_label("Gender equality")).to_be_checked()
    reader.refresh_from_db()
    assert reader.topics == ["gender-equality"] and reader.country == "IT"
