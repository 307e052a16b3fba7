"""The bounce mailbox: DSNs read from a maildir and from a real Dovecot (IMAP, POP3) on
loopback, matched to deliveries and acted on once.

Inputs are real bounces from many MTAs, shipped with GNU Mailman's flufl.bounce
(``bounce_samples/``, Apache-2.0), and RFC 3464 reports built here for the matching
rules (VERP, Message-ID).
"""

import json
import mailbox
from email.message import EmailMessage
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import Schedule
from wagtail.models import Page

from mailing import bounce_mailbox, subscriptions, tasks
from mailing.models import (
    Bounce,
    BounceMessage,
    Campaign,
    Delivery,
    DeliveryEvent,
    MailingList,
    Subscriber,
    Subscription,
    Suppression,
    email_hash,
)
from mailing.sending import message as msg
from newsletters.models import NewsletterPage

pytestmark = pytest.mark.django_db
SAMPLES = Path(__file__).parent / "bounce_samples"
BOUNCES = "bounces@mail.example.org"
READERS = ["ada@example.net", "ben@example.net", "cleo@example.net"]


@pytest.fixture(autouse=True)
def _bounce_address(settings):
    settings.BOUNCE_ADDRESS = BOUNCES
    settings.BOUNCE_MAILBOX = ""


def make_campaign(addresses):
    root = Page.objects.get(depth=1)
    number = NewsletterPage.objects.count() + 100
    page = root.add_child(
        instance=NewsletterPage(
            title=f"Issue {number}", slug=f"issue-{number}", issue_number=number, subject="News"
        )
    )
    mailing_list, _ = MailingList.objects.get_or_create(slug="news", defaults={"name": "News"})
    campaign = Campaign.objects.create(
        page=page,
        status=Campaign.Status.SENT,
        from_email="newsletter@example.org",
        subject="News",
    )
    campaign.lists.set([mailing_list])
    deliveries = {}
    for address in addresses:
        subscriber, _ = Subscriber.objects.get_or_create(email=address)
        Subscription.objects.get_or_create(
            subscriber=subscriber,
            mailing_list=mailing_list,
            defaults={"status": Subscription.Status.CONFIRMED},
        )
        deliveries[address] = Delivery.objects.create(
            campaign=campaign,
            subscriber=subscriber,
            mailing_list_id=mailing_list.pk,
            status=Delivery.Status.SENT,
            sent_at=timezone.now(),
        )
    return campaign, deliveries


@pytest.fixture
def sent(db):
    """A campaign sent to READERS: {address: delivery}."""
    return make_campaign(READERS)[1]


def dsn(
    recipient,
    *,
    to=BOUNCES,
    status="5.1.1",
    action="failed",
    diagnostic="smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
    message_id="",
    delivered_to="",
):
    """An RFC 3464 report as Postfix writes it, optionally quoting the original headers."""
    quoted = f"Message-ID: <{message_id}>\r\n" if message_id else ""
    extra = f"Delivered-To: {delivered_to}\r\n" if delivered_to else ""
    report_id = abs(hash((recipient, status, message_id, to)))
    return (
        f"{extra}From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        f"To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <{report_id}@mx.example.net>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: {diagnostic.format(rcpt=recipient)}\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: newsletter@example.org\r\nTo: {recipient}\r\nSubject: News\r\n{quoted}"
        "\r\n--B--\r\n"
    ).encode()


def verp_dsn(delivery, **kwargs):
    address = msg.bounce_address(delivery.pk)
    return dsn(delivery.subscriber.email, to=address, delivered_to=address, **kwargs)


def maildir(tmp_path, *messages):
    box = mailbox.Maildir(tmp_path / "bounces", create=True)
    for raw in messages:
        box.add(raw)
    return box, f"maildir://{tmp_path / 'bounces'}"


def suppressed(address):
    return Suppression.objects.filter(email_hash=email_hash(address)).exists()


# Done when: a hard DSN suppresses, one soft DSN does not, VERP and Message-ID match -------


