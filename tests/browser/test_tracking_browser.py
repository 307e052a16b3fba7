"""A reader clicks links of a real sent issue in Chromium; the editor reads the report.

The issue goes out through a real SMTP server on loopback; the links are read from the
received HTML, which Chromium shows and clicks as a mail client's browser would. The
external website is not reachable here, so Chromium's request to it is answered locally.
"""

import re

import pytest

from mailing import campaigns, links

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ENGLISH_READER = "newsletter-reader@example.com"


def test_clicks_in_a_browser_show_in_the_campaign_report_and_on_the_page(
    live_site, browser_page, seeded, editor, settings, tmp_path
):
    settings.TRACKING_SPOOL_DIR = tmp_path / "spool"
    settings.REDIS_URL = ""
    links.target_of.cache_clear()
    campaign = campaigns.create(seeded["newsletter"], [seeded["mailing_list"]])
    assert campaigns.schedule(campaign)  # the worker (in-process here) starts and sends it
    campaign.refresh_from_db()
    assert campaign.status == campaign.Status.SENT
    received = live_site["smtp"].wait_for(8)
    # The English reader's copy (readers in other languages get their translation).
    message = next(m for m in received if m["To"].addresses[0].addr_spec == ENGLISH_READER)
    html = message.get_body(("html",)).get_content()

    page = browser_page
    landed = []

    def network(route):
        url = route.request.url
        if url.startswith("https://www.example.org/"):
            landed.append(url)
            route.fulfill(status=200, content_type="text/html", body="<h1>Website</h1>")
        elif url.startswith(f"{live_site['url']}/t/"):
            route.continue_()
        else:
            route.abort()  # images, fonts: not what this test is about

    page.route("**/*", network)
    page.set_content(html)
    interview = page.get_by_role("link", name=re.compile("Read the full interview")).first
    href = interview.get_attribute("href")
    assert href.startswith(f"{live_site['url']}/t/")
    interview.click()
    page.wait_for_url(re.compile(r"https://www\.example\.org/interviews/"))
    assert "utm_medium=email" in landed[-1] and "utm_source=newsletter" in landed[-1]
    page.unroute("**/*")
    page.goto(f"{live_site['url']}/admin/login/")
    page.get_by_label(re.compile("Username|Email", re.I)).fill("editor")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name=re.compile("Sign in", re.I)).click()
    page.wait_for_url(re.compile("/admin/$"))
    page.goto(f"{live_site['url']}/admin/campaigns/{campaign.pk}/")
    table = page.get_by_role("table", name="Clicks per link")
    row = table.get_by_role("row").filter(has_text=landed[-1].split("?")[0])
    cells = row.get_by_role("cell")
    assert cells.nth(2).inner_text() == "1"
    assert cells.nth(3).inner_text() == "1"
    figures = page.get_by_role("table", name="Engagement figures")
    assert "1 click in all" in figures.get_by_role("row").filter(has_text="Clicked").inner_text()
    page.get_by_text("Where these figures come from").click()
    assert page.get_by_text("our link redirect on this site").is_visible()
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

    # The interview's own page in the admin: the clicks from newsletters.
    credited = next(link.page for link in campaign.links.all() if link.target == landed[-1])
    page.goto(f"{live_site['url']}/admin/pages/{credited.pk}/edit/")
    page.get_by_role("tab", name="Promote").click()
    panel = page.locator("[data-newsletter-clicks]")
    assert "1 click from newsletters to this page" in panel.inner_text()
    assert campaign.page.title in panel.inner_text()
