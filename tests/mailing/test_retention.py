"""No one pending forever; the disengaged listed, asked to confirm again or let go."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailing import retention, subscriptions, tasks
from mailing.models import (
    Campaign,
    Delivery,
    DeliveryEvent,
    Subscriber,
    SubscriberEvent,
    Subscription,
    Suppression,
)
from tests import smtp
from tests.mailing.helpers import committed, link_in

pytestmark = pytest.mark.django_db
smtp_server = smtp.smtp_server
DAY = 24 * 3600


def pending(address, mailing_list, *, days_ago, name="Pat Pending"):
    result = subscriptions.subscribe(
        address, [mailing_list], name=name, ip_address="198.51.100.7", send_confirmation_email=False
    )
    Subscription.objects.filter(subscriber=result.subscriber).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )
    return result.subscriber


def test_the_default_is_thirty_days(settings):
    assert settings.SUBSCRIPTION_PENDING_MAX_AGE == 30 * DAY


def test_expired_signups_go_with_their_personal_data(newsletter_list, events_list, settings):
    old = pending("Old.Signup@example.org", newsletter_list, days_ago=31)
    fresh = pending("fresh@example.org", newsletter_list, days_ago=29)
    mixed = pending("mixed@example.org", events_list, days_ago=40, name="Mia Mixed")
    subscriptions.subscribe("mixed@example.org", [newsletter_list], confirmed=True)

    assert tasks.expire_pending() == {"subscriptions": 2, "people": 1}

    old.refresh_from_db()
    assert old.status == Subscriber.Status.ERASED
    assert "old.signup" not in old.email.lower() and old.name == "" and old.email_hash != ""
    assert not old.subscriptions.exists()
    history = list(old.events.values_list("kind", "ip_address", "detail"))
    assert (SubscriberEvent.Kind.EXPIRED, None, {"max_age_seconds": 30 * DAY}) in history
    assert all(ip is None for _k, ip, _d in history)
    assert "Old.Signup" not in str(history)
    # Not suppressed: they may sign up again, as a new person.
    assert not Suppression.is_suppressed("Old.Signup@example.org")
    again = subscriptions.subscribe("Old.Signup@example.org", [newsletter_list])
    assert again.subscriber.pk != old.pk and again.pending

    fresh.refresh_from_db()
    assert (
        fresh.status == Subscriber.Status.ACTIVE and fresh.subscriptions.get().status == "pending"
    )
    mixed.refresh_from_db()
    assert mixed.email == "mixed@example.org" and mixed.name == "Mia Mixed"
    assert list(mixed.subscriptions.values_list("mailing_list__slug", "status")) == [
        ("newsletter", "confirmed")
    ]
    assert tasks.expire_pending() == {"subscriptions": 0, "people": 0}


def test_the_age_is_a_setting(newsletter_list, settings):
    pending("short@example.org", newsletter_list, days_ago=2)
    assert retention.expire_pending()["people"] == 0
    settings.SUBSCRIPTION_PENDING_MAX_AGE = DAY
    assert retention.expire_pending()["people"] == 1


# --- engagement ---------------------------------------------------------------------------


@pytest.fixture
def history(seeded, events_list):
    """Four issues sent a day apart to four readers, with their opens and clicks."""
    page = seeded["newsletter"]
    people = {}
    for name in ("never", "recent", "long_ago", "newcomer"):
        subscriber = Subscriber.objects.create(email=f"{name}@example.org")
        Subscription.objects.create(
            subscriber=subscriber, mailing_list=events_list, status="confirmed"
        )
        people[name] = subscriber
    start = timezone.now() - timedelta(days=10)
    for i in range(4):
        campaign = Campaign.objects.create(page=page, status=Campaign.Status.SENT)
        for name, subscriber in people.items():
            if name == "newcomer" and i < 3:
                continue
            delivery = Delivery.objects.create(
                campaign=campaign,
                subscriber=subscriber,
                status=Delivery.Status.SENT,
                sent_at=start + timedelta(days=i),
            )
            opened = (name == "recent" and i == 3) or (name == "long_ago" and i == 0)
            if opened:
                DeliveryEvent.objects.create(delivery=delivery, kind=DeliveryEvent.Kind.OPENED)
    # A welcome email opened does not count as reading an issue.
    welcome = Campaign.objects.create(
        page=page, status=Campaign.Status.SENT, kind=Campaign.Kind.WELCOME
    )
    delivery = Delivery.objects.create(
        campaign=welcome, subscriber=people["never"], status="sent", sent_at=timezone.now()
    )
    DeliveryEvent.objects.create(delivery=delivery, kind=DeliveryEvent.Kind.CLICKED)
    return people


def emails(queryset):
    return sorted(s.email.split("@")[0] for s in queryset)


def test_disengaged_in_their_last_n_campaigns(history):
    assert emails(retention.disengaged(3)) == ["long_ago", "never"]
    assert emails(retention.disengaged(4)) == ["never"]
    assert emails(retention.disengaged(1)) == ["long_ago", "never", "newcomer"]


def test_the_subscriber_listing_filters_the_disengaged(
    history, editor_client, django_assert_max_num_queries
):
    url = "/admin/snippets/mailing/subscriber/?disengaged=3"
    with django_assert_max_num_queries(40):
        html = editor_client.get(url).content.decode()
    assert "never@example.org" in html and "long_ago@example.org" in html
    assert "recent@example.org" not in html and "newcomer@example.org" not in html
    for junk in ("0", "-1", "abc", "99999999999999999999", "3%0d%0a", "３"):
        response = editor_client.get(f"/admin/snippets/mailing/subscriber/?disengaged={junk}")
        assert response.status_code == 200


def test_asked_to_confirm_again_they_confirm_or_expire(
    history, client, smtp_server, sync_tasks, settings
):
    never, long_ago = history["never"], history["long_ago"]
    with committed(execute=True):
        assert retention.request_reconfirmation(never, source="admin: editor") == 1
        assert retention.request_reconfirmation(long_ago, source="admin: editor") == 1
    assert Subscription.objects.filter(status="pending").count() == 2
    # Pending: no newsletter reaches them meanwhile.
    from mailing.campaigns import recipients

    lists = [never.subscriptions.get().mailing_list]
    assert {r["subscriber_id"] for r in recipients(lists)} == {
        history["recent"].pk,
        history["newcomer"].pk,
    }
    messages = smtp_server.wait_for(2)
    to_never = next(m for m in messages if m["To"] == "never@example.org")
    with committed(execute=True):
        assert client.post(link_in(to_never, "confirm")).status_code == 200
    assert never.subscriptions.get().status == "confirmed"
    assert smtp_server.total == 2  # confirming again brings no welcome email
    assert never.events.filter(kind=SubscriberEvent.Kind.RECONFIRM_REQUESTED).exists()

    # The other never answers: a month later, the signup expiry lets them go.
    Subscription.objects.filter(subscriber=long_ago).update(
        pending_since=timezone.now() - timedelta(days=31)
    )
    assert retention.expire_pending() == {"subscriptions": 1, "people": 1}
    long_ago.refresh_from_db()
    assert long_ago.status == Subscriber.Status.ERASED
    # The campaign history keeps its counts.
    assert Delivery.objects.filter(subscriber=long_ago).count() == 4
