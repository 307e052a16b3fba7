"""ESP webhooks (through anymail) map back to deliveries; bounces are classified once
(hard, soft, complaint, policy) and acted on by policy."""

import base64
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mailing import bounces, campaigns
from mailing.models import (
    Bounce,
    Delivery,
    DeliveryEvent,
    MailingList,
    Subscriber,
    SubscriberEvent,
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
    assert campaigns.count_recipients(lists) == 7  # the demo list's 8 readers, less one
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


# --- bounce classification and policy (mailing.bounces) ---------------------------------


def report(**fields):
    return bounces.Report(**{"recipient": "ada@example.org", "source": "test", **fields})


@pytest.mark.parametrize(
    ("fields", "kind", "status"),
    [
        # Postmark and SES: a full mailbox, reported as a bounce with a 4.x.x code.
        ({"mta_response": "smtp;452 4.2.2 Mailbox full"}, "soft", "4.2.2"),
        ({"description": "Transient: MailboxFull", "hint": "soft"}, "soft", ""),
        # Brevo: "Mailbox full" with no code, as a soft_bounce.
        ({"mta_response": "Mailbox full"}, "soft", ""),
        ({"mta_response": "Mailbox full", "hint": "soft"}, "soft", ""),
        # The enhanced code decides wherever it appears, over the ESP's bounce type.
        ({"mta_response": "smtp;550 5.1.1 No such user", "hint": "soft"}, "hard", "5.1.1"),
        ({"description": "Delivery failed (5.1.1 user unknown)"}, "hard", "5.1.1"),
        ({"mta_response": "550 Requested action not taken"}, "hard", ""),
        ({"mta_response": "421 Try again later"}, "soft", ""),
        ({"event": "deferred"}, "soft", ""),
        ({"event": "bounced", "reject_reason": "timed_out"}, "soft", ""),
        ({"event": "bounced", "reject_reason": "invalid"}, "hard", ""),
        # A receiver's policy or spam block: recorded, never a suppression.
        ({"mta_response": "554 5.7.1 Service unavailable; client host blocked"}, "policy", "5.7.1"),
        ({"mta_response": "550 5.1.1 user unknown", "reject_reason": "blocked"}, "policy", "5.1.1"),
        ({"reject_reason": "spam", "description": "Spam Block"}, "policy", ""),
        ({"hint": "policy"}, "policy", ""),
        # 4.7.x (greylisting) is temporary, not a policy block.
        ({"mta_response": "451 4.7.1 Greylisted, try again later"}, "soft", "4.7.1"),
        ({"event": "complained"}, "complaint", ""),
        # Nothing says it is permanent: it is only counted.
        ({"event": "bounced", "reject_reason": "other"}, "soft", ""),
        # Version numbers and dates are not status codes.
        ({"mta_response": "Postfix 3.5.10 said: mailbox full"}, "soft", ""),
    ],
)
def test_each_report_is_classified_once(db, fields, kind, status):
    bounce = bounces.handle(report(**fields))
    assert (bounce.type, bounce.status) == (kind, status)
    assert Bounce.objects.count() == 1


def test_soft_bounces_suppress_only_past_the_threshold(db, settings):
    from tests.mailing.factories import SubscriberFactory

    settings.BOUNCE_SOFT_THRESHOLD, settings.BOUNCE_SOFT_WINDOW_DAYS = 3, 30
    reader = SubscriberFactory(email="ada@example.org")
    old = bounces.handle(report(event="deferred", occurred_at=timezone.now() - timedelta(days=45)))
    assert old.action == Bounce.Action.COUNTED
    bounces.handle(report(mta_response="452 4.2.2 Mailbox full"))
    second = bounces.handle(report(mta_response="452 4.2.2 Mailbox full"))
    assert second.action == Bounce.Action.COUNTED
    assert not Suppression.is_suppressed(reader.email)
    third = bounces.handle(report(mta_response="452 4.2.2 Mailbox full again"))
    assert third.action == Bounce.Action.SUPPRESSED
    suppression = Suppression.objects.get()
    assert suppression.reason == Suppression.Reason.SOFT_BOUNCES
    assert "4.2.2" in suppression.detail and "Mailbox full again" in suppression.detail
    kinds = list(reader.events.values_list("kind", flat=True))
    assert kinds.count(SubscriberEvent.Kind.BOUNCED) == 4
    assert SubscriberEvent.Kind.SUPPRESSED in kinds


def test_retries_of_one_message_count_once(sent_delivery, settings):
    settings.BOUNCE_SOFT_THRESHOLD = 2
    for _ in range(3):
        bounces.handle(
            report(
                recipient=sent_delivery.subscriber.email,
                event="deferred",
                delivery_id=sent_delivery.pk,
            )
        )
    assert not Suppression.is_suppressed(sent_delivery.subscriber.email)
    assert Bounce.objects.filter(delivery=sent_delivery).count() == 3


def test_a_threshold_of_zero_never_suppresses(db, settings):
    settings.BOUNCE_HARD_THRESHOLD = 0
    bounce = bounces.handle(report(mta_response="550 5.1.1 user unknown"))
    assert bounce.action == Bounce.Action.COUNTED
    assert not Suppression.objects.exists()


def test_a_hard_bounce_keeps_the_providers_reason_without_the_address(client, delivery):
    payload = bounce(delivery)
    payload["Details"] = f"smtp;550 5.1.1 <{delivery.subscriber.email}>: user unknown"
    assert post(client, payload, **auth()).status_code == 200
    row = Suppression.objects.get()
    assert row.detail.startswith("Postmark webhook: Hard bounce 5.1.1")
    assert "user unknown" in row.detail
    recorded = Bounce.objects.get()
    assert delivery.subscriber.email not in recorded.reason
    assert "[recipient]" in recorded.reason


def test_a_soft_bounce_is_shown_in_the_subscribers_history(editor_client, delivery):
    payload = bounce(delivery, Type="SoftBounce", TypeCode=4096)
    payload["Details"] = "smtp;452 4.2.2 The email account that you tried to reach is over quota."
    assert post(editor_client, payload, **auth()).status_code == 200
    assert not Suppression.is_suppressed(delivery.subscriber.email)
    page = editor_client.get(
        f"/admin/snippets/mailing/subscriber/inspect/{delivery.subscriber_id}/"
    )
    assert page.status_code == 200
    assert "Bounced" in page.content.decode()


@pytest.mark.parametrize(
    "metadata",
    [
        {"campaign": "abc", "delivery": "1"},
        {"campaign": "1", "delivery": "9" * 40},
        {"campaign": ["1"], "delivery": {"x": 1}},
        {"campaign": "１", "delivery": "２"},  # full-width digits
    ],
)
def test_odd_webhook_metadata_is_ignored_not_a_500(client, delivery, metadata):
    payload = bounce(delivery, Metadata=metadata)
    response = post(client, payload, **auth())
    assert response.status_code == 200
    # The bounce still counts for the address.
    assert Suppression.is_suppressed(delivery.subscriber.email)


@pytest.fixture
def sent_delivery(delivery):
    return delivery
