"""The public archive's feed, the API's sent date, and what an internal list's issue shows."""

import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from django.utils import timezone

from mailing import campaigns
from mailing.models import Campaign, MailingList
from newsletters.models import NewsletterPage

pytestmark = pytest.mark.django_db


def finish_campaign(page, lists):
    """A campaign of ``page`` to ``lists`` that the pipeline finishes (nobody to mail)."""
    campaign = campaigns.create(page, lists)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    campaign.refresh_from_db()
    assert campaigns.finish_if_done(campaign)
    page.refresh_from_db()
    return campaign


@pytest.fixture
def internal_issue(make_issue, seeded):
    partners = MailingList.objects.create(name="Partners", slug="partners", is_public=False)
    page = make_issue([], subject="Partners only: the budget")
    finish_campaign(page, [partners, seeded["mailing_list"]])
    return page


@pytest.fixture
def public_issue(make_issue, seeded):
    page = make_issue([], subject="Issue for everyone")
    finish_campaign(page, [seeded["mailing_list"]])
    return page


def get_feed(client):
    response = client.get("/newsletter/feed/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/rss+xml")
    return ET.fromstring(response.content)  # noqa: S314 - our own output


def test_the_archive_announces_its_feed_and_the_feed_lists_issues_that_open(
    client, issue3, public_issue, internal_issue
):
    page = BeautifulSoup(client.get("/newsletter/").content, "html.parser")
    alternate = page.find("link", rel="alternate")
    assert alternate["type"] == "application/rss+xml" and alternate["href"] == "/newsletter/feed/"

    rss = get_feed(client)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    for required in ("title", "link", "description"):
        assert (channel.findtext(required) or "").strip(), required
    assert channel.findtext("link") == "https://cms.example.org/newsletter/"
    items = channel.findall("item")
    assert [i.findtext("title") for i in items] == [public_issue.title, "Newsletter #3"]
    for item in items:
        link = item.findtext("link")
        assert link.startswith("https://cms.example.org/")
        assert item.findtext("guid") == link
        assert parsedate_to_datetime(item.findtext("pubDate")) <= timezone.now()
        response = client.get(urlsplit(link).path)
        assert response.status_code == 200
        assert "noindex" not in response.get("X-Robots-Tag", "")
        assert b'name="robots"' not in response.content
    assert items[0].findtext("description") == public_issue.subject


def test_an_issue_sent_to_an_internal_list_stays_out_of_archive_and_feed(
    client, issue3, internal_issue
):
    assert internal_issue.sent_at is not None and internal_issue.public_sent_at is None
    archive = client.get("/newsletter/").content.decode()
    assert internal_issue.title not in archive and "Newsletter #3" in archive
    titles = [i.findtext("title") for i in get_feed(client).iter("item")]
    assert internal_issue.title not in titles
    # Its web copy opens for those who have the link, never for search engines.
    response = client.get(internal_issue.url)
    assert response.status_code == 200
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    robots = BeautifulSoup(response.content, "html.parser").find("meta", attrs={"name": "robots"})
    assert robots["content"] == "noindex, nofollow"


def test_a_later_public_send_puts_an_internal_issue_in_the_archive(
    client, issue3, internal_issue, seeded
):
    first = internal_issue.sent_at
    finish_campaign(internal_issue, [seeded["mailing_list"]])
    assert internal_issue.sent_at == first and internal_issue.public_sent_at > first
    assert internal_issue.title in client.get("/newsletter/").content.decode()


def test_a_welcome_campaign_puts_nothing_in_the_archive(client, seeded):
    welcome = seeded["welcome"]
    campaign = campaigns.create(welcome, [seeded["mailing_list"]], kind=Campaign.Kind.WELCOME)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    campaign.refresh_from_db()
    assert campaigns.finish_if_done(campaign)
    welcome.refresh_from_db()
    assert welcome.sent_at is None and welcome.public_sent_at is None
    assert client.get(welcome.url).status_code == 404


def test_the_api_lists_issues_with_their_sent_date(client, issue3, public_issue, internal_issue):
    base = "/api/v2/pages/?type=newsletters.NewsletterPage&fields=public_sent_at,issue_number"
    data = client.get(base + "&sent=true&order=-public_sent_at").json()
    assert [item["title"] for item in data["items"]] == [public_issue.title, "Newsletter #3"]
    sent = data["items"][0]["public_sent_at"]
    assert sent.endswith("Z") and sent[:19] == public_issue.public_sent_at.strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    unsent = client.get(base + "&sent=false").json()["items"]
    by_title = {item["title"]: item for item in unsent}
    assert by_title[internal_issue.title]["public_sent_at"] is None
    detail = client.get(f"/api/v2/pages/{issue3.pk}/").json()
    assert detail["public_sent_at"] is not None


@pytest.mark.parametrize(
    "query",
    [
        "sent=maybe",
        "sent=%0d%0a",
        "order=public_sent_at",  # needs the newsletter type
        "type=cms.EventPage&order=public_sent_at",
        "type=newsletters.NewsletterPage&sent=tru%C3%A9",
    ],
)
def test_bad_archive_queries_are_400s(client, issue3, query):
    response = client.get("/api/v2/pages/?" + query)
    assert response.status_code == 400, response.content


def test_feed_and_archive_with_nothing_sent_and_junk_subpaths(client, issue3):
    NewsletterPage.objects.update(sent_at=None, public_sent_at=None)
    assert list(get_feed(client).iter("item")) == []
    for path in ("/newsletter/feed/x/", "/newsletter/feed%0d%0a/", "/newsletter/%EF%BC%A6eed/"):
        assert client.get(path).status_code == 404
