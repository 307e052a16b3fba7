"""Every ESP anymail supports, through its real anymail backend, against a loopback
stand-in of its HTTP API answering as the ESP's documentation describes."""

import pytest

from mailing import tokens
from mailing.models import Campaign, Delivery
from mailing.sending import sender
from mailing.sending.transports import esp
from tests.mailing.esp.conftest import use
from tests.mailing.esp.providers import ALL, contains

pytestmark = pytest.mark.django_db

REFUSED = "mirela.puiu@example.org"


def labelled(kind, answer):
    def reply(request):
        request.kind = kind
        return answer(request)

    return reply


def posted_by_address(provider, standin):
    """What the ESP was asked to send, per recipient (the last request that reached it)."""
    out = {}
    for request in standin.requests:
        if getattr(request, "kind", "") in {"ok", "reject"}:
            for posted in provider.posted(request):
                out[posted.to] = posted
    return out


@pytest.mark.parametrize("provider", ALL, ids=lambda p: p.name)
def test_a_campaign_goes_out_and_retries_and_refusals_land_where_they_belong(
    provider, standin, started, settings
):
    use(settings, provider, standin)
    caps = esp.capabilities()
    standin.answers = [
        labelled("throttled", provider.throttled),
        labelled("down", provider.down),
        lambda r: (
            labelled("reject", lambda r: provider.reject(r, REFUSED))(r)
            if contains(r, REFUSED)
            else labelled("ok", provider.ok)(r)
        ),
    ]
    assert sender.run_sender(started.pk) == "done"
    started.refresh_from_db()
    assert started.status == Campaign.Status.SENT

    deliveries = {
        d.subscriber.email: d
        for d in Delivery.objects.filter(campaign=started).select_related("subscriber")
    }
    refused = deliveries.pop(REFUSED)
    assert (refused.status, bool(refused.error)) == (Delivery.Status.FAILED, True), refused.error
    # 429 and 5xx were tried again: nobody else is lost.
    errors = {a: d.error for a, d in deliveries.items() if d.status != Delivery.Status.SENT}
    assert not errors
    # A batch is retried whole (429, then 5xx): its rows took three attempts.
    assert max(d.attempts for d in deliveries.values()) == (3 if caps.batches else 2)
    assert all(d.provider_message_id for d in deliveries.values())

    posted = posted_by_address(provider, standin)
    assert set(deliveries) <= set(posted)
    for address, delivery in deliveries.items():
        message = posted[address]
        header = message.headers["list-unsubscribe"].strip()
        url = header.removeprefix("<").removesuffix(">")
        assert url.startswith("https://cms.example.org/subscriptions/unsubscribe/")
        token = url.rstrip("/").rsplit("/", 1)[-1]
        # The reader's own one-click link, for the list the message came through.
        assert tokens.read_token(tokens.UNSUBSCRIBE, token) == (
            delivery.subscriber_id,
            delivery.mailing_list_id,
        )
        assert message.headers["list-unsubscribe-post"].strip() == "List-Unsubscribe=One-Click"
        # The same link in the body, or in the merge data the ESP fills in.
        assert url in message.text or url in message.values.values()
        if caps.metadata:
            assert str(message.metadata["delivery"]) == str(delivery.pk)
            assert str(message.metadata["campaign"]) == str(started.pk)
        assert message.tags == esp.tags(started, caps)
        if caps.tags:
            assert len(message.tags) <= caps.tags
    per_call = {len(provider.posted(r)) for r in standin.requests}
    if caps.batches:
        assert max(per_call) == len(deliveries) + 1  # everyone in one call, at first
    else:
        assert per_call == {1}


@pytest.mark.parametrize("provider", ALL, ids=lambda p: p.name)
def test_a_refused_key_fails_the_campaign_with_the_reason(provider, standin, started, settings):
    use(settings, provider, standin)
    standin.answers = [provider.refused_key]
    assert sender.run_sender(started.pk) == "stopped"
    started.refresh_from_db()
    assert started.status == Campaign.Status.FAILED
    assert "refused the credentials" in started.error
    assert started.finished_at is not None
    # Nobody is marked failed for it, and nothing is tried again.
    assert set(started.deliveries.values_list("status", flat=True)) == {Delivery.Status.PENDING}
    assert len(standin.requests) == 1
    assert sender.run_sender(started.pk) == "stopped"
    assert len(standin.requests) == 1