def test_a_hard_dsn_to_a_verp_address_suppresses_its_reader(sent, tmp_path):
    ada = sent["ada@example.net"]
    box, url = maildir(tmp_path, verp_dsn(ada))
    summary = bounce_mailbox.process(url)
    assert (summary.read, summary.hard, summary.suppressed) == (1, 1, 1)
    bounce = Bounce.objects.get()
    assert (bounce.delivery, bounce.type, bounce.status) == (ada, "hard", "5.1.1")
    assert (bounce.source, bounce.action) == ("bounce mailbox", "suppressed")
    assert "ada@example.net" not in bounce.reason
    assert suppressed("ada@example.net") and not suppressed("ben@example.net")
    assert DeliveryEvent.objects.get(delivery=ada).kind == DeliveryEvent.Kind.BOUNCED
    assert len(box) == 0  # handled and deleted


def test_verp_wins_when_the_report_names_another_address(sent, tmp_path):
    # The reader's address forwarded to one that failed: the VERP token says whose it was.
    ben = sent["ben@example.net"]
    address = msg.bounce_address(ben.pk)
    _box, url = maildir(tmp_path, dsn("old-forward@example.com", to=address))
    bounce_mailbox.process(url)
    assert Bounce.objects.get().delivery == ben
    assert suppressed("ben@example.net")


def test_one_soft_dsn_is_counted_not_suppressed_and_the_threshold_still_holds(tmp_path, settings):
    settings.BOUNCE_SOFT_THRESHOLD = 3
    reports = []
    for _ in range(3):  # three issues, each one softly bounced
        _campaign, deliveries = make_campaign(["ada@example.net"])
        reports.append(
            verp_dsn(
                deliveries["ada@example.net"],
                action="delayed",
                status="4.2.2",
                diagnostic="smtp; 452 4.2.2 Mailbox full",
            )
        )
    _box, url = maildir(tmp_path, reports[0])
    summary = bounce_mailbox.process(url)
    assert (summary.soft, summary.hard, summary.suppressed) == (1, 0, 0)
    assert Bounce.objects.get().action == Bounce.Action.COUNTED
    assert not suppressed("ada@example.net")
    assert not DeliveryEvent.objects.exists()  # a delay is no bounce of the delivery

    _box, url = maildir(tmp_path, *reports[1:])
    summary = bounce_mailbox.process(url)
    assert (summary.soft, summary.suppressed) == (2, 1)
    assert Suppression.objects.get(email_hash=email_hash("ada@example.net")).reason == (
        Suppression.Reason.SOFT_BOUNCES
    )


def test_the_same_threshold_counts_esp_and_mailbox_soft_bounces(sent, tmp_path, settings):
    from mailing import bounces

    settings.BOUNCE_SOFT_THRESHOLD = 2
    bounces.handle(
        bounces.Report(recipient="cleo@example.net", hint="soft", source="Postmark webhook")
    )
    _campaign, later = make_campaign(["cleo@example.net"])
    report = verp_dsn(later["cleo@example.net"], action="delayed", status="4.4.1")
    _box, url = maildir(tmp_path, report)
    assert bounce_mailbox.process(url).suppressed == 1
    assert suppressed("cleo@example.net")


def test_a_dsn_without_verp_is_matched_by_the_original_message_id(sent, tmp_path, settings):
    settings.BOUNCE_ADDRESS = ""  # bounces come back to the From address
    cleo = sent["cleo@example.net"]
    original = msg.message_id(cleo.campaign, cleo.pk)
    report = dsn("someone-else@example.com", to="newsletter@example.org", message_id=original)
    _box, url = maildir(tmp_path, report)
    summary = bounce_mailbox.process(url)
    assert summary.hard == 1
    assert Bounce.objects.get().delivery == cleo
    assert suppressed("cleo@example.net")


def test_a_message_id_with_another_campaign_key_matches_nothing(sent, tmp_path, settings):
    settings.BOUNCE_ADDRESS = ""
    cleo = sent["cleo@example.net"]
    forged = f"c{cleo.campaign_id}.{'0' * 32}.d{cleo.pk}@cms.example.org"
    _box, url = maildir(tmp_path, dsn("nobody@example.com", message_id=forged))
    summary = bounce_mailbox.process(url)
    assert (summary.unmatched, summary.hard) == (1, 0)
    assert not Bounce.objects.exists()


