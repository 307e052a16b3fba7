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
from newsletters.models import NewsletterIndexPage, NewsletterPage

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
    html = page.content.decode()
    assert 'type="checkbox" name="lists"' not in html
    assert 'value="editor@example.org"' in html  # their own address, prefilled
    response = client.post(send_url(seeded), {"test": "1", "test_to": "me@example.org"})
    assert response.status_code == 302
    assert mail.outbox[0].to == ["me@example.org"]
    assert flashes(client, response.url) == ["Test sent to me@example.org."]
    refused = client.post(send_url(seeded), {"send": "1", "lists": [seeded["mailing_list"].pk]})
    # Wagtail turns PermissionDenied in admin views into a redirect to the dashboard.
    assert refused.status_code == 302 and refused.url == "/admin/"
    assert not Campaign.objects.exists()


def confirm_url(campaign):
    return f"/admin/campaigns/{campaign.pk}/confirm/"


def revision_of(page):
    return str(NewsletterPage.objects.get(pk=page.pk).live_revision_id)


def flashes(client, url):
    response = client.get(url)
    return [str(message) for message in response.context["messages"]]


def test_nothing_reaches_a_list_before_the_confirmation(client, seeded, sender):
    client.force_login(sender)
    ml = seeded["mailing_list"]
    count = client.get("/admin/campaigns/recipients/", {"lists": [ml.pk]}).json()
    assert count == {"recipients": 8}
    response = client.post(send_url(seeded), {"send": "1", "lists": [ml.pk]})
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response.url == confirm_url(campaign)
    assert campaign.status == Campaign.Status.DRAFT and campaign.created_by == sender
    # Going back and changing the form reuses the draft: no clutter.
    client.post(send_url(seeded), {"send": "1", "lists": [ml.pk]})
    assert Campaign.objects.get().pk == campaign.pk

    screen = client.get(confirm_url(campaign)).content.decode()
    issue = seeded["newsletter"]
    assert issue.title in screen and issue.subject in screen and ml.name in screen
    assert "8 people, after removing duplicates and suppressed addresses" in screen
    assert "Now, as soon as you confirm" in screen and "No open warnings." in screen
    assert "Confirm and send now" in screen
    assert Campaign.objects.get().status == Campaign.Status.DRAFT

    done = client.post(confirm_url(campaign), {"confirm": "1", "revision": revision_of(issue)})
    assert done.status_code == 302 and done.url == f"/admin/campaigns/{campaign.pk}/"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED and campaign.send_at is not None
    assert flashes(client, done.url) == ["Sending started."]
    # A second confirmation changes nothing.
    client.post(confirm_url(campaign), {"confirm": "1", "revision": revision_of(issue)})
    assert Campaign.objects.count() == 1


def test_a_later_send_says_when_in_which_time_zone(client, seeded, sender):
    client.force_login(sender)
    ml = seeded["mailing_list"]
    client.post(send_url(seeded), {"send": "1", "lists": [ml.pk], "send_at": "2099-01-01 09:00"})
    campaign = Campaign.objects.get()
    screen = client.get(confirm_url(campaign)).content.decode()
    assert "1 January 2099, 09:00 (Europe/Brussels)" in screen
    assert "Confirm and schedule" in screen
    done = client.post(
        confirm_url(campaign), {"confirm": "1", "revision": revision_of(seeded["newsletter"])}
    )
    assert flashes(client, done.url) == ["Scheduled for 1 January 2099, 09:00 (Europe/Brussels)."]
    past = client.post(
        send_url(seeded), {"send": "1", "lists": [ml.pk], "send_at": "2001-01-01 09:00"}
    )
    assert past.status_code == 200 and "This time has passed" in past.content.decode()


def test_discarding_the_draft_sends_nothing(client, seeded, sender):
    client.force_login(sender)
    client.post(send_url(seeded), {"send": "1", "lists": [seeded["mailing_list"].pk]})
    campaign = Campaign.objects.get()
    response = client.post(confirm_url(campaign), {"discard": "1"})
    assert response.status_code == 302 and response.url == send_url(seeded)
    assert not Campaign.objects.exists()


