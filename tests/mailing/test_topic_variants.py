"""A campaign of an issue with a topic-matching block: rendered once per distinct topic
set among its recipients (never per recipient), each reader sent their set's rendering."""

import pytest
from django.core import mail

from interviews.models import InterviewPage
from mailing import campaigns, variants
from mailing.models import CampaignVariant, Delivery
from mailing.sending import sender
from newsletters.models import NewsletterIndexPage, NewsletterPage
from tests.mailing.factories import MailingListFactory, SubscriberFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

READERS = {
    "none1": [],
    "none2": [],
    "digi1": ["digitalisation"],
    "digi2": ["digitalisation"],
    "digi3": ["digitalisation"],
    "gend1": ["gender"],
    "both1": ["digitalisation", "gender"],
    "both2": ["digitalisation", "gender"],
    "other": ["unrelated"],
}


@pytest.fixture
def issue(seeded):
    andrea = InterviewPage.objects.get(slug="andrea-luciana-marcu")
    paivi = InterviewPage.objects.get(slug="paivi-ekdahl")
    andrea.tags.add("Digitalisation")
    andrea.save()
    paivi.tags.add("Gender")
    paivi.save()
    page = NewsletterPage(
        title="Topics issue",
        slug="topics-issue",
        issue_number=77,
        subject="Topics issue",
        body=[
            (
                "interview_spotlight",
                {
                    "heading": "In the spotlight",
                    "interviews": [
                        {"interview": paivi, "quote": ""},
                        {"interview": andrea, "quote": ""},
                    ],
                    "topics": {"enabled": True, "fallback": "composed"},
                },
            )
        ],
    )
    NewsletterIndexPage.objects.get().add_child(instance=page)
    page.save_revision().publish()
    return NewsletterPage.objects.get(pk=page.pk)


@pytest.fixture
def readers(db):
    topics_list = MailingListFactory(slug="topics-readers", name="Topics readers")
    for local, topics in READERS.items():
        person = SubscriberFactory(email=f"{local}@example.org", topics=topics)
        SubscriptionFactory(subscriber=person, mailing_list=topics_list)
    return topics_list


def test_rendered_once_per_topic_set_and_each_reader_gets_theirs(
    issue, readers, monkeypatch, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    renders = []
    real = variants.render_email

    def counting(page, **kwargs):
        renders.append(tuple((kwargs.get("extra_context") or {}).get("reader_topics") or ()))
        return real(page, **kwargs)

    monkeypatch.setattr(variants, "render_email", counting)
    campaign = campaigns.create(issue, [readers])
    campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    # 4 distinct non-empty sets among 9 readers: 4 variant renders (plus the campaign's own).
    assert sorted(renders) == [
        ("digitalisation",),
        ("digitalisation", "gender"),
        ("gender",),
        ("unrelated",),
    ]
    assert CampaignVariant.objects.filter(campaign=campaign).count() == 4
    assert Delivery.objects.filter(campaign=campaign, variant__isnull=True).count() == 2
    mail.outbox.clear()
    assert sender.run_sender(campaign.pk) == "done"
    assert len(mail.outbox) == len(READERS)

    def shown(message):
        body = message.body.casefold()
        return [n for n in ("Päivi Ekdahl", "Andrea Luciana Marcu") if n.casefold() in body]

    got = {message.to[0].split("<")[-1].split("@")[0]: shown(message) for message in mail.outbox}
    both = ["Päivi Ekdahl", "Andrea Luciana Marcu"]
    assert got == {
        "none1": both,
        "none2": both,
        "digi1": ["Andrea Luciana Marcu"],
        "digi2": ["Andrea Luciana Marcu"],
        "digi3": ["Andrea Luciana Marcu"],
        "gend1": ["Päivi Ekdahl"],
        "both1": both,
        "both2": both,
        "other": both,
    }


def test_no_topic_block_no_variants(seeded, readers, monkeypatch):
    issue = NewsletterPage.objects.get(issue_number=3)
    calls = []
    monkeypatch.setattr(variants, "render_email", lambda *a, **k: calls.append(1))
    campaign = campaigns.create(issue, [readers])
    campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    assert calls == [] and not CampaignVariant.objects.exists()


def test_raw_smtp_sends_each_reader_their_variant(issue, readers):
    """The SMTP transport (one prebuilt message per rendering) through a loopback server."""
    from django.test import override_settings

    from tests.smtp import SmtpSink, smtp_settings

    server = SmtpSink()
    recorder = server.start()
    try:
        with override_settings(**smtp_settings(server.port)):
            campaign = campaigns.create(issue, [readers])
            campaigns.schedule(campaign)
            assert campaigns.start(campaign.pk)
            assert sender.run_sender(campaign.pk) == "done"
        messages = recorder.wait_for(len(READERS))
    finally:
        server.stop()

    def body(message):
        part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        return part.get_content().casefold()

    got = {}
    for message in messages:
        local = message["To"].split("<")[-1].split("@")[0]
        got[local] = "andrea luciana marcu" in body(message), "päivi ekdahl" in body(message)
    assert got["digi1"] == (True, False)
    assert got["gend1"] == (False, True)
    assert got["none1"] == got["both1"] == got["other"] == (True, True)
    assert len({m["Message-ID"] for m in messages}) == len(READERS)