def test_a_forged_verp_token_is_ignored_whatever_else_the_report_says(sent, tmp_path):
    ada = sent["ada@example.net"]
    good = msg.bounce_address(ada.pk)
    local, domain = good.split("@")
    tampered = f"{local[:-1]}{'0' if local[-1] != '0' else '1'}@{domain}"
    other = good.replace(f"+{ada.pk}.", f"+{sent['ben@example.net'].pk}.")
    original = msg.message_id(ada.campaign, ada.pk)
    reports = [
        # The Message-ID and Final-Recipient would match: the forged token vetoes them.
        dsn("ada@example.net", to=tampered, delivered_to=tampered, message_id=original),
        dsn("ben@example.net", to=other, delivered_to=other),
        dsn("ada@example.net", to=f"bounces+999999.{'a' * 16}@mail.example.org"),
        dsn("ada@example.net", to="bounces+x@mail.example.org"),
    ]
    _box, url = maildir(tmp_path, *reports)
    summary = bounce_mailbox.process(url)
    assert (summary.read, summary.unmatched, summary.hard) == (4, 4, 0)
    assert not Bounce.objects.exists() and not Suppression.objects.exists()
    assert set(BounceMessage.objects.values_list("outcome", flat=True)) == {"forged"}


# Real MTAs' reports (flufl.bounce's samples), matched by Final-Recipient ----------------

SAMPLES_HARD = {
    "dsn_01.txt": "userx@example.com",  # RFC 3464
    "postfix_01.txt": "xxxxx@local.ie",
    "qmail_01.txt": "userx@example.de",
    "exim_01.txt": "userx@its.example.nl",
    "microsoft_01.txt": "userx@example.COM",
    "llnl_01.txt": "user1@example.gov",
}


@pytest.mark.parametrize(("sample", "address"), SAMPLES_HARD.items())
def test_real_hard_bounces_suppress_a_recent_recipient(sample, address, tmp_path):
    _campaign, deliveries = make_campaign([address.lower()])
    _box, url = maildir(tmp_path, (SAMPLES / sample).read_bytes())
    summary = bounce_mailbox.process(url)
    assert summary.read == 1
    bounce = Bounce.objects.get()
    assert bounce.delivery == deliveries[address.lower()]
    assert (bounce.type, bounce.action) == ("hard", "suppressed")
    assert suppressed(address)


SAMPLES_SOFT = {
    "dsn_05.txt": "userx@example.cz",  # a delay warning
    "simple_03.txt": "userx@example.za",
    # A permanent failure by the report's word, but for want of a connection (#4.4.1):
    # the code says it was the network, not the address.
    "yahoo_01.txt": "userx@example.com",
}


@pytest.mark.parametrize(("sample", "address"), SAMPLES_SOFT.items())
def test_real_delays_and_network_failures_are_soft(sample, address, tmp_path):
    make_campaign([address])
    _box, url = maildir(tmp_path, (SAMPLES / sample).read_bytes())
    summary = bounce_mailbox.process(url)
    assert (summary.soft, summary.suppressed) == (1, 0)
    assert not suppressed(address)


def test_a_bounce_for_nobody_we_mailed_recently_is_left_alone(tmp_path, settings):
    _campaign, deliveries = make_campaign(["userx@example.com"])
    deliveries["userx@example.com"].__class__.objects.update(
        sent_at=timezone.now() - timezone.timedelta(days=settings.BOUNCE_MATCH_DAYS + 1)
    )
    samples = [(SAMPLES / name).read_bytes() for name in ("dsn_01.txt", "postfix_01.txt")]
    box, url = maildir(tmp_path, *samples, (SAMPLES / "dumbass_01.txt").read_bytes())
    summary = bounce_mailbox.process(url)
    assert (summary.read, summary.unmatched, summary.hard) == (3, 3, 0)
    assert not Bounce.objects.exists() and not Suppression.objects.exists()
    assert len(box) == 0