def test_open_warnings_show_and_errors_block_the_confirmation(client, seeded, sender):
    from interviews.models import InterviewPage

    client.force_login(sender)
    issue = NewsletterPage.objects.get(pk=seeded["newsletter"].pk)
    InterviewPage.objects.get(slug="camille-esquerre").unpublish()
    client.post(send_url(seeded), {"send": "1", "lists": [seeded["mailing_list"].pk]})
    campaign = Campaign.objects.get()
    screen = client.get(confirm_url(campaign)).content.decode()
    assert "is not published, so the email leaves it out." in screen
    assert re.search(r'<button type="submit" name="confirm" class="button" >', screen)

    # An old published revision with a broken subject (saved before validation existed).
    revision = issue.live_revision
    revision.content["subject"] = "Broken\nBcc: x@example.org"
    revision.save()
    screen = client.get(confirm_url(campaign)).content.decode()
    assert "The subject line holds a line break" in screen
    assert re.search(r'<button type="submit" name="confirm" class="button" disabled>', screen)
    response = client.post(confirm_url(campaign), {"confirm": "1", "revision": str(revision.pk)})
    assert response.status_code == 200 and "Fix the errors below before sending." in response.text
    assert Campaign.objects.get().status == Campaign.Status.DRAFT


def test_a_never_published_issue_cannot_be_sent_to_lists(client, seeded, sender):
    index = NewsletterIndexPage.objects.get()
    draft = NewsletterPage(
        title="Issue 9", slug="issue-9", issue_number=9, subject="Soon", live=False
    )
    index.add_child(instance=draft)
    draft.save_revision()
    client.force_login(sender)
    url = f"/admin/campaigns/send/{draft.pk}/"
    html = client.get(url).content.decode()
    assert "This issue is not published" in html and 'type="checkbox" name="lists"' not in html
    response = client.post(url, {"send": "1", "lists": [seeded["mailing_list"].pk]})
    assert response.status_code == 200
    assert "“Issue 9” is not published: publish it before sending it to lists." in response.text
    assert not Campaign.objects.exists()
    # Tests still go, labelled as the draft they show.
    client.post(url, {"test": "1", "test_to": "me@example.org"})
    assert mail.outbox[0].subject == "[Test, draft] Soon"


def test_unpublished_changes_send_the_published_version_or_publish_first(client, seeded, sender):
    issue = NewsletterPage.objects.get(pk=seeded["newsletter"].pk)
    published_subject = issue.subject
    issue.subject = "Fresh draft subject"
    issue.save_revision(user=sender)
    sender.groups.add(Group.objects.get(name="Moderators"))  # may publish
    client.force_login(sender)
    ml = seeded["mailing_list"]
    html = client.get(send_url(seeded)).content.decode()
    assert "saved changes that are not published yet" in html
    assert "Publish the latest changes, then send" in html

    client.post(send_url(seeded), {"send": "1", "lists": [ml.pk], "version": "published"})
    campaign = Campaign.objects.get()
    screen = client.get(confirm_url(campaign)).content.decode()
    assert published_subject in screen and "Fresh draft subject" not in screen

    response = client.post(send_url(seeded), {"send": "1", "lists": [ml.pk], "version": "publish"})
    latest = NewsletterPage.objects.get(pk=issue.pk).latest_revision_id
    assert response.url == f"{confirm_url(campaign)}?publish={latest}"
    screen = client.get(response.url).content.decode()
    assert "Fresh draft subject" in screen and "published when you confirm" in screen
    assert NewsletterPage.objects.get(pk=issue.pk).subject == published_subject  # not yet
    client.post(response.url, {"confirm": "1", "revision": str(latest)})
    issue = NewsletterPage.objects.get(pk=issue.pk)
    assert issue.live_revision_id == latest and issue.subject == "Fresh draft subject"
    assert Campaign.objects.get().status == Campaign.Status.SCHEDULED


