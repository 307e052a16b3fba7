"""What the editor sees of tracking in the admin: the UTM switch, the report, the page panel."""

import re

import pytest

from mailing import campaigns, hits, links
from mailing.models import Campaign, Delivery
from newsletters.models import NewsletterPage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def spool(tmp_path, settings):
    settings.TRACKING_SPOOL_DIR = tmp_path / "spool"
    settings.REDIS_URL = ""
    links.target_of.cache_clear()


def started(seeded):
    campaign = campaigns.create(seeded["newsletter"], [seeded["mailing_list"]])
    assert campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    campaign.refresh_from_db()
    return campaign


def test_the_confirmation_screen_turns_campaign_tags_off(editor_client, seeded):
    campaign = campaigns.create(seeded["newsletter"], [seeded["mailing_list"]])
    url = f"/admin/campaigns/{campaign.pk}/confirm/"
    screen = editor_client.get(url).content.decode()
    assert re.search(r'<input type="checkbox" name="utm" value="1" id="utm" checked>', screen)
    assert "Clicks are tracked through a short redirect" in screen
    revision = str(NewsletterPage.objects.get(pk=seeded["newsletter"].pk).live_revision_id)
    editor_client.post(url, {"confirm": "1", "revision": revision, "utm_shown": "1"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED and not campaign.utm


def test_the_report_and_the_page_panel_show_the_clicks(editor_client, client, seeded):
    campaign = started(seeded)
    interview_link = next(link for link in campaign.links.all() if "/interviews/" in link.url)
    readers = list(Delivery.objects.filter(campaign=campaign).values_list("pk", flat=True))
    for reader in readers[:2]:
        assert client.get(f"/t/{links.click_token(reader, interview_link.pk)}/").status_code == 302
    client.get(f"/t/{links.click_token(readers[0], interview_link.pk)}/")

    report = editor_client.get(f"/admin/campaigns/{campaign.pk}/").content.decode()
    assert "Clicks per link" in report and "Clicks per content page" in report
    row = re.search(
        rf"<td><a href=\"{re.escape(interview_link.url)}\".*?</tr>", report, re.DOTALL
    ).group(0)
    assert re.findall(r"<td[^>]*>(\d+)</td>", row) == ["3", "2"]
    assert "our link redirect on this site" in report
    assert "3 clicks in all" in report

    edit = editor_client.get(f"/admin/pages/{interview_link.page_id}/edit/").content.decode()
    assert "From newsletters" in edit
    assert "3 clicks from newsletters to this page (2 readers)" in edit
    assert hits.flush() == 0  # the report stored what was queued


def test_a_page_no_newsletter_linked_says_so(editor_client, seeded):
    from interviews.models import InterviewPage

    page = InterviewPage.objects.first()
    edit = editor_client.get(f"/admin/pages/{page.pk}/edit/").content.decode()
    assert "No newsletter reader has followed a link to this page yet." in edit
