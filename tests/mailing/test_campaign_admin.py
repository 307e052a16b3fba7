"""The admin: send or schedule an issue, follow it, pause/resume/cancel; who may do what."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.utils import timezone

from mailing import campaigns
from mailing.admin import reports
from mailing.models import Campaign, Delivery, DeliveryEvent

pytestmark = pytest.mark.django_db


def scheduled(seeded):
    """A campaign of the demo issue to the demo list, created and confirmed."""
    campaign = campaigns.create(seeded["newsletter"], [seeded["mailing_list"]])
    assert campaigns.schedule(campaign)
    return campaign


@pytest.fixture
def editor(seeded, django_user_model):
    user = django_user_model.objects.create_user("editor", "editor@example.org", "pw")
    user.groups.add(Group.objects.get(name="Editors"))
    return user


@pytest.fixture
def sender(editor):
    editor.groups.add(Group.objects.get(name="Newsletter senders"))
    return editor


def send_url(seeded):
    return f"/admin/campaigns/send/{seeded['newsletter'].pk}/"


def test_the_issue_offers_send_or_schedule(client, seeded, editor):
    client.force_login(editor)
    response = client.get(f"/admin/pages/{seeded['newsletter'].pk}/edit/")
    assert response.status_code == 200
    assert send_url(seeded) in response.content.decode()


def test_editors_may_test_send_but_not_send_to_lists(client, seeded, editor):
    client.force_login(editor)
    page = client.get(send_url(seeded))
    assert page.status_code == 200
    assert 'type="checkbox" name="lists"' not in page.content.decode()
    response = client.post(send_url(seeded), {"test": "1", "test_to": "me@example.org"})
    assert response.status_code == 302
    assert mail.outbox[0].to == ["me@example.org"]
    refused = client.post(send_url(seeded), {"send": "1", "lists": [seeded["mailing_list"].pk]})
    # Wagtail turns PermissionDenied in admin views into a redirect to the dashboard.
    assert refused.status_code == 302 and refused.url == "/admin/"
    assert not Campaign.objects.exists()


def test_senders_schedule_follow_and_control_a_campaign(client, seeded, sender):
    client.force_login(sender)
    ml = seeded["mailing_list"]
    count = client.get("/admin/campaigns/recipients/", {"lists": [ml.pk]}).json()
    assert count == {"recipients": 4}
    response = client.post(send_url(seeded), {"send": "1", "lists": [ml.pk]})
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response.url == f"/admin/campaigns/{campaign.pk}/"
    assert campaign.status == Campaign.Status.SCHEDULED and campaign.created_by == sender

    detail = client.get(response.url)
    assert detail.status_code == 200 and 'role="progressbar"' in detail.content.decode()
    progress = client.get(f"/admin/campaigns/{campaign.pk}/progress/").json()
    assert progress["status"] == "scheduled" and progress["percent"] == 0
    assert "about 4 (counted when sending starts)" in detail.content.decode()

    campaigns.start(campaign.pk)
    client.post(f"/admin/campaigns/{campaign.pk}/pause/")
    assert Campaign.objects.get().status == Campaign.Status.PAUSED
    client.post(f"/admin/campaigns/{campaign.pk}/resume/")
    assert Campaign.objects.get().status == Campaign.Status.SENDING
    client.post(f"/admin/campaigns/{campaign.pk}/cancel/")
    assert Campaign.objects.get().status == Campaign.Status.CANCELLED
    assert client.get(f"/admin/campaigns/{campaign.pk}/").status_code == 200
    assert client.get("/admin/campaigns/").status_code == 200


def test_send_needs_a_list(client, seeded, sender):
    client.force_login(sender)
    response = client.post(send_url(seeded), {"send": "1"})
    assert response.status_code == 200
    assert not Campaign.objects.exists()


def action_forms(html):
    """The pause/resume/cancel forms on a campaign page, and whether each is shown."""
    return {
        match.group(1): not match.group(2)
        for match in re.finditer(r'data-campaign-action="(\w+)"( hidden)?', html)
    }


EXPECTED_ACTIONS = {
    Campaign.Status.DRAFT: {"cancel"},
    Campaign.Status.SCHEDULED: {"cancel"},
    Campaign.Status.SENDING: {"pause", "cancel"},
    Campaign.Status.PAUSED: {"resume", "cancel"},
    Campaign.Status.SENT: set(),
    Campaign.Status.CANCELLED: set(),
    Campaign.Status.FAILED: set(),
}


@pytest.mark.parametrize("status", list(EXPECTED_ACTIONS))
def test_only_the_actions_valid_for_the_status_are_shown(client, seeded, sender, status):
    campaign = scheduled(seeded)
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    client.force_login(sender)
    html = client.get(f"/admin/campaigns/{campaign.pk}/").content.decode()
    shown = {name for name, visible in action_forms(html).items() if visible}
    assert shown == EXPECTED_ACTIONS[status]
    # The page polls this and shows or hides the forms as the status changes.
    progress = client.get(f"/admin/campaigns/{campaign.pk}/progress/").json()
    assert set(progress["actions"]) == EXPECTED_ACTIONS[status]
    assert progress["status"] == status


def test_editors_see_no_actions(client, seeded, editor):
    campaign = scheduled(seeded)
    client.force_login(editor)
    html = client.get(f"/admin/campaigns/{campaign.pk}/").content.decode()
    assert action_forms(html) == {}
    assert client.get(f"/admin/campaigns/{campaign.pk}/progress/").json()["actions"] == []


def test_campaign_page_has_a_wagtail_header_and_the_facts(client, seeded, sender):
    campaign = scheduled(seeded)
    campaigns.start(campaign.pk)
    client.force_login(sender)
    html = client.get(f"/admin/campaigns/{campaign.pk}/").content.decode()
    title = f"{seeded['newsletter'].title} — campaign {campaign.pk}"
    assert 'aria-label="Breadcrumb"' in html and 'href="/admin/campaigns/"' in html
    assert title in html
    assert f'href="/admin/pages/{seeded["newsletter"].pk}/edit/"' in html
    assert 'class="w-status w-status--label"' in html and ">Sending<" in html
    assert seeded["mailing_list"].name in html
    assert f"/newsletters/{campaign.pk}/" in html
    assert 'data-confirm="' in html


def test_send_page_has_a_header_a_datetime_input_and_a_summary(client, seeded, sender):
    client.force_login(sender)
    html = client.get(send_url(seeded)).content.decode()
    assert 'aria-label="Breadcrumb"' in html and seeded["newsletter"].title in html
    assert 'initDateTimeChooser("id_send_at"' in html  # Wagtail's AdminDateTimeInput
    assert "wagtailadmin/js/date-time-chooser.js" in html
    assert timezone.get_current_timezone_name() in html
    assert 'id="send-summary"' in html


def test_index_lists_campaigns_newest_first_with_pagination(client, seeded, sender):
    newsletter, mailing_list = seeded["newsletter"], seeded["mailing_list"]
    now = timezone.now()
    campaigns = []
    for i in range(30):
        campaign = Campaign.objects.create(
            page=newsletter,
            status=Campaign.Status.SENT,
            send_at=now,
            created_at=now - timedelta(hours=30 - i),
            recipients_count=i,
        )
        campaign.lists.set([mailing_list])
        campaigns.append(campaign)
    Delivery.objects.create(campaign=campaigns[-1], status=Delivery.Status.SENT, sent_at=now)
    Delivery.objects.create(campaign=campaigns[-1], status=Delivery.Status.FAILED)
    client.force_login(sender)
    html = client.get("/admin/campaigns/").content.decode()
    rows = [int(pk) for pk in re.findall(r'<tr data-campaign="(\d+)"', html)]
    assert rows == [c.pk for c in reversed(campaigns)][:25]
    assert 'class="w-status w-status--primary"' in html
    assert mailing_list.name in html
    assert "1 / 1" in html  # sent / failed of the newest
    assert 'aria-label="Breadcrumb"' in html and 'class="pagination"' in html
    second = client.get("/admin/campaigns/", {"p": 2}).content.decode()
    rows = [int(pk) for pk in re.findall(r'<tr data-campaign="(\d+)"', second)]
    assert rows == [c.pk for c in reversed(campaigns)][25:]


def test_chart_has_points_for_a_campaign_sent_within_one_minute(client, seeded, sender):
    campaign = scheduled(seeded)
    start = timezone.now().replace(microsecond=0)
    for i in range(12):
        delivery = Delivery.objects.create(
            campaign=campaign, status=Delivery.Status.SENT, sent_at=start + timedelta(seconds=i * 4)
        )
        if i % 3 == 0:
            DeliveryEvent.objects.create(
                delivery=delivery, kind="opened", occurred_at=start + timedelta(seconds=i * 4 + 2)
            )
    data = reports.chart(campaign)
    assert data["bucket"] <= 5 and data["buckets"] > 5
    lines = {line["kind"]: line for line in data["lines"]}
    assert lines["sent"]["total"] == 12 and lines["opened"]["total"] == 4
    points = [tuple(map(float, p.split(","))) for p in lines["sent"]["points"].split()]
    assert len(points) > 5
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    assert xs == sorted(xs) and xs[-1] == data["width"]
    assert ys[0] == data["height"] and ys[-1] == 0  # from nothing to everything sent
    assert len({x for x, _ in points}) == len(points)
    assert len(data["ticks"]) >= 2

    client.force_login(sender)
    html = client.get(f"/admin/campaigns/{campaign.pk}/").content.decode()
    assert '<polyline data-series="sent"' in html and '<polyline data-series="opened"' in html
    assert "per second" in html or "per 2 seconds" in html
    # The page refreshes the chart from the progress endpoint while sending.
    progress = client.get(f"/admin/campaigns/{campaign.pk}/progress/", {"chart": 1}).json()
    assert '<polyline data-series="sent"' in progress["chart_html"]
    assert "chart_html" not in client.get(f"/admin/campaigns/{campaign.pk}/progress/").json()


@pytest.mark.parametrize(
    "span,size",
    [(0, 1), (45, 1), (59, 1), (300, 5), (3000, 60), (3 * 3600, 300), (5 * 86400, 7200)],
)
def test_chart_bucket_sizes_follow_the_campaign_duration(span, size):
    assert reports.bucket_seconds(span) == size