def test_without_the_right_to_publish_there_is_no_publish_and_send(client, seeded, sender):
    issue = NewsletterPage.objects.get(pk=seeded["newsletter"].pk)
    issue.subject = "Fresh draft subject"
    issue.save_revision()
    client.force_login(sender)  # an editor and a newsletter sender, not a moderator
    html = client.get(send_url(seeded)).content.decode()
    assert "Publish the latest changes, then send" not in html
    response = client.post(
        send_url(seeded), {"send": "1", "lists": [seeded["mailing_list"].pk], "version": "publish"}
    )
    assert response.status_code == 200 and "You may not publish this issue" in response.text
    assert not Campaign.objects.exists()


def test_a_resend_warns_and_offers_only_those_who_have_not_received_it(client, seeded, sender):
    ml = seeded["mailing_list"]
    first = scheduled(seeded)
    campaigns.start(first.pk)
    reached = list(first.deliveries.values_list("pk", flat=True)[:3])
    Delivery.objects.filter(pk__in=reached).update(
        status=Delivery.Status.SENT, sent_at=timezone.now()
    )
    client.force_login(sender)
    html = client.get(send_url(seeded)).content.decode()
    assert "This issue already went out:" in html and f"campaign {first.pk}" in html
    count = client.get(
        "/admin/campaigns/recipients/", {"lists": [ml.pk], "page": seeded["newsletter"].pk}
    ).json()
    assert count == {"recipients": 8, "received": 3}

    client.post(send_url(seeded), {"send": "1", "lists": [ml.pk]})
    again = Campaign.objects.get(status=Campaign.Status.DRAFT)
    screen = client.get(confirm_url(again)).content.decode()
    assert "This issue already went to these lists:" in screen
    assert "Only those who have not received this issue (5 people)" in screen
    assert "Everyone on the lists again (8 people)" in screen
    revision = revision_of(seeded["newsletter"])
    client.post(confirm_url(again), {"confirm": "1", "revision": revision, "recipients": "new"})
    again.refresh_from_db()
    assert again.exclude_received and again.status == Campaign.Status.SCHEDULED
    campaigns.start(again.pk)
    assert again.deliveries.count() == 5

    client.post(send_url(seeded), {"send": "1", "lists": [ml.pk]})
    everyone = Campaign.objects.get(status=Campaign.Status.DRAFT)
    client.post(confirm_url(everyone), {"confirm": "1", "revision": revision, "recipients": "all"})
    everyone.refresh_from_db()
    assert not everyone.exclude_received and everyone.status == Campaign.Status.SCHEDULED


def test_a_confirmation_shown_before_a_publish_asks_again(client, seeded, sender):
    client.force_login(sender)
    client.post(send_url(seeded), {"send": "1", "lists": [seeded["mailing_list"].pk]})
    campaign = Campaign.objects.get()
    old = revision_of(seeded["newsletter"])
    issue = NewsletterPage.objects.get(pk=seeded["newsletter"].pk)
    issue.subject = "Republished"
    issue.save_revision().publish()
    response = client.post(confirm_url(campaign), {"confirm": "1", "revision": old})
    assert response.status_code == 200 and "Republished" in response.text
    assert "The issue changed since this screen was shown" in response.text
    assert Campaign.objects.get().status == Campaign.Status.DRAFT


def test_test_sends_are_capped_and_bad_input_is_a_clear_error(client, seeded, editor):
    client.force_login(editor)
    many = ", ".join(f"t{i}@example.org" for i in range(11))
    response = client.post(send_url(seeded), {"test": "1", "test_to": many})
    assert response.status_code == 200 and "A test goes to 10 addresses at most." in response.text
    bad = client.post(send_url(seeded), {"test": "1", "test_to": "me@example.org\r\nBcc:x@y.z"})
    assert bad.status_code == 200 and "is not an email address" in bad.text
    issue = NewsletterPage.objects.get(pk=seeded["newsletter"].pk)
    issue.subject = "Line one\nline two"
    issue.save_revision(clean=False)
    broken = client.post(send_url(seeded), {"test": "1", "test_to": "me@example.org"})
    assert broken.status_code == 200 and "holds a line break" in broken.text
    assert mail.outbox == []


