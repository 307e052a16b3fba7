"""The next issue is drafted from exactly what was published since the last send."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from cms.models import EventIndexPage, EventPage, GoodPracticeIndexPage, GoodPracticePage
from interviews.models import InterviewIndexPage, InterviewPage
from newsletters.drafting import draft_next_issue, new_content
from newsletters.models import NewsletterPage
from newsletters.rendering import render_email

pytestmark = pytest.mark.django_db


def publish(parent, page):
    parent.add_child(instance=page)
    page.save_revision().publish()
    return page


def new_interview(slug, name):
    issue_org = InterviewPage.objects.first().organisation
    return publish(
        InterviewIndexPage.objects.get(),
        InterviewPage(
            title=f"Interview with {name}",
            slug=slug,
            interviewee_name=name,
            role="Cluster manager",
            organisation=issue_org,
            pull_quote=f"{name} believes balanced teams innovate more.",
        ),
    )


@pytest.fixture
def sent(issue3):
    """Issue #3, which the demo marks as sent after the seed's content was published."""
    assert issue3.sent_at is not None
    return issue3


def blocks_of(page):
    return [(block.block_type, block.value) for block in page.body]


def test_nothing_new_since_the_last_send_means_no_draft(sent):
    before = NewsletterPage.objects.count()
    result = draft_next_issue()
    assert result.page is None and result.content.is_empty
    assert NewsletterPage.objects.count() == before


def test_draft_holds_exactly_what_was_published_since_the_send(sent):
    ines = new_interview("ines-garcia", "Inés García")
    draft_only = InterviewPage(
        title="Interview with a draft",
        slug="draft-interview",
        interviewee_name="Not Yet",
        role="Director",
        organisation=ines.organisation,
        pull_quote="Not published.",
        live=False,
    )
    InterviewIndexPage.objects.get().add_child(instance=draft_only)
    draft_only.save_revision()
    practice = publish(
        GoodPracticeIndexPage.objects.get(),
        GoodPracticePage(title="Mentoring circles", slug="mentoring-circles", summary="Peers."),
    )
    soon = timezone.now() + timedelta(days=10)
    webinar = publish(
        EventIndexPage.objects.get(),
        EventPage(
            title="Inclusive recruitment webinar",
            slug="inclusive-recruitment-webinar",
            start=soon,
            end=soon + timedelta(hours=1),
            is_online=True,
            summary="One hour.",
        ),
    )
    # Republishing an old page does not make it new.
    old = InterviewPage.objects.get(slug="paivi-ekdahl")
    old.save_revision().publish()

    result = draft_next_issue()
    assert result.created
    page = result.page
    assert [p.pk for p in result.content.interviews] == [ines.pk]
    assert [p.pk for p in result.content.practices] == [practice.pk]
    assert [p.pk for p in result.content.events] == [webinar.pk]

    assert page.issue_number == 4 and not page.live and page.sent_at is None
    assert page.has_unpublished_changes and page.latest_revision is not None
    types = [block_type for block_type, _ in blocks_of(page)]
    assert types == ["good_practice", "events", "divider", "interview_spotlight"]
    spotlight = dict(blocks_of(page))["interview_spotlight"]
    assert [item["interview"].pk for item in spotlight["interviews"]] == [ines.pk]
    assert dict(blocks_of(page))["events"]["source"] == "upcoming"
    assert page.header_title == sent.header_title

    text = render_email(page).text
    assert "INÉS GARCÍA" in text and "Inclusive recruitment webinar" in text
    assert "PÄIVI EKDAHL" not in text and "Not Yet" not in text


def test_a_waiting_draft_is_not_duplicated(sent):
    new_interview("ines-garcia", "Inés García")
    first = draft_next_issue()
    second = draft_next_issue()
    assert first.created and not second.created
    assert second.page.pk == first.page.pk


def test_once_the_draft_is_sent_the_next_one_starts_after_it(sent):
    new_interview("ines-garcia", "Inés García")
    fourth = draft_next_issue().page
    fourth.save_revision().publish()
    fourth.sent_at = timezone.now()
    fourth.save(update_fields=["sent_at"])
    assert draft_next_issue().page is None
    latest = new_interview("jon-ander", "Jon Ander")
    content = new_content()
    assert content.last_sent.pk == fourth.pk
    assert [p.pk for p in content.interviews] == [latest.pk]


def test_without_any_sent_issue_everything_published_counts(issue3):
    NewsletterPage.objects.update(sent_at=None)
    content = new_content()
    assert content.last_sent is None
    assert len(content.interviews) == 4 and len(content.practices) == 1


def test_command_reports_both_outcomes(sent, capsys):
    call_command("draft_next_issue")
    assert "Nothing new since issue #3 was sent: no draft created." in capsys.readouterr().out
    new_interview("ines-garcia", "Inés García")
    call_command("draft_next_issue")
    out = capsys.readouterr().out
    assert "Drafted issue #4 (1 new interview since issue #3 was sent)" in out
    assert "/admin/pages/" in out


def test_admin_button_drafts_the_next_issue(editor_client, sent):
    archive = sent.get_parent()
    explore = editor_client.get(reverse("wagtailadmin_explore", args=[archive.pk]))
    url = reverse("newsletters_draft_next_issue", args=[archive.pk])
    assert url in explore.content.decode()

    new_interview("ines-garcia", "Inés García")
    page = editor_client.get(url)
    assert page.status_code == 200 and "Interview with Inés García" in page.content.decode()

    response = editor_client.post(url)
    draft = NewsletterPage.objects.get(issue_number=4)
    assert response.status_code == 302
    assert response["Location"] == reverse("wagtailadmin_pages:edit", args=[draft.pk])
    assert draft.owner.username == "editor"
