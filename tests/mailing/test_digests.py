"""The digest that drafts itself: its rhythm in local time, the draft, the editors told, and
a send only where the list allows it and the checks pass."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from django_q.models import Schedule
from wagtail.models import PageLogEntry

from interviews.models import InterviewIndexPage, InterviewPage
from mailing import digests, tasks
from mailing.models import Campaign, DigestSchedule
from newsletters.models import NewsletterPage
from tests import smtp

pytestmark = pytest.mark.django_db
smtp_server = smtp.smtp_server


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def rhythm(**fields):
    defaults = {"frequency": "monthly", "week": 1, "weekday": 1, "time": time(9, 0)}
    return DigestSchedule(**{"time_zone": "Europe/Brussels", **defaults, **fields})


@pytest.mark.parametrize(
    ("fields", "after", "expected"),
    [
        # First Tuesday 09:00 Brussels: 08:00 UTC in winter …
        ({}, utc(2026, 12, 1, 7, 59), utc(2026, 12, 1, 8, 0)),
        ({}, utc(2026, 12, 1, 8, 0), utc(2027, 1, 5, 8, 0)),
        # … 07:00 UTC once summer time began (28 March 2027).
        ({}, utc(2027, 3, 2, 9, 0), utc(2027, 4, 6, 7, 0)),
        # Every Monday 09:00, across the spring change.
        ({"frequency": "weekly", "weekday": 0}, utc(2027, 3, 22, 8, 0), utc(2027, 3, 29, 7, 0)),
        # Last Friday: 29 October (summer time) and 26 November (winter time).
        ({"week": -1, "weekday": 4}, utc(2027, 10, 2), utc(2027, 10, 29, 7, 0)),
        ({"week": -1, "weekday": 4}, utc(2027, 10, 29, 7, 0), utc(2027, 11, 26, 8, 0)),
        # Fourth Sunday 03:00 in the autumn change (31 Oct is the fifth): late October.
        ({"week": 4, "weekday": 6, "time": time(3, 0)}, utc(2027, 10, 1), utc(2027, 10, 24, 1, 0)),
        # Another zone: first Monday 08:30 in New York.
        (
            {"weekday": 0, "time": time(8, 30), "time_zone": "America/New_York"},
            utc(2027, 3, 1, 14, 0),
            utc(2027, 4, 5, 12, 30),
        ),
    ],
)
def test_next_run_follows_the_local_calendar(fields, after, expected):
    assert rhythm(**fields).next_run(after) == expected


def test_the_worker_looks_for_due_digests_and_expired_signups():
    names = set(Schedule.objects.values_list("name", flat=True))
    assert {"mailing.run_digests", "mailing.expire_pending"} <= names


@pytest.fixture
def schedule(seeded, editor):
    group = Group.objects.create(name="Newsletter editors")
    editor.groups.add(group)
    return DigestSchedule.objects.create(
        mailing_list=seeded["mailing_list"], notify_group=group, time_zone="Europe/Brussels"
    )


def publish_interview(slug="ines-garcia"):
    organisation = InterviewPage.objects.first().organisation
    page = InterviewPage(
        title="Interview with Inés García",
        slug=slug,
        interviewee_name="Inés García",
        role="Cluster manager",
        organisation=organisation,
        pull_quote="Balanced teams innovate more.",
    )
    InterviewIndexPage.objects.get().add_child(instance=page)
    page.save_revision().publish()
    return page


def make_due(schedule):
    DigestSchedule.objects.filter(pk=schedule.pk).update(
        next_run_at=timezone.now() - timedelta(minutes=1)
    )


def test_saving_a_schedule_sets_its_next_run(schedule):
    assert schedule.next_run_at > timezone.now()
    local = timezone.localtime(schedule.next_run_at, timezone=schedule.zone())
    assert (local.weekday(), local.hour, local.minute, local.day <= 7) == (1, 9, 0, True)


def test_a_due_digest_drafts_logs_and_emails_the_editors(schedule, smtp_server, sync_tasks):
    interview = publish_interview()
    make_due(schedule)

    summaries = tasks.run_digests()
    assert summaries == ["Drafted #4; it waits for an editor."]
    page = NewsletterPage.objects.get(issue_number=4)
    assert not page.live and page.sent_at is None
    spotlight = [b for b in page.body if b.block_type == "interview_spotlight"]
    assert [i["interview"].pk for i in spotlight[0].value["interviews"]] == [interview.pk]
    assert PageLogEntry.objects.filter(page=page, action=digests.LOG_ACTION).exists()
    assert not Campaign.objects.exists()  # nothing is sent without a person

    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "editor@example.org"
    assert message["Subject"] == "Newsletter #4 is drafted and waits for you"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert f"/admin/pages/{page.pk}/edit/" in body and "1 new interview" in body

    schedule.refresh_from_db()
    assert schedule.next_run_at > timezone.now() and schedule.last_result.startswith("Drafted #4")
    # The next tick finds nothing due; a later due run finds the draft already waiting.
    assert tasks.run_digests() == []
    make_due(schedule)
    assert tasks.run_digests() == ["A draft (#4) was already waiting for an editor."]
    assert NewsletterPage.objects.filter(issue_number__gt=3).count() == 1


def test_the_dashboard_shows_the_waiting_draft(schedule, editor_client, smtp_server):
    publish_interview()
    make_due(schedule)
    digests.run_due()
    html = editor_client.get("/admin/").content.decode()
    assert "Drafted by the digest schedule" in html and "Newsletter #4" in html


def test_nothing_new_no_draft_no_email(schedule, smtp_server):
    make_due(schedule)
    (run,) = digests.run_due()
    assert run.page is None
    assert smtp_server.total == 0
    schedule.refresh_from_db()
    assert schedule.last_result == "Nothing new was published since the last issue: no draft."


def test_auto_send_sends_a_clean_draft_to_the_list(schedule, smtp_server):
    schedule.auto_send = True
    schedule.save()
    publish_interview()
    make_due(schedule)
    (run,) = digests.run_due()
    campaign = run.campaign
    assert campaign is not None and campaign.status == Campaign.Status.SCHEDULED
    assert list(campaign.lists.all()) == [schedule.mailing_list]
    assert NewsletterPage.objects.get(issue_number=4).live
    (message,) = smtp_server.wait_for(1)
    assert message["Subject"] == "Newsletter #4 was sent on its own"


def test_auto_send_holds_back_a_draft_the_checks_flag(schedule, smtp_server, monkeypatch):
    monkeypatch.setattr("newsletters.checks.GMAIL_CLIP_BYTES", 1000)  # every issue is "too big"
    schedule.auto_send = True
    schedule.save()
    publish_interview()
    make_due(schedule)
    (run,) = digests.run_due()
    assert run.campaign is None and run.held_back
    assert not Campaign.objects.exists()
    assert not NewsletterPage.objects.get(issue_number=4).live
    body = smtp_server.wait_for(1)[0].get_body(preferencelist=("plain",)).get_content()
    assert "Not sent on its own" in body and "Gmail clips" in body


def test_a_disabled_schedule_never_runs(schedule, smtp_server):
    schedule.enabled = False
    schedule.save()
    assert schedule.next_run_at is None
    publish_interview()
    assert digests.run_due() == []


def test_the_admin_edits_a_rhythm(schedule, editor_client):
    url = f"/admin/snippets/mailing/digestschedule/edit/{schedule.pk}/"
    response = editor_client.post(
        url,
        {
            "mailing_list": schedule.mailing_list_id,
            "enabled": "on",
            "frequency": "weekly",
            "week": "1",
            "weekday": "3",
            "time": "07:30",
            "time_zone": "Europe/Brussels",
            "notify_group": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule.refresh_from_db()
    local = timezone.localtime(schedule.next_run_at, timezone=schedule.zone())
    assert (local.weekday(), local.hour, local.minute) == (3, 7, 30)
    bad = editor_client.post(
        url,
        {
            "mailing_list": schedule.mailing_list_id,
            "frequency": "weekly",
            "week": "1",
            "weekday": "9",
            "time": "25:00",
            "time_zone": "Mars/Olympus_Mons\r\n",
        },
    )
    assert bad.status_code == 200  # the form again, with its errors
    huge = editor_client.post(url, {"mailing_list": "9" * 30, "notify_group": "9" * 25})
    assert huge.status_code == 200
    listing = editor_client.get("/admin/snippets/mailing/digestschedule/").content.decode()
    assert "every Thursday at 07:30 (Europe/Brussels)" in listing