def test_senders_follow_and_control_a_campaign(client, seeded, sender):
    campaign = scheduled(seeded)
    client.force_login(sender)
    detail = client.get(f"/admin/campaigns/{campaign.pk}/")
    assert detail.status_code == 200 and 'role="progressbar"' in detail.content.decode()
    progress = client.get(f"/admin/campaigns/{campaign.pk}/progress/").json()
    assert progress["status"] == "scheduled" and progress["percent"] == 0
    assert "about 8 (counted when sending starts)" in detail.content.decode()

    campaigns.start(campaign.pk)
    said = {}
    for action, status in [("pause", "paused"), ("resume", "sending"), ("cancel", "cancelled")]:
        response = client.post(f"/admin/campaigns/{campaign.pk}/{action}/")
        assert Campaign.objects.get().status == status
        said[action] = flashes(client, response.url)
    assert said == {
        "pause": ["Sending paused: nothing more goes out until you resume."],
        "resume": ["Sending resumed."],
        "cancel": ["Campaign cancelled: nobody else will receive it."],
    }
    again = client.post(f"/admin/campaigns/{campaign.pk}/pause/")
    assert flashes(client, again.url) == ["Not possible now: the campaign is cancelled."]
    assert client.get("/admin/campaigns/").status_code == 200


def test_send_needs_a_list(client, seeded, sender):
    client.force_login(sender)
    response = client.post(send_url(seeded), {"send": "1", "test_to": "not an address"})
    assert response.status_code == 200
    assert "Choose at least one list." in response.text
    assert "not an email address" not in response.text  # the test field is not in play
    assert not Campaign.objects.exists()


def action_forms(html):
    """The pause/resume/cancel forms on a campaign page, and whether each is shown."""
    return {
        match.group(1): not match.group(2)
        for match in re.finditer(r'data-campaign-action="(\w+)"( hidden)?', html)
    }


EXPECTED_ACTIONS = {
    Campaign.Status.DRAFT: set(),  # discarded from its confirmation screen instead
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
    assert f"/newsletters/{campaign.key}/" in html
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
    progress = client.get(f"/admin/campaigns/{campaign.pk}/progress/").json()
    assert '<polyline data-series="sent"' in progress["chart_html"]


@pytest.mark.parametrize(
    "span,size",
    [(0, 1), (45, 1), (59, 1), (300, 5), (3000, 60), (3 * 3600, 300), (5 * 86400, 7200)],
)
def test_chart_bucket_sizes_follow_the_campaign_duration(span, size):
    assert reports.bucket_seconds(span) == size


def test_counters_report_and_chart_agree(client, seeded, sender):
    campaign = scheduled(seeded)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.PAUSED, recipients_count=9
    )
    start = timezone.now().replace(microsecond=0) - timedelta(seconds=30)
    sent = [
        Delivery.objects.create(
            campaign=campaign, status=Delivery.Status.SENT, sent_at=start + timedelta(seconds=i)
        )
        for i in range(6)
    ]
    for status in (Delivery.Status.PENDING, Delivery.Status.LEASED, Delivery.Status.FAILED):
        Delivery.objects.create(campaign=campaign, status=status)
    for delivery, seconds in [(sent[0], 10), (sent[0], 12), (sent[1], 11)]:
        DeliveryEvent.objects.create(
            delivery=delivery, kind="opened", occurred_at=start + timedelta(seconds=seconds)
        )
    client.force_login(sender)
    progress = client.get(f"/admin/campaigns/{campaign.pk}/progress/").json()
    assert (progress["sent"], progress["failed"], progress["pending"]) == (6, 1, 2)
    assert progress["event_opened"] == 2  # unique recipients, as the report says
    assert "Sent 6" in progress["chart_html"] and "Opened 2" in progress["chart_html"]
    html = client.get(f"/admin/campaigns/{campaign.pk}/").content.decode()
    assert '<dd data-field="event_opened">2</dd>' in html and '<dd data-field="sent">6</dd>' in html
    assert "Sent 6" in html and "Opened 2" in html
    lines = {line["kind"]: line["total"] for line in reports.chart(campaign)["lines"]}
    assert lines == {"sent": 6, "opened": 2}
