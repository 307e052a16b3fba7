"""One header-safe message path: values that would break a header are refused when the
editor saves and can never reach the wire, on the raw SMTP path and on the Django
backend path; per-recipient values cannot break SMTP framing. Against a real SMTP
server on loopback."""

import pytest
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend
from django.test.utils import override_settings

from mailing import campaigns
from mailing.models import Campaign, Delivery, MailingList, Subscriber, Subscription
from mailing.sending import message as msg
from mailing.sending import sender
from mailing.sending.transports import BackendTransport, transport_for
from mailing.sending.transports.base import Permanent
from tests.smtp import SmtpSink, smtp_settings

pytestmark = pytest.mark.django_db

INJECTIONS = [
    "Issue #3\r\nBcc: everyone@attacker.example",
    "Issue #3\nBcc: everyone@attacker.example",
    "Issue #3\rBcc: everyone@attacker.example",
    "Issue #3\u2028Bcc: everyone@attacker.example",  # a line break to Python's splitlines
    "Issue #3\x00",
]


class DjangoSmtp(EmailBackend):
    """Django's own SMTP backend under another name: the campaign goes the one-message-
    per-recipient way (``BackendTransport``) instead of the raw fast path."""


PATHS = {
    "raw": "django.core.mail.backends.smtp.EmailBackend",
    "django": f"{__name__}.DjangoSmtp",
}


@pytest.fixture
def sink():
    server = SmtpSink()
    recorder = server.start()
    with override_settings(**smtp_settings(server.port)):
        yield recorder
    server.stop()


def started(seeded, **changes):
    campaign = campaigns.create(seeded["newsletter"], [seeded["mailing_list"]])
    assert campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(**changes)
    campaign.refresh_from_db()
    return campaign


# --- refused when the editor saves ------------------------------------------------------


@pytest.mark.parametrize("value", INJECTIONS)
def test_the_issue_subject_and_preheader_must_be_one_line(seeded, value):
    page = seeded["newsletter"]
    for field in ("subject", "preheader"):
        setattr(page, field, value)
        with pytest.raises(ValidationError) as error:
            page.full_clean()
        assert field in error.value.message_dict
        setattr(page, field, "One line, with a tab\tis fine")
    page.full_clean()


@pytest.mark.parametrize("field", ["name", "from_name", "from_email", "reply_to"])
def test_the_lists_header_fields_must_be_one_line(db, field):
    mailing_list = MailingList(name="News", slug="news", from_email="news@example.org")
    setattr(mailing_list, field, "news@example.org\r\nBcc: everyone@attacker.example")
    with pytest.raises(ValidationError) as error:
        mailing_list.full_clean()
    assert field in error.value.message_dict


def test_the_list_editor_shows_the_error_and_saves_nothing(editor_client):
    response = editor_client.post(
        "/admin/snippets/mailing/mailinglist/add/",
        {
            "name": "News\r\nBcc: everyone@attacker.example",
            "slug": "news",
            "from_name": "PENELOPE",
            "from_email": "news@example.org",
            "double_opt_in": "on",
        },
    )
    assert response.status_code == 200
    assert "Use one line" in response.content.decode()
    assert not MailingList.objects.filter(slug="news").exists()


# --- never on the wire ------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize(
    "where",
    ["subject", "from_name", "list name"],
)
def test_a_line_break_that_got_in_fails_the_campaign_and_sends_nothing(
    seeded, sink, settings, path, where
):
    settings.EMAIL_BACKEND = PATHS[path]
    injected = "PENELOPE\r\nBcc: everyone@attacker.example"
    if where == "list name":
        # Saved before the validators existed, or by code that skips them.
        MailingList.objects.filter(pk=seeded["mailing_list"].pk).update(name=injected)
        campaign = started(seeded)
    else:
        campaign = started(seeded, **{where: injected})
    assert sender.run_sender(campaign.pk) == "stopped"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FAILED
    header = {"subject": "Subject", "from_name": "From", "list name": "List-Id"}[where]
    assert campaign.error.startswith(f"unsafe header {header}: ")
    assert sink.total == 0
    assert not campaign.deliveries.filter(status=Delivery.Status.FAILED).exists()


