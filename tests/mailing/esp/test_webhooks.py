"""Each ESP's tracking webhook, with payloads written from its own documentation: events
map back to their delivery, bounces are classified once and acted on by policy, and a
forged call changes nothing."""

import pytest
from django.test import Client

from mailing.models import Bounce, Delivery, DeliveryEvent, SubscriberEvent, Suppression
from mailing.sending.transports import esp
from tests.mailing.esp import webhooks
from tests.mailing.esp.providers import BY_NAME

pytestmark = pytest.mark.django_db

# What each kind of event becomes.
EXPECTED = {
    "soft": (Bounce.Type.SOFT, Bounce.Action.COUNTED, None),
    "hard": (Bounce.Type.HARD, Bounce.Action.SUPPRESSED, Suppression.Reason.HARD_BOUNCE),
    "complaint": (Bounce.Type.COMPLAINT, Bounce.Action.SUPPRESSED, Suppression.Reason.COMPLAINT),
    "policy": (Bounce.Type.POLICY, Bounce.Action.RECORDED, None),
}


@pytest.fixture
def sent(started):
    """The started campaign's deliveries, sent, each with a provider message id."""
    rows = list(Delivery.objects.filter(campaign=started).select_related("subscriber"))
    for row in rows:
        row.status, row.provider_message_id = Delivery.Status.SENT, str(880000 + row.pk)
        row.save(update_fields=["status", "provider_message_id"])
    return rows


def context(name, delivery):
    caps = esp.ESPS[name]
    metadata = {"campaign": str(delivery.campaign_id), "delivery": str(delivery.pk)}
    return {
        "email": delivery.subscriber.email,
        "message_id": delivery.provider_message_id,
        "metadata": metadata if caps.metadata else {},
        "tag": f"campaign-{delivery.campaign_id}",
    }


@pytest.fixture
def hook_settings(settings):
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        **webhooks.SETTINGS,
        **BY_NAME["scaleway"].settings("http://127.0.0.1:9/"),
    }


@pytest.mark.parametrize("name", sorted(webhooks.HOOKS))
def test_events_map_back_and_bounces_follow_the_policy(name, sent, hook_settings):
    hook = webhooks.HOOKS[name]
    client = Client(raise_request_exception=True)
    by_kind = dict(zip(hook.kinds, sent, strict=False))
    for kind, delivery in by_kind.items():
        response = hook.post(client, hook.event(kind, context(name, delivery)))
        assert response.status_code == 200, (kind, response.content)

    engaged = by_kind["engaged"]
    assert DeliveryEvent.objects.filter(
        delivery=engaged, kind__in=[DeliveryEvent.Kind.DELIVERED, DeliveryEvent.Kind.OPENED]
    ).exists()
    assert not Bounce.objects.filter(subscriber=engaged.subscriber).exists()

    for kind, delivery in by_kind.items():
        if kind == "engaged":
            continue
        bounce = Bounce.objects.get(subscriber_id=delivery.subscriber_id)
        expected_type, action, suppression = EXPECTED[kind]
        assert (bounce.type, bounce.action) == (expected_type, action), bounce.reason
        assert bounce.delivery_id == delivery.pk
        address = delivery.subscriber.email
        assert Suppression.is_suppressed(address) == (suppression is not None), kind
        if suppression:
            row = Suppression.objects.get(email_hash=delivery.subscriber.email_hash)
            assert row.reason == suppression
            # The provider's own words, not only its name.
            assert row.detail.startswith(bounce.source) and len(row.detail) > len(bounce.source) + 4
        else:
            # Recorded in the reader's history with the provider's words.
            history = SubscriberEvent.objects.get(
                subscriber_id=delivery.subscriber_id, kind=SubscriberEvent.Kind.BOUNCED
            )
            assert history.detail["type"] == expected_type
            assert address not in str(history.detail)
        if kind in {"hard", "complaint", "policy"}:
            assert DeliveryEvent.objects.filter(delivery=delivery).exists()


@pytest.mark.parametrize("name", sorted(webhooks.HOOKS))
def test_a_forged_webhook_is_refused_and_changes_nothing(name, sent, hook_settings):
    hook = webhooks.HOOKS[name]
    client = Client(raise_request_exception=False)
    delivery = sent[0]
    response = hook.post(client, hook.event("hard", context(name, delivery)), forged=True)
    assert response.status_code in {400, 401, 403}
    assert not DeliveryEvent.objects.exists()
    assert not Bounce.objects.exists()
    assert not Suppression.objects.exists()


def test_a_send_the_esp_dropped_for_an_unsubscribed_reader_is_no_bounce(sent, hook_settings):
    from mailing.models import Subscription

    delivery = sent[0]
    hook = webhooks.HOOKS["sendgrid"]
    payload = hook.event("engaged", context("sendgrid", delivery))
    payload[0].update(event="dropped", reason="Unsubscribed Address")
    assert hook.post(Client(), payload).status_code == 200
    assert not Bounce.objects.exists() and not Suppression.objects.exists()
    assert DeliveryEvent.objects.get().kind == DeliveryEvent.Kind.UNSUBSCRIBED
    subscription = Subscription.objects.get(
        subscriber_id=delivery.subscriber_id, mailing_list_id=delivery.mailing_list_id
    )
    assert subscription.status == Subscription.Status.UNSUBSCRIBED
