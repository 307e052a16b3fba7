"""In Debian's Chromium: a visitor reads the newsletter archive and follows its feed; an
editor lists the subscribers who read nothing lately and asks them to confirm again."""

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from mailing.models import Campaign, Delivery, MailingList, Subscriber, Subscription

pytestmark = pytest.mark.browser

PASSWORD = "a-long-test-password"  # noqa: S105 - a test login


def test_a_visitor_reads_the_archive_and_finds_its_feed(live_site, seeded, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    page.goto(live_site["url"] + "/")
    page.get_by_role("link", name="Newsletter", exact=True).click()
    expect(page.get_by_role("heading", name="Newsletter", level=1)).to_be_visible()
    alternate = page.locator('link[rel="alternate"][type="application/rss+xml"]')
    expect(alternate).to_have_attribute("href", "/newsletter/feed/")

    feed = page.request.get(live_site["url"] + "/newsletter/feed/")
    assert feed.ok and feed.headers["content-type"].startswith("application/rss+xml")
    channel = ET.fromstring(feed.body()).find("channel")  # noqa: S314 - our own output
    (item,) = channel.findall("item")
    assert item.findtext("title") == "Newsletter #3"
    assert item.findtext("link") == live_site["url"] + "/newsletter/newsletter-3/"

    page.get_by_role("link", name="Newsletter #3").click()
    page.wait_for_url(re.compile(r"/newsletter/newsletter-3/$"))
    expect(page.get_by_text("EU Clusters Talks").first).to_be_visible()
    expect(page.get_by_role("link", name="Unsubscribe")).to_have_count(0)


def test_an_editor_asks_the_disengaged_to_confirm_again(live_site, seeded, browser_page):
    from playwright.sync_api import expect

    news = MailingList.objects.get(slug="newsletter")
    issue = seeded["newsletter"]
    sleepy = []
    for name in ("sleepy.one", "sleepy.two"):
        subscriber = Subscriber.objects.create(email=f"{name}@example.org")
        Subscription.objects.create(subscriber=subscriber, mailing_list=news, status="confirmed")
        sleepy.append(subscriber)
    for i in range(3):
        campaign = Campaign.objects.create(page=issue, status=Campaign.Status.SENT)
        for subscriber in sleepy:
            Delivery.objects.create(
                campaign=campaign,
                subscriber=subscriber,
                status=Delivery.Status.SENT,
                sent_at=timezone.now() - timedelta(days=3 - i),
            )

    get_user_model().objects.create_superuser("sam", "sam@example.org", PASSWORD)
    page = browser_page
    page.goto(f"{live_site['url']}/admin/login/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_site['url']}/admin/")

    page.goto(f"{live_site['url']}/admin/snippets/mailing/subscriber/?disengaged=3")
    rows = page.get_by_role("row").filter(has_text="@example")
    expect(rows).to_have_count(2)  # the demo readers received nothing: not listed
    for subscriber in sleepy:
        row = page.get_by_role("row").filter(has_text=subscriber.email)
        row.get_by_role("checkbox").check()
    bulk = page.get_by_role("region", name="Bulk actions")
    bulk.get_by_role("link", name=re.compile("confirm their subscriptions again")).click()
    expect(page.get_by_text("Ask these subscribers to confirm their subscriptions")).to_be_visible()
    page.get_by_role("button", name="Yes, go ahead").click()
    expect(page.get_by_text("2 subscribers asked to confirm again.")).to_be_visible()

    assert set(
        Subscription.objects.filter(subscriber__in=sleepy).values_list("status", flat=True)
    ) == {"pending"}
    messages = live_site["smtp"].wait_for(2)
    assert sorted(m["To"] for m in messages) == ["sleepy.one@example.org", "sleepy.two@example.org"]
    assert all("confirm" in m["Subject"].lower() for m in messages)
