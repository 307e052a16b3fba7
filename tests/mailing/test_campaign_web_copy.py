"""'View in browser': the issue as sent to public lists, under the campaign's random key,
with no personal data; nothing of an internal list's campaign."""

import pytest

from mailing import campaigns
from mailing.models import Subscriber, Subscription
from mailing.sending.message import web_url
from tests.mailing.factories import MailingListFactory

pytestmark = pytest.mark.django_db


def started(page, lists):
    """A campaign created, confirmed and started (its copy rendered)."""
    campaign = campaigns.create(page, lists)
    assert campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def campaign(seeded):
    private = Subscriber.objects.create(email="zed.private@example.net", name="Zed Private")
    Subscription.objects.create(
        subscriber=private, mailing_list=seeded["mailing_list"], status="confirmed"
    )
    return started(seeded["newsletter"], [seeded["mailing_list"]])


def test_the_web_copy_lives_under_the_campaigns_key(client, campaign):
    url = web_url(campaign)
    assert "View in browser" in campaign.html and "%%WEB_URL%%" in campaign.html
    assert url == f"https://cms.example.org/newsletters/{campaign.key}/"
    assert len(campaign.key) >= 16 and f"/newsletters/{campaign.pk}/" not in url
    response = client.get(f"/newsletters/{campaign.key}/")
    assert response.status_code == 200 and response["X-Robots-Tag"] == "noindex"
    html = response.content.decode()
    assert campaign.subject in html or campaign.page.title in html
    assert "%%" not in html
    assert "/subscriptions/unsubscribe/" not in html  # no personal token
    assert "zed.private@example.net" not in html and "Zed Private" not in html
    for subscriber in Subscriber.objects.all():
        assert subscriber.email not in html


def test_old_addresses_by_id_and_by_issue_redirect_to_the_key(client, campaign):
    for old in (f"/newsletters/{campaign.pk}/", f"/newsletters/{campaign.page.slug}/"):
        response = client.get(old)
        assert response.status_code == 301, old
        assert response["Location"] == f"/newsletters/{campaign.key}/"


def test_an_internal_lists_campaign_has_no_web_copy(client, seeded):
    internal = MailingListFactory(name="Partners only", slug="partners", is_public=False)
    campaign = started(seeded["newsletter"], [seeded["mailing_list"], internal])
    assert not campaign.has_web_copy()
    # Its readers get no "view in browser" link that would lead to a 404.
    assert "in browser" not in campaign.html and "%%WEB_URL%%" not in campaign.html
    assert "in your browser" not in campaign.text and "%%WEB_URL%%" not in campaign.text
    by_key = client.get(f"/newsletters/{campaign.key}/")
    assert by_key.status_code == 404 and "This issue has no web copy" in by_key.text
    assert campaign.subject not in by_key.text
    # The sequential id and the issue's slug find nothing either.
    assert client.get(f"/newsletters/{campaign.pk}/").status_code == 404
    assert client.get(f"/newsletters/{seeded['newsletter'].slug}/").status_code == 404


def test_unsent_and_unknown_issues_have_no_web_copy(client, seeded):
    campaign = campaigns.create(seeded["newsletter"], [seeded["mailing_list"]])
    assert campaigns.schedule(campaign)  # scheduled only: nothing rendered yet
    assert client.get(f"/newsletters/{campaign.key}/").status_code == 404
    assert client.get(f"/newsletters/{seeded['newsletter'].slug}/").status_code == 404
    for key in ("999", "0" * 40, "x" * 300, "%C3%A9t%C3%A9", "ffffffffffffffff"):
        assert client.get(f"/newsletters/{key}/").status_code == 404, key
