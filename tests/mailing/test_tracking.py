"""ESP webhooks (through anymail) map back to deliveries; bounces and complaints suppress."""

import base64
import json

import pytest
from django.test import Client

from mailing import campaigns
from mailing.models import (
    Delivery,
    DeliveryEvent,
    MailingList,
    Subscriber,
    Subscription,
    Suppression,
)
from mailing.sending import message

pytestmark = pytest.mark.django_db


def scheduled(seeded):
    """A campaign of the demo issue to the demo list, created and confirmed."""
    campaign = campaigns.create(seeded["newsletter"], [seeded["mailing_list"]])
    assert campaigns.schedule(campaign)
    return campaign


URL = "/anymail/postmark/tracking/"


def auth(secret="hook:secret-for-tests"):  # noqa: S107 - the test settings set it
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


@pytest.fixture
def delivery(seeded):
    campaign = scheduled(seeded)
    campaigns.start(campaign.pk)
    row = Delivery.objects.select_related("subscriber").filter(campaign=campaign).first()
    Delivery.objects.filter(pk=row.pk).update(status=Delivery.Status.SENT)
    return row


def bounce(delivery, **extra):
    return {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": delivery.subscriber.email,
        "BouncedAt": "2026-11-25T16:00:00Z",
        "Metadata": {"campaign": str(delivery.campaign_id), "delivery": str(delivery.pk)},
        **extra,
    }


def post(client, payload, **headers):
    return client.post(URL, json.dumps(payload), content_type="application/json", **headers)


def test_forged_webhook_is_refused_and_changes_nothing(delivery):
    # anymail treats a missing or wrong secret as a SuspiciousOperation: 400, logged.
    client = Client(raise_request_exception=False)
    assert post(client, bounce(delivery)).status_code == 400
    assert post(client, bounce(delivery), **auth("hook:guess")).status_code == 400
    assert not DeliveryEvent.objects.exists()
    assert not Suppression.is_suppressed(delivery.subscriber.email)


def test_hard_bounce_is_recorded_and_suppresses_the_address(client, delivery):
    assert post(client, bounce(delivery), **auth()).status_code == 200
    event = DeliveryEvent.objects.get()
    assert (event.delivery_id, event.kind) == (delivery.pk, DeliveryEvent.Kind.BOUNCED)
    assert Suppression.is_suppressed(delivery.subscriber.email)
    # The next campaign leaves the address out.
    lists = MailingList.objects.filter(pk=delivery.mailing_list_id)
    assert campaigns.count_recipients(lists) == 3
    # The subscriber's history in the admin shows the bounce.
    assert delivery.subscriber.events.filter(kind="bounced").exists()


def test_esp_unsubscribe_event_leaves_the_list_the_message_came_through(client, delivery):
    payload = {
        "RecordType": "SubscriptionChange",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": delivery.subscriber.email,
        "ChangedAt": "2026-11-25T16:02:00Z",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Metadata": {"campaign": str(delivery.campaign_id), "delivery": str(delivery.pk)},
    }
    assert post(client, payload, **auth()).status_code == 200
    assert DeliveryEvent.objects.get().kind == DeliveryEvent.Kind.UNSUBSCRIBED
    subscription = Subscription.objects.get(
        subscriber_id=delivery.subscriber_id, mailing_list_id=delivery.mailing_list_id
    )
    assert subscription.status == Subscription.Status.UNSUBSCRIBED


def test_complaint_suppresses_and_open_is_only_counted(client, delivery):
    complaint = bounce(delivery, RecordType="SpamComplaint", Type="SpamComplaint")
    opened = {
        "RecordType": "Open",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": delivery.subscriber.email,
        "ReceivedAt": "2026-11-25T16:01:00Z",
        "Metadata": {"campaign": str(delivery.campaign_id), "delivery": str(delivery.pk)},
    }
    assert post(client, opened, **auth()).status_code == 200
    assert not Suppression.is_suppressed(delivery.subscriber.email)
    assert post(client, complaint, **auth()).status_code == 200
    assert Suppression.is_suppressed(delivery.subscriber.email)
    counts = delivery.campaign.event_counts()
    assert counts["opened"] == 1 and counts["complained"] == 1 and counts["clicked"] == 0


def test_events_map_back_by_our_message_id_without_metadata(client, delivery):
    payload = bounce(delivery, Metadata={})
    payload["MessageID"] = f"<{message.message_id(delivery.campaign, delivery.pk)}>"
    assert post(client, payload, **auth()).status_code == 200
    assert DeliveryEvent.objects.get().delivery_id == delivery.pk


def test_list_unsubscribe_one_click_post_leaves_the_list(client, delivery):
    """RFC 8058: the List-Unsubscribe URL of a sent message, POSTed by a mailbox provider."""
    from mailing import tokens

    url = tokens.unsubscribe_url(delivery.subscriber_id, delivery.mailing_list_id)
    path = url.removeprefix("https://cms.example.org")
    response = client.post(
        path,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code in {200, 202, 204}
    subscription = Subscription.objects.get(
        subscriber_id=delivery.subscriber_id, mailing_list_id=delivery.mailing_list_id
    )
    assert subscription.status == Subscription.Status.UNSUBSCRIBED
    assert Subscriber.objects.filter(pk=delivery.subscriber_id).exists()
