"""Fixtures for the per-ESP tests: a stand-in of the ESP's API on loopback, a campaign."""

import pytest

from mailing import campaigns
from mailing.models import Subscriber, Subscription
from tests.mailing.esp.standin import StandIn


@pytest.fixture
def standin():
    server = StandIn().start()
    yield server
    server.stop()


def use(settings, provider, standin):
    """Point anymail's real backend for ``provider`` at the stand-in."""
    settings.EMAIL_BACKEND = f"anymail.backends.{provider.name}.EmailBackend"
    settings.ANYMAIL = {**settings.ANYMAIL, **provider.settings(standin.url + "/")}
    settings.SENDING_RETRY_SECONDS = 0


@pytest.fixture
def started(seeded):
    """A started campaign of the demo issue to the demo list, plus a reader whose name is
    not ASCII."""
    mailing_list = seeded["mailing_list"]
    zoe = Subscriber.objects.create(email="zoe@example.net", name="Zoë Ñandú")
    Subscription.objects.create(
        subscriber=zoe, mailing_list=mailing_list, status=Subscription.Status.CONFIRMED
    )
    campaign = campaigns.create(seeded["newsletter"], [mailing_list])
    assert campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    campaign.refresh_from_db()
    return campaign
