import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Max
from wagtail.documents.models import Document
from wagtail.images.models import Image
from wagtail.models import Page, Revision

from cms.models import EventPage, GoodPracticePage, Organisation
from mailing.models import Subscriber
from newsletters.models import NewsletterPage

pytestmark = pytest.mark.django_db


def counts():
    return {
        "pages": Page.objects.count(),
        "revisions": Revision.objects.count(),
        "images": Image.objects.count(),
        "documents": Document.objects.count(),
        "organisations": Organisation.objects.count(),
        "subscribers": Subscriber.objects.count(),
        "users": get_user_model().objects.count(),
    }


def test_seed_demo_twice_changes_nothing(capsys):
    call_command("seed_demo")
    first = counts()
    out = capsys.readouterr().out
    assert "user: admin" in out and "password:" in out and "/admin/" in out
    call_command("seed_demo")
    assert counts() == first
    assert first["pages"] >= 15


def test_seed_has_the_handbook_with_a_downloadable_pdf(seeded):
    handbook = GoodPracticePage.objects.live().get()
    assert handbook.title.startswith("Gender Equality Training Handbook")
    document = handbook.main_document
    assert document is not None
    with document.file.open("rb") as fh:
        assert fh.read(5) == b"%PDF-"


def test_seed_has_the_reported_events(seeded):
    events = {e.slug: e for e in EventPage.objects.live()}
    talks = events["eu-clusters-talks-gender-equality-2024"]
    assert (talks.start.year, talks.start.month, talks.participant_count) == (2024, 1, 90)
    ewmd = events["ewmd-brussels-declaration-online-event"]
    assert ewmd.is_online and (ewmd.start.month, ewmd.start.day, ewmd.participant_count) == (
        1,
        31,
        50,
    )
    conference = events["european-cluster-conference-2024"]
    assert conference.city == "Brussels" and conference.participant_count == 500
    assert (conference.start.month, conference.start.day) == (5, 8)
    assert events["virtual-learning-environment-launch"].is_upcoming


def test_seed_composes_newsletter_3(seeded):
    issue = NewsletterPage.objects.live().exclude(issue_number=0).get()  # 0: the welcome email
    assert issue.issue_number == 3
    assert len(issue.body) > 5
    # Sent after the pages it reports were published: the next draft starts after it.
    latest = Page.objects.aggregate(latest=Max("first_published_at"))["latest"]
    assert issue.sent_at is not None and issue.sent_at >= latest


def test_seed_demo_prints_the_address_served(seeded, capsys, monkeypatch, settings):
    # `make run` exports HOST and PORT: the admin address is where runserver listens.
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", "8101")
    settings.SITE_URL = "http://127.0.0.1:8101"
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "Admin: http://127.0.0.1:8101/admin/  user: admin" in out
    assert "SITE_URL" not in out

    # A SITE_URL of its own (a proxy in front, say) is said, not hidden.
    settings.SITE_URL = "https://cms.example.org"
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "Admin: http://127.0.0.1:8101/admin/" in out
    assert "Links in emails and the API start with SITE_URL: https://cms.example.org" in out

    # Outside `make run`, SITE_URL is the best knowledge of the address.
    monkeypatch.delenv("HOST")
    monkeypatch.delenv("PORT")
    call_command("seed_demo")
    assert "Admin: https://cms.example.org/admin/" in capsys.readouterr().out
