"""An editor imports an Excel file and a Mailchimp export from the admin, in Chromium:
upload, read the preview, import, read the report, send the people left pending their
confirmation email, and find it in a real (loopback) SMTP server's mailbox."""

import re
from pathlib import Path

import pytest

from mailing.models import MailingList, Subscriber, Subscription, Suppression, email_hash

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FILES = Path(__file__).parent.parent / "mailing" / "imports"


@pytest.fixture
def editor_page(live_site, browser_page, django_user_model):
    django_user_model.objects.create_superuser("sam", "sam@example.org", "a-long-test-password")
    MailingList.objects.create(
        name="PENELOPE newsletter",
        slug="newsletter",
        consent_text="I agree to receive the PENELOPE newsletter.",
    )
    page = browser_page
    page.goto(f"{live_site['url']}/admin/login/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/admin/$"))
    return page


def upload(page, url, name, *, consent=False):
    from playwright.sync_api import expect

    page.goto(f"{url}/admin/snippets/mailing/subscriber/")
    page.get_by_role("link", name="Import").click()
    page.get_by_label("File").set_input_files(str(FILES / name))
    page.get_by_label("Import into list").select_option(label="PENELOPE newsletter")
    if consent:
        page.get_by_label("These people have already given their consent").check()
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", name="Import preview")).to_be_visible()


def expect_count(region, label, n):
    """The row "label | n" of a table of counts is on the page."""
    from playwright.sync_api import expect

    expect(region.get_by_role("row", name=f"{label} {n}", exact=True)).to_be_visible()


def table_text(page, caption):
    return page.locator("table", has=page.get_by_text(caption, exact=True)).inner_text()


def test_excel_semicolon_file_preview_import_report_and_confirmations(editor_page, live_site):
    from playwright.sync_api import expect

    page, url = editor_page, live_site["url"]
    upload(page, url, "excel_semicolon_cp1252.csv")

    # The preview says how the file is read, before anything is imported.
    reading = page.get_by_role("region", name="How the file is read")
    expect(reading).to_contain_text("Windows-1252 (detected)")
    expect(reading).to_contain_text("semicolon (detected)")
    columns = table_text(page, "Columns")
    assert "E-mail\temail address" in columns and "Prénom\tfirst name" in columns
    first = table_text(page, "First rows, as they will be read")
    assert "Jürgen Müller" in first and "João Gonçalves" in first
    assert "Langue: klingon" in first
    expected = page.get_by_role("region", name="What the import will do")
    expect(expected).to_contain_text("5 rows read")
    expect_count(expected, "new subscriptions, waiting for confirmation", 5)
    assert not Subscription.objects.exists()

    page.get_by_role("button", name="Import now").click()
    expect(page.get_by_role("heading", name="Import report")).to_be_visible()
    done = page.get_by_role("region", name="What the import did")
    expect_count(done, "new subscriptions, waiting for confirmation", 5)
    assert Subscriber.objects.get(email="zofia.nowak@example.pl").language == "pl"

    confirmations = page.get_by_role("region", name="Confirmation emails")
    expect(confirmations).to_contain_text("5 people from this import wait for confirmation")
    page.get_by_role("button", name="Send the confirmation email to 5 people").click()
    expect(page.get_by_role("region", name="Confirmation emails")).to_contain_text(
        "The confirmation email was sent to 5 people waiting, at the request of sam"
    )
    messages = live_site["smtp"].wait_for(5, timeout=20)
    assert sorted(m["To"] for m in messages) == [
        "joao.goncalves@example.pt",
        "jurgen.muller@example.de",
        "marie.dupont@example.fr",
        "worf@example.org",
        "zofia.nowak@example.pl",
    ]
    # The email carries the usual confirmation link, which opens the confirmation page
    # (pressing its button is the subscriber journey's own test).
    marie = next(m for m in messages if m["To"] == "marie.dupont@example.fr")
    body = marie.get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+/subscriptions/confirm/\S+/", body).group(0)
    assert link.startswith(url)
    page.goto(link)
    # In French: Marie's imported language.
    expect(page.get_by_role("button", name="Oui, je m'abonne")).to_be_visible()


def test_mailchimp_unsubscribed_export_stays_unsubscribed_even_with_consent(editor_page, live_site):
    from playwright.sync_api import expect

    page, url = editor_page, live_site["url"]
    upload(page, url, "mailchimp_unsubscribed.csv", consent=True)
    reading = page.get_by_role("region", name="How the file is read")
    expect(reading).to_contain_text("Mailchimp (unsubscribed export)")
    expect(reading).to_contain_text("UNSUB_TIME, UNSUB_REASON")
    first = table_text(page, "First rows, as they will be read")
    assert "complained: suppressed" in first
    expected = page.get_by_role("region", name="What the import will do")
    expect_count(expected, "recorded as unsubscribed, as in the file", 2)
    expect_count(expected, "new subscriptions, confirmed", 0)

    page.get_by_role("button", name="Import now").click()
    expect_count(
        page.get_by_role("region", name="What the import did"),
        "suppressed (bounced or complained, as in the file)",
        1,
    )
    expect(page.get_by_role("region", name="Confirmation emails")).to_contain_text(
        "Nobody from this import waits for confirmation."
    )
    assert set(Subscription.objects.values_list("status", flat=True)) == {"unsubscribed"}
    assert Suppression.objects.filter(email_hash=email_hash("angry@example.org")).exists()
    assert live_site["smtp"].messages == []