def test_headers_are_checked_in_one_place(seeded):
    campaign = started(seeded)
    campaign.subject = "Issue\nBcc: x@attacker.example"
    with pytest.raises(msg.UnsafeHeader):
        msg.check_campaign(campaign)
    with pytest.raises(msg.UnsafeHeader):
        msg.django_message(campaign, msg.headers(campaign), to=["a@example.org"], text="", html="")
    campaign.subject, campaign.from_name = "Issue", "PENELOPE\rBcc: x@attacker.example"
    with pytest.raises(msg.UnsafeHeader):
        msg.headers(campaign)
    assert transport_for(campaign).__class__.__name__ == "Unsendable"


# --- per-recipient values and SMTP framing ----------------------------------------------


@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_reader_named_dot_cannot_end_the_message_early(seeded, sink, settings, path):
    settings.EMAIL_BACKEND = PATHS[path]
    mailing_list = seeded["mailing_list"]
    names = [".", ".\r\n.\r\nRSET", "..", "\u2028.", "Zoë\x07 Ñandú"]
    for i, name in enumerate(names):
        reader = Subscriber.objects.create(email=f"dot{i}@example.net", name=name)
        Subscription.objects.create(
            subscriber=reader, mailing_list=mailing_list, status=Subscription.Status.CONFIRMED
        )
    campaign = started(seeded)
    # The name placeholder at the start of a line, in both parts.
    # ... and before a dot: a reader without a name gets a line that is only ".".
    text = f"%%NAME%%\r\n{campaign.text}\r\n%%NAME%%\r\n%%NAME%%.\r\nThe end.\r\n"
    html = campaign.html.replace("<body", "\r\n%%NAME%%\r\n<body", 1) + "\r\n%%NAME%%\r\n"
    Campaign.objects.filter(pk=campaign.pk).update(text=text, html=html)
    assert sender.run_sender(campaign.pk) == "done"
    counts = campaign.counts()
    assert counts["sent"] == campaign.recipients_count == 8 + len(names)
    assert counts["failed"] == 0
    received = dict(sink.parsed())
    assert len(received) == counts["sent"]
    nameless = received["newsletter-reader@example.com"].get_body(("plain",)).get_content()
    assert "\n.\nThe end." in nameless.replace("\r\n", "\n")
    for i, name in enumerate(names):
        message = received[f"dot{i}@example.net"]
        body = message.get_body(("plain",)).get_content()
        expected = msg.clean_value(name)
        # Every line is there, the name included, as the reader's own.
        assert body.splitlines()[0] == expected
        assert body.rstrip().endswith("The end.")
        assert "\n" not in message["To"] and "\x07" not in message["To"]


def test_a_header_django_refuses_is_a_permanent_failure_with_the_reason(seeded, sink):
    campaign = started(seeded)
    transport = BackendTransport(campaign)
    message = EmailMultiAlternatives(
        "Subject",
        "text",
        "news@example.org",
        ["a@example.org"],
        headers={"X-Note": "one\nBcc: b@attacker.example"},
    )
    try:
        with pytest.raises(Permanent) as failure:
            transport.post(message)
    finally:
        transport.close()
    assert "bad header" in str(failure.value)
    assert sink.total == 0


def test_a_non_ascii_list_name_is_an_encoded_list_id(seeded, sink):
    MailingList.objects.filter(pk=seeded["mailing_list"].pk).update(name='Lettre "PENELOPE" – été')
    campaign = started(seeded)
    assert sender.run_sender(campaign.pk) == "done"
    message = sink.messages[0]
    assert str(message["List-Id"]) == 'Lettre "PENELOPE" – été <newsletter.cms.example.org>'
    raw_header = next(
        line for line in sink.raw[0][1].split(b"\r\n") if line.startswith(b"List-Id:")
    )
    assert raw_header.isascii() and b"=?utf-8?" in raw_header
