"""The admin: send or schedule an issue, follow it, pause/resume/cancel; who may do what."""

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from mailing.models import Campaign

pytestmark = pytest.mark.django_db


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

    from mailing import sending

    sending.start_campaign(campaign.pk)
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
