"""Synchronous bounces: the receiving server's 5xx at RCPT or DATA, on a real SMTP
server on loopback (aiosmtpd), through the fast raw-SMTP transport and Django's backend."""

import smtplib

import pytest
from django.test.utils import override_settings

from mailing import campaigns
from mailing.models import Bounce, Campaign, Delivery, DeliveryEvent, Suppression, email_hash
from mailing.sending import message as msg
from mailing.sending import sender
from tests.smtp import SmtpSink, smtp_settings

pytestmark = pytest.mark.django_db

DEAD = "newsletter-reader@example.com"


@pytest.fixture
def sink():
    server = SmtpSink()
    recorder = server.start()
    with override_settings(**smtp_settings(server.port), SENDING_RETRY_SECONDS=0):
        yield recorder
    server.stop()


@pytest.fixture(params=["raw", "django"])
def path(request, seeded):
    """The transport: the prebuilt raw message, or Django's backend (a line too long for
    the raw message sends the campaign through Django's encoder)."""
    return request.param


def send(seeded, path):
    mailing_list = seeded["mailing_list"]
    campaign = campaigns.create(seeded["newsletter"], [mailing_list])
    assert campaigns.schedule(campaign) and campaigns.start(campaign.pk)
    if path == "django":
        long_line = "<p>" + "x" * 1200 + "</p>"
        Campaign.objects.filter(pk=campaign.pk).update(html=campaign.html + long_line)
    assert sender.run_sender(campaign.pk) == "done"
    campaign.refresh_from_db()
    return campaign


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
def test_a_550_at_rcpt_is_a_hard_bounce_that_suppresses(seeded, sink, path, pipelining):
    sink.pipelining = pipelining
    sink.answers = {DEAD: [550]}
    campaign = send(seeded, path)

    delivery = Delivery.objects.get(campaign=campaign, subscriber__email=DEAD)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.error.startswith("550 5.1.1")
    bounce = Bounce.objects.get()
    assert (bounce.type, bounce.status, bounce.action) == ("hard", "5.1.1", "suppressed")
    assert (bounce.delivery, bounce.source) == (delivery, "SMTP answer")
    assert DEAD not in bounce.reason  # the history outlives an erasure
    event = DeliveryEvent.objects.get(delivery=delivery)
    assert event.kind == DeliveryEvent.Kind.BOUNCED and "5.1.1" in event.detail
    suppression = Suppression.objects.get(email_hash=email_hash(DEAD))
    assert suppression.reason == Suppression.Reason.HARD_BOUNCE
    # The others were sent, and the next issue leaves the dead address out.
    assert campaign.counts()["sent"] == campaign.recipients_count - 1
    assert campaigns.count_recipients([seeded["mailing_list"]]) == campaign.recipients_count - 1


def test_a_5xx_after_data_is_a_bounce_too(seeded, sink, path):
    sink.data_answers = {DEAD: 550}
    campaign = send(seeded, path)
    delivery = Delivery.objects.get(campaign=campaign, subscriber__email=DEAD)
    assert delivery.status == Delivery.Status.FAILED
    assert Bounce.objects.get().action == Bounce.Action.SUPPRESSED
    assert Suppression.objects.filter(email_hash=email_hash(DEAD)).exists()
    assert DEAD not in dict(sink.envelopes)


def test_a_policy_refusal_is_recorded_not_suppressed(seeded, sink, path):
    sink.data_answers = {DEAD: 554}  # 5.7.1: the receiver's filter, not a dead address
    campaign = send(seeded, path)
    bounce = Bounce.objects.get()
    assert (bounce.type, bounce.status, bounce.action) == ("policy", "5.7.1", "recorded")
    assert DeliveryEvent.objects.filter(
        delivery__campaign=campaign, kind=DeliveryEvent.Kind.BOUNCED
    ).exists()
    assert not Suppression.objects.exists()
    assert campaigns.count_recipients([seeded["mailing_list"]]) == campaign.recipients_count


def test_a_4xx_stays_a_retry_and_is_no_bounce(seeded, sink, path):
    sink.answers = {DEAD: [452, 250]}
    campaign = send(seeded, path)
    delivery = Delivery.objects.get(campaign=campaign, subscriber__email=DEAD)
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 2)
    assert not Bounce.objects.exists() and not DeliveryEvent.objects.exists()
    assert not Suppression.objects.exists()


def test_soft_refusals_never_reach_the_hard_policy(seeded, sink):
    # A 4xx that never clears fails the delivery after the last attempt: still no bounce
    # (the receiving server never said the address is dead).
    sink.answers = {DEAD: [452]}
    with override_settings(SENDING_MAX_ATTEMPTS=2):
        campaign = send(seeded, "raw")
    delivery = Delivery.objects.get(campaign=campaign, subscriber__email=DEAD)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.error.startswith("gave up after 2 attempts: 452")
    assert not Suppression.objects.exists()


# The envelope sender (VERP) ------------------------------------------------------------


