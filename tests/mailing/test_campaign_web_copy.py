"""'View in browser' serves the issue as sent, with no personal data."""

import pytest

from mailing import campaigns
from mailing.models import Subscriber, Subscription

pytestmark = pytest.mark.django_db


def scheduled(seeded):
    """A campaign of the demo issue to the demo list, created and confirmed."""
    campaign = campaigns.create(seeded["newsletter"], [seeded["mailing_list"]])
    assert campaigns.schedule(campaign)
    return campaign


@pytest.fixture
def campaign(seeded):
    private = Subscriber.objects.create(email="zed.private@example.net", name="Zed Private")
    Subscription.objects.create(
        subscriber=private, mailing_list=seeded["mailing_list"], status="confirmed"
    )
    campaign = scheduled(seeded)
    campaigns.start(campaign.pk)
    campaign.refresh_from_db()
    return campaign


def test_web_copy_by_campaign_and_by_issue(client, campaign):
    by_id = client.get(f"/newsletters/{campaign.pk}/")
    by_slug = client.get(f"/newsletters/{campaign.page.slug}/")
    assert by_id.status_code == by_slug.status_code == 200
    html = by_id.content.decode()
    assert html == by_slug.content.decode()
    assert campaign.subject in html or campaign.page.title in html
    assert "%%" not in html
    assert "/subscriptions/unsubscribe/" not in html  # no personal token
    assert "zed.private@example.net" not in html and "Zed Private" not in html
    for subscriber in Subscriber.objects.all():
        assert subscriber.email not in html


def test_unsent_issue_has_no_web_copy(client, seeded):
    scheduled(seeded)  # scheduled only
    assert client.get(f"/newsletters/{seeded['newsletter'].slug}/").status_code == 404
    assert client.get("/newsletters/999/").status_code == 404