def test_auto_replies_are_counted_and_left_alone(sent, tmp_path):
    replies = []
    for headers in (
        {"Auto-Submitted": "auto-replied"},
        {"X-Autoreply": "yes"},
        {"Subject": "Out of Office: News"},
        {"Subject": "Automatic reply: News"},
    ):
        reply = EmailMessage()
        reply["From"] = "ada@example.net"
        reply["To"] = msg.bounce_address(sent["ada@example.net"].pk)
        reply["Subject"] = headers.pop("Subject", "Re: News")
        for name, value in headers.items():
            reply[name] = value
        reply.set_content("I am away until Monday; ada@example.net is read then.")
        replies.append(reply.as_bytes())
    box, url = maildir(tmp_path, *replies)
    summary = bounce_mailbox.process(url)
    assert (summary.read, summary.auto_replies, summary.hard, summary.soft) == (4, 4, 0, 0)
    assert not Bounce.objects.exists() and not suppressed("ada@example.net")
    assert len(box) == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage \r\n\r\n\x00",
        b"Subject: =?utf-8?b?////?=\r\nContent-Type: multipart/report; boundary=x\r\n\r\n--x",
        b"Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: \r\nAction: failed\r\n",
        b"X-Long: " + b"a" * 200_000 + b"\r\n\r\nbody",
        "Subject: Undeliverable\r\n\r\nＡda＠example.net: user unknown\r\n".encode(),
        b"Content-Type: text/plain; charset=x-unknown-8\r\nSubject: Delivery failure\r\n\r\n"
        b"Delivery to the following recipients failed.\r\n\r\n   zed@example.net\r\n",
    ],
    ids=["empty", "binary", "broken-mime", "empty-dsn", "huge-header", "lookalike", "charset"],
)
def test_malformed_mail_is_counted_not_fatal(sent, tmp_path, raw):
    box, url = maildir(tmp_path, raw, verp_dsn(sent["ben@example.net"]))
    summary = bounce_mailbox.process(url)
    assert summary.read == 2 and summary.hard == 1
    assert not suppressed("ada@example.net")
    assert len(box) == 0


# Never handled twice ---------------------------------------------------------------------


def test_a_message_is_never_handled_twice(sent, tmp_path):
    report = verp_dsn(sent["ada@example.net"])
    box, url = maildir(tmp_path, report, report)  # delivered twice, or its deletion lost
    summary = bounce_mailbox.process(url)
    assert (summary.read, summary.hard, summary.already_read) == (2, 1, 1)
    box.add(report)
    assert bounce_mailbox.process(url).already_read == 1
    assert bounce_mailbox.process(url).read == 0
    assert Bounce.objects.count() == 1 and DeliveryEvent.objects.count() == 1


def test_an_unhandled_failure_leaves_the_message_for_the_next_run(sent, tmp_path, monkeypatch):
    box, url = maildir(tmp_path, verp_dsn(sent["ada@example.net"]))
    monkeypatch.setattr(bounce_mailbox.bounces, "handle", _boom)
    with pytest.raises(RuntimeError):
        bounce_mailbox.process(url)
    assert len(box) == 1 and not BounceMessage.objects.exists()
    monkeypatch.undo()
    assert bounce_mailbox.process(url).hard == 1
    assert len(box) == 0


def _boom(report):
    raise RuntimeError("database went away")


# Dovecot: IMAP and POP3 -----------------------------------------------------------------


def clear(server):
    conn = server.imap()
    for folder in ("INBOX", "Processed"):
        typ, data = conn.select(folder)
        if typ == "OK" and int(data[0]):
            conn.store("1:*", "+FLAGS", r"(\Deleted)")
            conn.expunge()
    conn.logout()


@pytest.mark.parametrize("scheme", ["imap", "pop3"])
def test_dovecot_mailbox_hard_soft_and_auto_reply(sent, dovecot_server, scheme):
    clear(dovecot_server)
    ada, ben = sent["ada@example.net"], sent["ben@example.net"]
    dovecot_server.append(verp_dsn(ada))
    dovecot_server.append(verp_dsn(ben, action="delayed", status="4.2.2"))
    dovecot_server.append((SAMPLES / "dumbass_01.txt").read_bytes())
    summary = bounce_mailbox.process(dovecot_server.url(scheme, "INBOX"))
    assert (summary.read, summary.hard, summary.soft, summary.unmatched) == (3, 1, 1, 1)
    assert suppressed("ada@example.net") and not suppressed("ben@example.net")
    assert dovecot_server.count() == 0
    assert bounce_mailbox.process(dovecot_server.url(scheme)).read == 0


def test_imap_can_move_what_it_read_instead_of_deleting_it(sent, dovecot_server):
    clear(dovecot_server)
    dovecot_server.append(b"Subject: hello\r\n\r\nplain mail\r\n", "Processed")  # folder made
    dovecot_server.append(verp_dsn(sent["cleo@example.net"]))
    url = dovecot_server.url("imap", "INBOX", "move_to=Processed")
    assert bounce_mailbox.process(url).hard == 1
    assert dovecot_server.count("INBOX") == 0 and dovecot_server.count("Processed") == 2
    assert bounce_mailbox.process(url).read == 0


