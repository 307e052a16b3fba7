"""An editor in the admin, in Debian's Chromium: the archive's "Draft the next issue",
a new issue's number, an events block of hand-picked events saved without a count, and a
subject or preheader that would break an email header refused with the reason."""

import pytest
from django.contrib.auth import get_user_model

from newsletters.models import NewsletterIndexPage, NewsletterPage

pytestmark = pytest.mark.browser

PASSWORD = "a-long-test-password"  # noqa: S105 - a test login


@pytest.fixture
def admin_page(live_site, seeded, browser_page):
    get_user_model().objects.create_superuser("sam", "sam@example.org", PASSWORD)
    page = browser_page
    page.goto(f"{live_site['url']}/admin/login/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_site['url']}/admin/")
    return page


def test_archive_listing_offers_draft_the_next_issue(live_site, admin_page):
    from playwright.sync_api import expect

    archive = NewsletterIndexPage.objects.get()
    admin_page.goto(f"{live_site['url']}/admin/pages/{archive.pk}/")
    button = admin_page.get_by_role("link", name="Draft the next issue")
    expect(button).to_be_visible()  # beside the title, not inside a menu
    button.click()
    # Issue #3 is marked sent by the demo: nothing published since, nothing to draft.
    expect(admin_page.get_by_text("The last sent issue is #3")).to_be_visible()
    expect(admin_page.get_by_text("Nothing new: there is nothing to draft")).to_be_visible()


def test_a_new_issue_has_the_next_number_filled_in(live_site, admin_page):
    from playwright.sync_api import expect

    archive = NewsletterIndexPage.objects.get()
    admin_page.goto(f"{live_site['url']}/admin/pages/{archive.pk}/")
    admin_page.get_by_role("link", name="Add child page").click()
    expect(admin_page.get_by_label("Issue number")).to_have_value("4")


def test_hand_picked_events_save_without_a_count(live_site, admin_page):
    from playwright.sync_api import expect

    issue = NewsletterPage.objects.get(issue_number=3)
    admin_page.goto(f"{live_site['url']}/admin/pages/{issue.pk}/edit/")
    # The first events block of issue #3 lists three chosen events.
    count = admin_page.get_by_label("Count").first
    expect(count).to_have_value("3")
    count.fill("")
    admin_page.get_by_role("button", name="Save draft").click()
    expect(admin_page.get_by_text("has been updated")).to_be_visible()

    draft = NewsletterPage.objects.get(pk=issue.pk).get_latest_revision_as_object()
    chosen = [block.value for block in draft.body if block.block_type == "events"][0]
    assert chosen["source"] == "chosen" and chosen["count"] is None
    assert len(chosen["events"]) == 3


def test_a_subject_that_would_break_a_header_is_refused_and_unicode_kept(live_site, admin_page):
    """A line separator pasted into the subject (an input keeps it, unlike CR/LF) or a
    control character in the preheader is refused with the reason, nothing saved; a
    subject in any script with dashes and quotes saves."""
    from playwright.sync_api import expect

    issue = NewsletterPage.objects.get(issue_number=3)
    before = issue.get_latest_revision().pk
    admin_page.goto(f"{live_site['url']}/admin/pages/{issue.pk}/edit/")
    subject = admin_page.get_by_label("Subject")
    preheader = admin_page.get_by_label("Preheader")
    for field, bad in (
        (subject, "Issue 3\u2028Bcc: everyone@attacker.example"),
        (preheader, "Read this\x07 now"),
    ):
        original = field.input_value()
        field.fill(bad)
        assert field.input_value() == bad  # what the browser posts
        admin_page.get_by_role("button", name="Save draft").click()
        expect(
            admin_page.get_by_text("The page could not be saved due to validation errors")
        ).to_be_visible()
        expect(admin_page.get_by_text("Use one line")).to_be_visible()
        assert issue.get_latest_revision().pk == before
        field.fill(original)

    subject.fill("Numéro 3 — « nos actions » 日本 “quotes”\tand a tab")
    admin_page.get_by_role("button", name="Save draft").click()
    expect(admin_page.get_by_text("has been updated")).to_be_visible()
    draft = NewsletterPage.objects.get(pk=issue.pk).get_latest_revision_as_object()
    assert draft.subject == "Numéro 3 — « nos actions » 日本 “quotes”\tand a tab"
