"""The newsletter archive on the site: the sent issues, each readable as the email was."""

import pytest
from bs4 import BeautifulSoup
from django.utils import timezone
from wagtail.models import Revision

from newsletters.models import NewsletterPage

pytestmark = pytest.mark.django_db


def soup(response):
    return BeautifulSoup(response.content, "html.parser")


def test_home_page_leads_to_the_archive_which_lists_issue_3(client, issue3):
    home = soup(client.get("/"))
    link = home.find("a", string="Newsletter")
    assert link is not None and link["href"] == "/newsletter/"

    response = client.get(link["href"])
    assert response.status_code == 200
    page = soup(response)
    assert page.find("h1").get_text() == "Newsletter"
    assert page.find("header").find("a", string="PENELOPE")  # the site's own look
    (article,) = page.find_all("article")
    assert article.find("a", string="Newsletter #3")["href"] == "/newsletter/newsletter-3/"
    sent = timezone.localtime(issue3.sent_at)
    meta = " ".join(article.find(class_="meta").get_text().split())
    assert meta == f"Issue #3 · sent {sent.day} {sent:%B %Y}"
    assert article.find("time")["datetime"].startswith(sent.date().isoformat())
    assert issue3.subject in article.get_text()


def test_archive_lists_only_sent_issues_newest_first(client, issue3, make_issue):
    unsent = make_issue([])
    sent = make_issue([])
    now = timezone.now()
    NewsletterPage.objects.filter(pk=sent.pk).update(sent_at=now, public_sent_at=now)
    page = soup(client.get("/newsletter/"))
    titles = [a.get_text() for a in page.select("article h2 a")]
    assert titles == [sent.title, "Newsletter #3"]
    assert unsent.title not in page.get_text()


def test_archive_says_so_when_nothing_was_sent(client, issue3):
    NewsletterPage.objects.update(sent_at=None, public_sent_at=None)
    response = client.get("/newsletter/")
    assert response.status_code == 200
    assert "No issue has been sent yet." in soup(response).get_text()


def test_a_sent_issue_reads_as_the_email_without_anything_personal(client, issue3, settings):
    response = client.get("/newsletter/newsletter-3/")
    assert response.status_code == 200
    html = response.content.decode()
    page = BeautifulSoup(html, "html.parser")
    assert page.title.get_text() == issue3.subject
    assert "EU Clusters Talks" in page.get_text() and "MASSIMILIANO" in page.get_text().upper()
    assert "%%" not in html
    # No subscriber's links on a public page: no unsubscribe, preferences or self link.
    for label in ("Unsubscribe", "Manage your preferences", "View this email in your browser"):
        assert page.find("a", string=label) is None
    assert settings.NEWSLETTER_POSTAL_ADDRESS in page.get_text()


def test_an_unsent_issue_is_not_on_the_site(client, issue3, make_issue):
    published_not_sent = make_issue([])
    assert client.get(published_not_sent.url).status_code == 404
    NewsletterPage.objects.filter(pk=issue3.pk).update(sent_at=None)
    assert client.get("/newsletter/newsletter-3/").status_code == 404


def test_publishing_a_revision_saved_before_the_send_keeps_the_issue_sent(issue3):
    sent_at = issue3.sent_at
    NewsletterPage.objects.filter(pk=issue3.pk).update(sent_at=None)
    issue3.refresh_from_db()
    issue3.subject = "Typo fixed after the send"
    revision = issue3.save_revision()  # saved while the issue was not sent yet
    NewsletterPage.objects.filter(pk=issue3.pk).update(sent_at=sent_at)

    # As the admin does it, in a later request: the revision and its page read afresh.
    Revision.objects.get(pk=revision.pk).publish()
    issue3.refresh_from_db()
    assert issue3.subject == "Typo fixed after the send"
    assert issue3.sent_at == sent_at
    # The edit view starts from the latest revision: it does not unsend either.
    assert (
        NewsletterPage.objects.get(pk=issue3.pk).get_latest_revision_as_object().sent_at == sent_at
    )