def test_pop3_deletions_lost_with_the_connection_are_not_handled_again(
    sent, dovecot_server, monkeypatch
):
    clear(dovecot_server)
    dovecot_server.append(verp_dsn(sent["ada@example.net"]))
    # The connection drops before QUIT: POP3 forgets the deletions.
    monkeypatch.setattr(bounce_mailbox.Pop3, "close", lambda self: self.conn.sock.close())
    assert bounce_mailbox.process(dovecot_server.url("pop3")).hard == 1
    assert dovecot_server.count() == 1
    monkeypatch.undo()
    summary = bounce_mailbox.process(dovecot_server.url("pop3"))
    assert (summary.read, summary.already_read, summary.hard) == (1, 1, 0)
    assert dovecot_server.count() == 0
    assert Bounce.objects.count() == 1


def test_wrong_password_or_folder_is_a_clear_error(dovecot_server):
    wrong = dovecot_server.url("imap").replace("s3cret", "wrong")
    for url in (
        wrong,
        wrong.replace("imap://", "pop3://").replace(
            str(dovecot_server.imap_port), str(dovecot_server.pop3_port)
        ),
        dovecot_server.url("imap", "No%20such%20folder"),
    ):
        with pytest.raises(bounce_mailbox.MailboxError):
            bounce_mailbox.process(url)


# The command, the task and its schedule ---------------------------------------------------


def test_process_bounces_prints_what_it_did(sent, tmp_path, settings):
    ada = sent["ada@example.net"]
    _box, url = maildir(
        tmp_path, verp_dsn(ada), verp_dsn(sent["ben@example.net"], status="4.2.2", action="delayed")
    )
    settings.BOUNCE_MAILBOX = url
    out = StringIO()
    call_command("process_bounces", stdout=out)
    assert out.getvalue().strip() == (
        "Bounce mailbox: read 2: 1 hard (1 suppressed), 1 soft, 0 policy, 0 auto-replies, "
        "0 unmatched, 0 already read."
    )
    out = StringIO()
    call_command("process_bounces", "--json", stdout=out)
    assert json.loads(out.getvalue())["read"] == 0


def test_process_bounces_says_what_is_wrong(settings, tmp_path):
    with pytest.raises(CommandError, match="BOUNCE_MAILBOX is not set"):
        call_command("process_bounces")
    for url in (
        "ftp://x",
        "imap:///INBOX",
        "maildir://",
        f"maildir://{tmp_path}/none",
        "imap://u:p@127.0.0.1:99999/",
    ):
        with pytest.raises(CommandError):
            call_command("process_bounces", "--mailbox", url)


def test_the_worker_reads_the_mailbox_on_a_schedule(sent, tmp_path, settings):
    schedule = Schedule.objects.get(name="mailing.process_bounces")
    assert schedule.func == "mailing.tasks.process_bounces" and schedule.minutes == 5
    assert tasks.process_bounces() is None  # unset: nothing to read
    _box, url = maildir(tmp_path, verp_dsn(sent["ada@example.net"]))
    settings.BOUNCE_MAILBOX = url
    assert tasks.process_bounces()["hard"] == 1
    settings.BOUNCE_MAILBOX = "imap://u:p@127.0.0.1:1/"
    assert "error" in tasks.process_bounces()


def test_a_run_stops_at_its_time_budget_and_the_next_goes_on(sent, tmp_path):
    reports = [verp_dsn(sent[address]) for address in READERS]
    box, url = maildir(tmp_path, *reports)
    assert bounce_mailbox.process(url, seconds=1e-9).read == 1  # the first, then time is up
    assert len(box) == 2
    assert bounce_mailbox.process(url).read == 2
    assert all(suppressed(address) for address in READERS)


def test_a_suppressed_reader_is_left_out_of_the_next_issue(sent, tmp_path):
    from mailing import campaigns

    _box, url = maildir(tmp_path, verp_dsn(sent["ada@example.net"]))
    mailing_list = MailingList.objects.get(slug="news")
    before = campaigns.count_recipients([mailing_list])
    bounce_mailbox.process(url)
    assert campaigns.count_recipients([mailing_list]) == before - 1
    assert subscriptions  # the suppression went through the one subscriptions module