def test_each_message_leaves_from_its_own_signed_bounce_address(seeded, sink, path):
    with override_settings(BOUNCE_ADDRESS="bounces@mail.example.org"):
        campaign = send(seeded, path)
    envelopes = dict(sink.envelopes)
    assert len(envelopes) == campaign.recipients_count
    for rcpt, message in sink.parsed():
        assert message["From"].addresses[0].addr_spec == "newsletter@example.org"
        sender = envelopes[rcpt]
        assert sender.startswith("bounces+") and sender.endswith("@mail.example.org")
        with override_settings(BOUNCE_ADDRESS="bounces@mail.example.org"):
            [token] = msg.bounce_tokens(f"Delivered-To: {sender}")
            # Some mail servers fold the local part to lower or upper case.
            assert msg.delivery_from_bounce_token(token.upper()) == msg.delivery_from_bounce_token(
                token
            )
        delivery = Delivery.objects.get(pk=msg.delivery_from_bounce_token(token))
        assert (delivery.campaign, delivery.subscriber.email.lower()) == (campaign, rcpt)


def test_without_a_bounce_address_the_from_address_is_the_envelope_sender(seeded, sink, path):
    send(seeded, path)
    assert {sender for _rcpt, sender in sink.envelopes} == {"newsletter@example.org"}


@override_settings(BOUNCE_ADDRESS="bounces@mail.example.org")
def test_a_forged_or_tampered_bounce_token_points_nowhere(seeded):
    campaign = campaigns.create(seeded["newsletter"], [seeded["mailing_list"]])
    assert campaigns.schedule(campaign) and campaigns.start(campaign.pk)
    first, second = Delivery.objects.filter(campaign=campaign).order_by("pk")[:2]
    token = msg.bounce_tokens(msg.bounce_address(first.pk))[0]
    assert msg.delivery_from_bounce_token(token) == first.pk
    number, mac = token.split(".")
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    for forged in [
        f"{number}.{flipped}",  # one character of the signature changed
        f"{second.pk}.{mac}",  # another delivery with this one's signature
        f"{number}.{mac[:-1]}",  # cut short
        f"{number}.{mac}0",
        f"{number}",
        f"-{number}.{mac}",
        f"{number}.{mac}\r\nBcc: x@example.org",
        f"９.{mac}",  # a full-width digit
        "",
    ]:
        assert msg.delivery_from_bounce_token(forged) is None, forged
    with override_settings(SECRET_KEY="another-key-" * 4):
        assert msg.delivery_from_bounce_token(token) is None
    # Another address that happens to use "+" is no token of ours.
    assert msg.bounce_tokens("To: bounces+x@other.example.org, news+1@mail.example.org") == []


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelining"])
def test_each_connection_of_a_batch_answers_for_its_own_message(seeded, sink, pipelining):
    """Four connections, four messages at once: a refusal at RCPT, one after DATA, a
    4xx and a server that hangs up (421) each stay with their own recipient; the other
    messages of the batch go through, and nobody gets two."""
    sink.pipelining = pipelining
    readers = list(
        seeded["mailing_list"]
        .subscriptions.filter(status="confirmed")
        .order_by("subscriber_id")
        .values_list("subscriber__email", flat=True)
    )
    dead, refused, busy, hangs_up = readers[:4]
    sink.answers = {dead: [550], busy: [452, 250], hangs_up: [421, 250]}
    sink.data_answers = {refused: 550}
    with override_settings(SENDING_SMTP_CONNECTIONS=4):
        campaign = send(seeded, "raw")  # the retries are due at once: one run sends all

    status = dict(
        Delivery.objects.filter(campaign=campaign).values_list("subscriber__email", "status")
    )
    assert status.pop(dead) == status.pop(refused) == Delivery.Status.FAILED
    assert set(status.values()) == {Delivery.Status.SENT}
    attempts = dict(
        Delivery.objects.filter(campaign=campaign).values_list("subscriber__email", "attempts")
    )
    assert attempts[busy] == attempts[hangs_up] == 2
    assert set(Bounce.objects.values_list("delivery__subscriber__email", flat=True)) == {
        dead,
        refused,
    }
    assert set(sink.counts) == set(status) and set(sink.counts.values()) == {1}
    assert len(sink.peers) >= 4


def test_a_relay_that_takes_fewer_connections_keeps_the_ones_it_took(seeded, sink, monkeypatch):
    """SENDING_SMTP_CONNECTIONS=4 against a relay that takes two: the other two answer
    the greeting with Postfix's "421 too many connections"; the batches shrink to two
    and everyone is mailed once (the two refused recipients after their retry)."""
    from mailing.sending.transports import smtp

    real_open, opened = smtp.Session.open, []

    def open_at_most_two(session):
        if len([s for s in opened if s.smtp]) >= 2:
            raise smtplib.SMTPConnectError(421, b"4.7.0 Error: too many connections")
        real_open(session)
        opened.append(session)

    monkeypatch.setattr(smtp.Session, "open", open_at_most_two)
    with override_settings(SENDING_SMTP_CONNECTIONS=4):
        campaign = send(seeded, "raw")
    assert campaign.counts()["sent"] == campaign.recipients_count
    assert set(sink.counts.values()) == {1} and len(sink.counts) == campaign.recipients_count
    assert len(sink.peers) == 2
