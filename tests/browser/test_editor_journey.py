"""An editor composes an issue from pages in the Wagtail admin, previews it, reads the
checks, sends a test, then sends it to a list through the confirmation screen, and
sends it again to those who have not received it yet.

In-process live server (``live_site``): django-q2 tasks run in the request, mail goes to
a real SMTP server on loopback, and Chromium drives the admin by labels and roles.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group

from cms.models import User
from interviews.models import InterviewPage
from mailing.models import Campaign, Delivery
from newsletters.models import NewsletterIndexPage, NewsletterPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"  # noqa: S105


@pytest.fixture
def world(live_site, settings):
    from penelope import demo

    # Wagtail's autosave can create the page while "Save draft" posts the same form to the
    # "add" address (a duplicate issue number): this test is about what comes after.
    settings.WAGTAIL_AUTOSAVE_INTERVAL = 0

    content = demo.seed_all(translations=False)
    user = User.objects.create_user("sam", "sam@example.org", PASSWORD, first_name="Sam")
    for name in ("Editors", "Moderators", "Newsletter senders"):
        user.groups.add(Group.objects.get(name=name))
    # A page the issue will link to, unpublished since: the email must leave it out.
    InterviewPage.objects.get(slug="camille-esquerre").unpublish()
    return {**live_site, **content}


def log_in(page, url):
    page.goto(f"{url}/admin/login/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/admin/")


def choose_page(page, button, search, title):
    button.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("textbox").first.fill(search)
    dialog.get_by_role("link", name=title).click()
    dialog.wait_for(state="hidden")


def preview_frame(page, mode):
    """The preview panel's frame in ``mode`` (Wagtail loads each new preview in a second
    iframe and swaps it in once loaded: the latest one is the one to read)."""
    return page.locator(f"iframe[title=Preview][src*='mode={mode}']").last.content_frame


def footer_links(message):
    text = message.get_body(("plain",)).get_content()
    found = re.findall(r"(Manage your preferences|Unsubscribe|View in browser):\s*(\S+)", text)
    return dict(found)


def test_an_editor_composes_previews_tests_and_sends_with_confirmation(world, browser_page):
    from playwright.sync_api import expect

    # The admin renders emails on a shared, slow machine: allow more than 5 s per step.
    expect.set_options(timeout=20_000)
    page, url, smtp = browser_page, world["url"], world["smtp"]
    archive = NewsletterIndexPage.objects.get()
    log_in(page, url)

    # Compose issue #4 from pages: a story whose button leads to an interview, and a spotlight.
    page.goto(f"{url}/admin/pages/add/newsletters/newsletterpage/{archive.pk}/")
    page.get_by_role("textbox", name="Title*").fill("Issue 4")
    page.get_by_label("Issue number").fill("4")
    page.get_by_label("Subject").fill("PENELOPE newsletter #4")
    page.get_by_title("Insert a block").click()
    page.get_by_role("option", name="Story").click()
    page.get_by_label("Heading*").fill("Our next actions")
    page.locator("[data-contentpath='text'] [contenteditable='true']").fill(
        "A video toolkit is coming."
    )
    page.get_by_label("Label").fill("Meet Camille")
    choose_page(
        page,
        page.get_by_role("button", name="Choose a page"),
        "Camille",
        "Interview with Camille Esquerré",
    )
    page.get_by_title("Insert a block").last.click()
    page.get_by_role("option", name="Interview spotlight").click()
    page.get_by_label("Heading*").last.fill("In the spotlight")
    choose_page(
        page,
        page.get_by_role("button", name="Choose a page (Interview)"),
        "Rumignani",
        "Interview with Massimiliano Rumignani",
    )
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(r"/admin/pages/\d+/edit/"))
    expect(page.get_by_text("Page 'Issue 4' created.")).to_be_visible()
    issue = NewsletterPage.objects.get(issue_number=4)
    assert not issue.live

    # The checks panel lists the link it left out.
    checks = page.get_by_role("region", name="Email checks")
    expect(checks).to_contain_text(
        "The email links to “Interview with Camille Esquerré”, which is not published; "
        "the link is left out."
    )

    # Preview, as an email and as plain text.
    page.get_by_role("button", name="Toggle preview").click()
    preview = preview_frame(page, "email")
    # The first preview renders the whole issue through MJML: slow on a loaded machine.
    expect(preview.get_by_text("OUR NEXT ACTIONS")).to_be_visible(timeout=60_000)
    expect(preview.get_by_text("MASSIMILIANO RUMIGNANI")).to_be_visible()
    expect(preview.get_by_role("link", name="Meet Camille")).to_have_count(0)
    page.get_by_label("Preview mode").select_option(label="Plain text")
    text_preview = preview_frame(page, "text").locator("body")
    expect(text_preview).to_contain_text("OUR NEXT ACTIONS\n\nA video toolkit is coming.")
    expect(text_preview).to_contain_text("Read the full interview:")

    # Send or schedule…: never published, so only a test can go; it shows the draft.
    page.get_by_role("button", name="Actions").first.click()
    page.get_by_role("link", name="Send or schedule…").click()
    page.wait_for_url(f"**/admin/campaigns/send/{issue.pk}/")
    expect(page.get_by_text("This issue is not published.")).to_be_visible()
    expect(page.get_by_role("checkbox", name="PENELOPE newsletter")).to_have_count(0)
    expect(page.get_by_label("Send a test to")).to_have_value("sam@example.org")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Test of the latest draft sent to sam@example.org.")).to_be_visible()
    [test] = smtp.wait_for(1)
    assert test["To"] == "sam@example.org"
    assert test["Subject"] == "[Test, draft] PENELOPE newsletter #4"
    assert test["Message-ID"].endswith(f"@{urlsplit(url).hostname}>")
    assert test["List-Unsubscribe"] and test["List-Unsubscribe-Post"]
    links = footer_links(test)
    for label in ("Unsubscribe", "Manage your preferences"):
        page.goto(links[label])
        expect(page.get_by_role("heading", name="This was a test")).to_be_visible()
    page.goto(links["View in browser"])
    expect(page.get_by_text("OUR NEXT ACTIONS")).to_be_visible()
    assert not Campaign.objects.exists()

    # Publish, then send to the list: a confirmation comes first.
    page.goto(f"{url}/admin/pages/{issue.pk}/edit/")
    page.get_by_role("button", name="More actions").click()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Page 'Issue 4' has been published.")).to_be_visible()
    page.goto(f"{url}/admin/campaigns/send/{issue.pk}/")
    page.get_by_role("checkbox", name="PENELOPE newsletter").check()
    expect(page.locator("#recipient-count")).to_contain_text(
        "Recipients after removing duplicates and suppressed addresses: 8"
    )
    page.get_by_role("button", name="Review and send now…").click()
    page.wait_for_url("**/confirm/")
    assert Campaign.objects.get().status == Campaign.Status.DRAFT
    facts = page.locator("dl")
    expect(facts).to_contain_text("PENELOPE newsletter #4")
    expect(facts).to_contain_text("8 people, after removing duplicates and suppressed addresses")
    expect(facts).to_contain_text("Now, as soon as you confirm")
    expect(page.get_by_role("region", name="Email checks")).to_contain_text(
        "which is not published; the link is left out."
    )
    assert smtp.total == 1
    page.get_by_role("button", name="Confirm and send now").click()
    expect(page.get_by_text("Sending started.")).to_be_visible()
    expect(page.locator("[data-field=status_label]")).to_have_text("Sent")
    expect(page.locator("#progress-percent")).to_have_text("100 %")
    smtp.wait_for(9)
    sent = smtp.messages[1:]
    assert {m["Subject"] for m in sent} == {"PENELOPE newsletter #4"}
    assert all("Meet Camille" not in m.get_body(("html",)).get_content() for m in sent)
    web = footer_links(sent[0])["View in browser"]
    campaign = Campaign.objects.get()
    assert web == f"{url}/newsletters/{campaign.key}/"
    page.goto(web)
    expect(page.get_by_text("OUR NEXT ACTIONS")).to_be_visible()

    # Again to the same list: a warning, and only those who have not received it.
    page.goto(f"{url}/admin/campaigns/send/{issue.pk}/")
    expect(page.get_by_text("This issue already went out:")).to_be_visible()
    page.get_by_role("checkbox", name="PENELOPE newsletter").check()
    expect(page.locator("#recipient-count")).to_contain_text(
        "8 of them already received this issue."
    )
    page.get_by_role("button", name="Review and send now…").click()
    expect(page.get_by_text("This issue already went to these lists:")).to_be_visible()
    only_new = page.get_by_role("radio", name="Only those who have not received this issue")
    expect(only_new).to_be_checked()
    expect(only_new).to_have_accessible_name(re.compile(r"\(0 people\)"))
    page.get_by_role("button", name="Confirm and send now").click()
    expect(page.locator("[data-field=status_label]")).to_have_text("Sent")
    again = Campaign.objects.order_by("-pk").first()
    assert again.exclude_received and again.recipients_count == 0
    assert smtp.total == 9
    assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == 8
