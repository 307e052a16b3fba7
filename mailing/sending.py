"""The sending pipeline: who gets a campaign, the ledger, leasing, building and sending mail.

Plain functions over the models; ``mailing.tasks`` calls them from django-q2 workers.

Crash-safety rests on the ledger (``Delivery``): recipients are leased a chunk at a
time with an expiry, and each recipient's result is written right after the mail
server answered for it, so a killed worker can only repeat the one message whose
SMTP transaction was cut; its other leased rows go back to the queue when the lease
expires.

Speed rests on building the MIME message once per campaign: the serialised bytes
keep placeholders (``%%…%%``) for the per-recipient values, which are substituted in
the bytes and sent with ``smtplib`` over one reused connection. Other Django/anymail
backends get one ``EmailMultiAlternatives`` per recipient, with anymail metadata.
"""

from __future__ import annotations

import html as html_lib
import logging
import os
import re
import smtplib
import socket
import ssl
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils import timezone

from mailing import tokens
from mailing.models import (
    Campaign,
    Delivery,
    MailingList,
    Subscriber,
    Subscription,
)
from newsletters.rendering import PLACEHOLDERS, personalise, render_email

logger = logging.getLogger(__name__)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# SMTP allows 998 octets a line; keep room for the per-recipient values substituted later.
MAX_LINE = 760


def setting(name, default):
    return getattr(settings, name, default)


# --- who gets it -------------------------------------------------------------------------


def recipients(lists):
    """(subscriber_id, list_id) of confirmed, active, unsuppressed subscribers, one per address.

    Addresses are unique per subscriber (case-insensitively), so grouping by subscriber
    deduplicates across lists; the lowest list id is the one the recipient is mailed through.
    """
    return (
        Subscription.objects.filter(
            mailing_list__in=lists,
            status=Subscription.Status.CONFIRMED,
            subscriber__status=Subscriber.Status.ACTIVE,
            subscriber__in=Subscriber.objects.not_suppressed(),
        )
        .values("subscriber_id")
        .annotate(list_id=Min("mailing_list_id"))
        .order_by()
    )


def count_recipients(lists) -> int:
    return recipients(lists).count()


# --- campaign lifecycle ------------------------------------------------------------------


def create_campaign(page, lists, *, send_at=None, user=None, rate_limit=None) -> Campaign:
    """A scheduled campaign (now by default); the dispatcher starts it when it is due."""
    lists = list(lists)
    first = lists[0] if lists else None
    campaign = Campaign.objects.create(
        page=page,
        status=Campaign.Status.DRAFT,
        send_at=send_at or timezone.now(),
        from_name=(first.from_name if first else "") or settings.NEWSLETTER_SENDER_NAME,
        from_email=(first.from_email if first else "") or parseaddr(settings.DEFAULT_FROM_EMAIL)[1],
        reply_to=(first.reply_to if first else ""),
        rate_limit=rate_limit or setting("SENDING_RATE_LIMIT", 0) or None,
        created_by=user,
    )
    campaign.lists.set(lists)
    schedule(campaign)
    return campaign


def schedule(campaign: Campaign) -> bool:
    from mailing import tasks

    if not campaign.transition(Campaign.Status.SCHEDULED):
        return False
    tasks.enqueue_dispatch()
    return True


def pinned_revision(page):
    """What goes out: the published revision, or the latest one for a never-published page."""
    return page.live_revision or page.latest_revision


def start_campaign(campaign_id: int) -> bool:
    """Scheduled → sending: pin the revision, render once, materialise the ledger."""
    with transaction.atomic():
        campaign = Campaign.objects.select_related("page").get(pk=campaign_id)
        revision = pinned_revision(campaign.page)
        if not campaign.transition(
            Campaign.Status.SENDING,
            expect=[Campaign.Status.SCHEDULED],
            started_at=timezone.now(),
            revision=revision,
        ):
            return False
        page = revision.as_object() if revision else campaign.page
        rendered = render_email(page)
        campaign.subject = rendered.subject
        campaign.preheader = rendered.preheader
        campaign.html = rendered.html
        campaign.text = rendered.text
        campaign.recipients_count = materialise(campaign)
        campaign.save(update_fields=["subject", "preheader", "html", "text", "recipients_count"])
    logger.info("campaign %s started: %s recipients", campaign.pk, campaign.recipients_count)
    return True


def materialise(campaign: Campaign) -> int:
    """One ledger row per recipient, inserted in SQL (INSERT … SELECT): memory stays flat."""
    select_sql, params = recipients(campaign.lists.all()).query.sql_with_params()
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        # The outer SELECT … WHERE 1=1 keeps SQLite's parser from reading ON CONFLICT as a join.
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, subscriber_id, mailing_list_id, status,"  # noqa: S608
            " lease_owner, attempts, provider_message_id, error)"
            f" SELECT %s, r.subscriber_id, r.list_id, %s, '', 0, '', '' FROM ({select_sql}) r"
            " WHERE 1=1 ON CONFLICT DO NOTHING",
            [campaign.pk, Delivery.Status.PENDING, *params],
        )
    return Delivery.objects.filter(campaign=campaign).count()


def pause(campaign: Campaign) -> bool:
    return campaign.transition(Campaign.Status.PAUSED)


def resume(campaign: Campaign) -> bool:
    from mailing import tasks

    if campaign.transition(Campaign.Status.SENDING, expect=[Campaign.Status.PAUSED]):
        tasks.enqueue_senders(campaign.pk)
        return True
    return False


def cancel(campaign: Campaign) -> bool:
    return campaign.transition(Campaign.Status.CANCELLED, finished_at=timezone.now())


def finish_if_done(campaign: Campaign) -> bool:
    """Sending → sent once no row is pending or leased (none can appear after that)."""
    busy = campaign.deliveries.filter(
        status__in=[Delivery.Status.PENDING, Delivery.Status.LEASED]
    ).exists()
    if busy:
        return False
    if not campaign.transition(
        Campaign.Status.SENT, expect=[Campaign.Status.SENDING], finished_at=timezone.now()
    ):
        return False
    _mark_issue_sent(campaign)
    logger.info("campaign %s sent", campaign.pk)
    return True


def _mark_issue_sent(campaign: Campaign):
    from newsletters.models import NewsletterPage

    # The first finished campaign of an issue dates it; the next-issue draft starts there.
    NewsletterPage.objects.filter(pk=campaign.page_id, sent_at__isnull=True).update(
        sent_at=campaign.finished_at
    )


def due_campaign_ids():
    return list(
        Campaign.objects.filter(
            status=Campaign.Status.SCHEDULED, send_at__lte=timezone.now()
        ).values_list("pk", flat=True)
    )


# --- the ledger --------------------------------------------------------------------------


def requeue_expired(campaign_id: int | None = None) -> int:
    """Leases of dead workers go back to the queue."""
    qs = Delivery.objects.filter(status=Delivery.Status.LEASED, lease_expires_at__lt=timezone.now())
    if campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    return qs.update(status=Delivery.Status.PENDING, lease_owner="", lease_expires_at=None)


@dataclass
class Recipient:
    delivery_id: int
    subscriber_id: int | None
    email: str
    name: str
    list_id: int | None
    attempts: int


def lease(campaign_id: int, owner: str, size: int) -> list[Recipient]:
    """Take up to ``size`` due pending rows for ``owner``, atomically.

    PostgreSQL skips rows another worker is locking; SQLite serialises writers
    (BEGIN IMMEDIATE), and the conditional UPDATE guards both.
    """
    now = timezone.now()
    expires = now + timedelta(seconds=setting("SENDING_LEASE_SECONDS", 300))
    with transaction.atomic():
        qs = (
            Delivery.objects.filter(campaign_id=campaign_id, status=Delivery.Status.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("id")
        )
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs.values_list("id", flat=True)[:size])
        if not ids:
            return []
        Delivery.objects.filter(id__in=ids, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.LEASED, lease_owner=owner, lease_expires_at=expires
        )
    rows = Delivery.objects.filter(
        lease_owner=owner, status=Delivery.Status.LEASED, campaign_id=campaign_id
    ).values_list(
        "id",
        "subscriber_id",
        "subscriber__email",
        "subscriber__name",
        "mailing_list_id",
        "attempts",
    )
    return [Recipient(*row) for row in rows.order_by("id")]


def release(owner: str) -> int:
    """Give back what this worker leased but did not send (pause, shutdown)."""
    return Delivery.objects.filter(owner_q(owner)).update(
        status=Delivery.Status.PENDING, lease_owner="", lease_expires_at=None
    )


def owner_q(owner):
    return Q(lease_owner=owner, status=Delivery.Status.LEASED)


class Ledger:
    """Writes one recipient's result right after its send, as one cheap statement."""

    def __init__(self, owner: str):
        self.owner = owner
        self.table = Delivery._meta.db_table
        self.max_attempts = setting("SENDING_MAX_ATTEMPTS", 5)
        self.retry_seconds = setting("SENDING_RETRY_SECONDS", 60)

    def _now(self):
        return connection.ops.adapt_datetimefield_value(timezone.now())

    def sent(self, recipient: Recipient, message_id: str = ""):
        self._execute(
            "status=%s, sent_at=%s, attempts=attempts+1, provider_message_id=%s, error='',"
            " lease_owner='', lease_expires_at=NULL",
            [Delivery.Status.SENT, self._now(), message_id[:255]],
            recipient,
        )

    def failed(self, recipient: Recipient, reason: str):
        self._execute(
            "status=%s, attempts=attempts+1, error=%s, lease_owner='', lease_expires_at=NULL",
            [Delivery.Status.FAILED, reason[:2000]],
            recipient,
        )

    def retry(self, recipient: Recipient, reason: str):
        attempts = recipient.attempts + 1
        if attempts >= self.max_attempts:
            return self.failed(recipient, f"gave up after {attempts} attempts: {reason}")
        delay = self.retry_seconds * 2 ** (attempts - 1)
        when = connection.ops.adapt_datetimefield_value(timezone.now() + timedelta(seconds=delay))
        self._execute(
            "status=%s, attempts=attempts+1, error=%s, next_attempt_at=%s, lease_owner='',"
            " lease_expires_at=NULL",
            [Delivery.Status.PENDING, reason[:2000], when],
            recipient,
        )

    def _execute(self, assignments, params, recipient):
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {self.table} SET {assignments} WHERE id=%s AND lease_owner=%s",  # noqa: S608
                [*params, recipient.delivery_id, self.owner],
            )


# --- building the message ----------------------------------------------------------------


def site_domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def web_url(campaign: Campaign) -> str:
    return f"{settings.SITE_URL}/newsletters/{campaign.pk}/"


def message_id(campaign: Campaign, delivery_id: int | str) -> str:
    return f"c{campaign.pk}.{campaign.key}.d{delivery_id}@{site_domain()}"


MESSAGE_ID_RE = re.compile(r"<?c(\d+)\.([0-9a-f]+)\.d(\d+)@")


def delivery_from_message_id(value: str) -> int | None:
    """The delivery id a Message-ID we built points to, if the campaign key matches."""
    match = MESSAGE_ID_RE.search(value or "")
    if not match:
        return None
    ok = Delivery.objects.filter(
        pk=match.group(3), campaign_id=match.group(1), campaign__key=match.group(2)
    ).exists()
    return int(match.group(3)) if ok else None


def from_header(campaign: Campaign) -> str:
    return formataddr((campaign.from_name, campaign.from_email), charset="utf-8")


def list_id_header(campaign: Campaign) -> str:
    first = campaign.lists.order_by("pk").first()
    slug = first.slug if first else "newsletter"
    name = (first.name if first else campaign.from_name).replace('"', "")
    return f'"{name}" <{slug}.{site_domain()}>'


def wrap_lines(text: str, limit: int = MAX_LINE) -> str:
    """Lines short enough for 8bit transfer: break long ones at a space (or after a tag)."""
    out = []
    for line in text.splitlines():
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            if cut > 0:
                out.append(line[:cut])
                line = line[cut + 1 :]
                continue
            cut = line.rfind(">", 0, limit)
            if cut <= 0:
                break  # nothing safe to break at; the caller checks the result
            out.append(line[: cut + 1])
            line = line[cut + 1 :]
        out.append(line)
    return "\n".join(out)


# Tokens of the serialised template; the body placeholders come from newsletters.rendering.
H_TO, H_DATE, H_MSGID, H_UNSUB = "%%H_TO%%", "%%H_DATE%%", "%%H_MSGID%%", "%%H_UNSUB%%"
HTML_NAME, HTML_EMAIL = "%%HTML_NAME%%", "%%HTML_EMAIL%%"
TOKEN_RE = re.compile(rb"(%%[A-Z_]+%%)")
P_NAME, P_EMAIL, P_UNSUBSCRIBE, P_PREFERENCES = (
    PLACEHOLDERS[key].encode() for key in ("name", "email", "unsubscribe_url", "preferences_url")
)
B_TO, B_DATE, B_MSGID, B_UNSUB, B_HTML_NAME, B_HTML_EMAIL = (
    token.encode() for token in (H_TO, H_DATE, H_MSGID, H_UNSUB, HTML_NAME, HTML_EMAIL)
)


@dataclass
class MessageTemplate:
    """A campaign's message serialised once, with per-recipient tokens left in the bytes."""

    campaign: Campaign
    literals: list = field(default_factory=list)
    keys: list = field(default_factory=list)
    eight_bit: bool = False
    sender: str = ""
    _constant: dict | None = None

    @classmethod
    def build(cls, campaign: Campaign) -> MessageTemplate:
        boundary = f"=_{campaign.key}{uuid.uuid4().hex[:12]}"
        subject = campaign.subject
        if not subject.isascii():
            subject = Header(subject, "utf-8", maxlinelen=76).encode()
        headers = [
            ("From", from_header(campaign)),
            ("To", H_TO),
            ("Subject", subject),
            ("Date", H_DATE),
            ("Message-ID", f"<{H_MSGID}>"),
            ("List-Unsubscribe", f"<{H_UNSUB}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("List-Id", list_id_header(campaign)),
        ]
        if campaign.reply_to:
            headers.append(("Reply-To", campaign.reply_to))
        headers += [
            ("Feedback-ID", f"c{campaign.pk}:newsletter:{site_domain()}"),
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ]
        html = campaign.html.replace(PLACEHOLDERS["name"], HTML_NAME).replace(
            PLACEHOLDERS["email"], HTML_EMAIL
        )
        text, html = wrap_lines(campaign.text), wrap_lines(html)
        eight_bit = not (text.isascii() and html.isascii())
        cte = "8bit" if eight_bit else "7bit"
        lines = [f"{name}: {value}" for name, value in headers]
        lines += ["", f"--{boundary}"]
        lines += ['Content-Type: text/plain; charset="utf-8"', f"Content-Transfer-Encoding: {cte}"]
        lines += ["", text, f"--{boundary}"]
        lines += ['Content-Type: text/html; charset="utf-8"', f"Content-Transfer-Encoding: {cte}"]
        lines += ["", html, f"--{boundary}--", ""]
        source = "\r\n".join("\r\n".join(line.splitlines()) or line for line in lines)
        data = source.encode("utf-8")
        if any(len(line) > 990 for line in data.split(b"\r\n")):
            raise ValueError("a line of the message is too long to send without encoding")
        # Dot-stuffing done once here, not per message.
        data = data.replace(b"\r\n.", b"\r\n..")
        parts = TOKEN_RE.split(data)
        return cls(
            campaign=campaign,
            literals=parts[0::2],
            keys=parts[1::2],
            eight_bit=eight_bit,
            sender=campaign.from_email,
        )

    def values(self, recipient: Recipient, date: bytes) -> dict:
        if self._constant is None:
            campaign = self.campaign
            self._constant = {
                PLACEHOLDERS["web_url"].encode(): web_url(campaign).encode(),
                "msgid": message_id(campaign, "{}"),
            }
        unsubscribe = tokens.unsubscribe_url(recipient.subscriber_id, recipient.list_id).encode()
        name = " ".join((recipient.name or "").split())
        email = recipient.email
        values = dict(self._constant)
        values.update(
            {
                P_NAME: name.encode(),
                P_EMAIL: email.encode(),
                P_UNSUBSCRIBE: unsubscribe,
                P_PREFERENCES: tokens.preferences_url(recipient.subscriber_id).encode(),
                B_HTML_NAME: html_lib.escape(name).encode(),
                B_HTML_EMAIL: html_lib.escape(email).encode(),
                B_TO: (formataddr((name, email), charset="utf-8") if name else email).encode(),
                B_DATE: date,
                B_MSGID: values.pop("msgid").format(recipient.delivery_id).encode(),
                B_UNSUB: unsubscribe,
            }
        )
        return values

    def render(self, values: dict) -> bytes:
        out = [self.literals[0]]
        for key, literal in zip(self.keys, self.literals[1:], strict=True):
            out.append(values.get(key, key))
            out.append(literal)
        return b"".join(out)


def personal_message(campaign: Campaign, recipient: Recipient) -> EmailMultiAlternatives:
    """The same message for a Django/anymail backend, one object per recipient."""
    unsubscribe = tokens.unsubscribe_url(recipient.subscriber_id, recipient.list_id)
    values = {
        "name": recipient.name,
        "email": recipient.email,
        "unsubscribe_url": unsubscribe,
        "preferences_url": tokens.preferences_url(recipient.subscriber_id),
        "web_url": web_url(campaign),
    }
    message = EmailMultiAlternatives(
        subject=campaign.subject,
        body=personalise(campaign.text, values),
        from_email=from_header(campaign),
        to=[formataddr((recipient.name, recipient.email))],
        reply_to=[campaign.reply_to] if campaign.reply_to else None,
        headers={
            "Message-ID": f"<{message_id(campaign, recipient.delivery_id)}>",
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": list_id_header(campaign),
        },
    )
    message.attach_alternative(personalise(campaign.html, values, html=True), "text/html")
    # anymail: webhooks carry these back (mailing.tracking maps them to the delivery).
    message.metadata = {"campaign": str(campaign.pk), "delivery": str(recipient.delivery_id)}
    message.tags = ["newsletter", f"campaign-{campaign.pk}"]
    return message


# --- transports --------------------------------------------------------------------------


class Transient(Exception):
    """Try again later (SMTP 4xx, ESP 429/5xx, lost connection)."""


class Permanent(Exception):
    """Do not try again for this recipient (SMTP 5xx, ESP refusal)."""


def _smtp_error(code: int, text) -> Exception:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    reason = f"{code} {text}".strip()
    return Transient(reason) if 400 <= code < 500 else Permanent(reason)


def _bare(address: str) -> str:
    """An address for the SMTP envelope (stored addresses are validated; never let CR/LF in)."""
    return address.replace("\r", "").replace("\n", "").strip("<> ")


class SmtpTransport:
    """Raw bytes over one reused smtplib connection, per EMAIL_* settings."""

    def __init__(self):
        self.smtp = None
        self.options = []

    def open(self):
        host, port = settings.EMAIL_HOST, settings.EMAIL_PORT
        timeout = getattr(settings, "EMAIL_TIMEOUT", None) or 30
        if getattr(settings, "EMAIL_USE_SSL", False):
            smtp = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        smtp.ehlo()
        if getattr(settings, "EMAIL_USE_TLS", False):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.EMAIL_HOST_USER:
            smtp.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
        self.smtp = smtp
        self.has_8bit = smtp.has_extn("8bitmime")
        self.pipelining = smtp.has_extn("pipelining")

    def close(self):
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
        self.smtp = None

    def send(self, sender: str, to: str, data: bytes, eight_bit: bool) -> str:
        if self.smtp is None:
            try:
                self.open()
            except (smtplib.SMTPException, OSError) as exc:
                raise Transient(f"connection: {exc}") from exc
        smtp = self.smtp
        try:
            options = " BODY=8BITMIME" if eight_bit and self.has_8bit else ""
            if self.pipelining:
                # RFC 2920: MAIL, RCPT and DATA in one write, then their three answers.
                smtp.send(
                    f"MAIL FROM:<{sender}>{options}\r\nRCPT TO:<{_bare(to)}>\r\nDATA\r\n".encode()
                )
                replies = [smtp.getreply() for _ in range(3)]
                (mail_code, mail_text), (rcpt_code, rcpt_text), (code, text) = replies
                if code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
                    smtp.send(b".\r\n")  # a server that opened DATA anyway: close it empty
                    smtp.getreply()
                if mail_code != 250:
                    raise self._refused(mail_code, mail_text)
                if rcpt_code not in (250, 251):
                    raise self._refused(rcpt_code, rcpt_text)
            else:
                code, text = smtp.mail(sender, options.split())
                if code != 250:
                    raise self._refused(code, text)
                code, text = smtp.rcpt(to)
                if code not in (250, 251):
                    raise self._refused(code, text)
                # smtplib.data() would re-scan 60 KB per message for dots; the template
                # is already dot-stuffed, so speak DATA directly.
                smtp.putcmd("data")
                code, text = smtp.getreply()
            if code != 354:
                raise self._refused(code, text)
            # One write: a separate ".\r\n" would meet Nagle + delayed ACK (40 ms).
            smtp.send(data + b".\r\n" if data.endswith(b"\r\n") else data + b"\r\n.\r\n")
            code, text = smtp.getreply()
            if code != 250:
                raise self._refused(code, text)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.smtp = None
            raise Transient(f"connection lost: {exc}") from exc
        return ""

    def _refused(self, code, text):
        error = _smtp_error(code, text)
        try:
            if code == 421:
                raise smtplib.SMTPServerDisconnected
            self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()
        return error


class BackendTransport:
    """Any Django/anymail backend, one EmailMultiAlternatives per recipient."""

    def __init__(self):
        self.connection = None

    def open(self):
        self.connection = get_connection()
        self.connection.open()

    def close(self):
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # noqa: BLE001 - closing must never lose the results
                logger.exception("closing the mail connection")
        self.connection = None

    def send_message(self, message) -> str:
        if self.connection is None:
            self.open()
        message.connection = self.connection
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _smtp_error(code, text) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise _smtp_error(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            raise Transient(f"connection lost: {exc}") from exc
        except Exception as exc:
            from anymail.exceptions import AnymailUnsupportedFeature

            if isinstance(exc, AnymailUnsupportedFeature):
                raise
            raise _anymail_error(exc) from exc
        status = getattr(message, "anymail_status", None)
        if status is not None and status.status and status.status <= {"rejected", "invalid"}:
            raise Permanent(f"refused by the provider: {', '.join(sorted(status.status))}")
        return (status.message_id if status is not None else "") or ""


# Inline merge-field syntax of ESPs whose batch sends fill per-recipient values into the
# message (anymail ``merge_data``); None: the field is named by our placeholder itself.
# ESPs missing here (postmark, amazon_ses: templates only) get one message per recipient.
MERGE_FORMATS = {
    "mailgun": "%recipient.{}%",
    "mailjet": "[[var:{}]]",
    "sparkpost": "{{{{{}}}}}",
    "brevo": "{{{{ params.{} }}}}",
    "mandrill": "*|{}|*",
    "sendgrid": None,
    "test": None,
}
MISSING = object()


def esp_merge_format(backend: str | None = None):
    """The merge-field format of the configured anymail ESP, or MISSING when it has none."""
    backend = backend or settings.EMAIL_BACKEND
    if not backend.startswith("anymail.backends."):
        return MISSING
    return MERGE_FORMATS.get(backend.split(".")[2], MISSING)


class BatchTransport(BackendTransport):
    """One ESP API call for many recipients: anymail merge_data, merge_headers, merge_metadata."""

    FIELDS = {
        "name": PLACEHOLDERS["name"],
        "email": PLACEHOLDERS["email"],
        "unsubscribe_url": PLACEHOLDERS["unsubscribe_url"],
        "preferences_url": PLACEHOLDERS["preferences_url"],
        "web_url": PLACEHOLDERS["web_url"],
        "name_html": HTML_NAME,
        "email_html": HTML_EMAIL,
    }

    def __init__(self, campaign: Campaign, field_format):
        super().__init__()
        self.campaign = campaign
        self.format = field_format
        html = campaign.html.replace(PLACEHOLDERS["name"], HTML_NAME).replace(
            PLACEHOLDERS["email"], HTML_EMAIL
        )
        self.text, self.html = campaign.text, html
        for key, placeholder in self.FIELDS.items():
            self.text = self.text.replace(placeholder, self.field(key))
            self.html = self.html.replace(placeholder, self.field(key))

    def field(self, key):
        return self.format.format(key) if self.format else self.FIELDS[key]

    def key(self, key):
        return key if self.format else self.FIELDS[key]

    def send_batch(self, recipients: list[Recipient]) -> dict:
        """{email: (message_id, refused?)}; raises Transient/Permanent for the whole call."""
        campaign = self.campaign
        message = EmailMultiAlternatives(
            subject=campaign.subject,
            body=self.text,
            from_email=from_header(campaign),
            to=[r.email for r in recipients],
            reply_to=[campaign.reply_to] if campaign.reply_to else None,
            headers={
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "List-Id": list_id_header(campaign),
            },
        )
        message.attach_alternative(self.html, "text/html")
        data, headers, metadata = {}, {}, {}
        for r in recipients:
            unsubscribe = tokens.unsubscribe_url(r.subscriber_id, r.list_id)
            values = {
                "name": r.name or "",
                "email": r.email,
                "unsubscribe_url": unsubscribe,
                "preferences_url": tokens.preferences_url(r.subscriber_id),
                "name_html": html_lib.escape(r.name or ""),
                "email_html": html_lib.escape(r.email),
            }
            data[r.email] = {self.key(k): v for k, v in values.items()}
            headers[r.email] = {"List-Unsubscribe": f"<{unsubscribe}>"}
            metadata[r.email] = {"delivery": str(r.delivery_id)}
        message.merge_data = data
        message.merge_global_data = {self.key("web_url"): web_url(campaign)}
        message.merge_headers = headers
        message.merge_metadata = metadata
        message.metadata = {"campaign": str(campaign.pk)}
        message.tags = ["newsletter", f"campaign-{campaign.pk}"]
        self.send_message(message)
        statuses = message.anymail_status.recipients
        return {
            r.email: (
                str(getattr(statuses.get(r.email), "message_id", "") or ""),
                getattr(statuses.get(r.email), "status", "") in {"rejected", "invalid"},
            )
            for r in recipients
        }


def _anymail_error(exc: Exception) -> Exception:
    from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

    if isinstance(exc, AnymailRecipientsRefused):
        return Permanent(str(exc)[:500])
    if isinstance(exc, AnymailAPIError):
        code = getattr(exc, "status_code", None)
        if code is None or code == 429 or code >= 500:
            return Transient(str(exc)[:500])
        return Permanent(str(exc)[:500])
    return Transient(f"{type(exc).__name__}: {exc}"[:500])


def uses_raw_smtp() -> bool:
    return settings.EMAIL_BACKEND == SMTP_BACKEND


# --- sending a campaign ------------------------------------------------------------------


def worker_id() -> str:
    return f"{socket.gethostname()[:16]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Sender:
    """Leases chunks of one campaign and sends them until done, stopped or out of time."""

    def __init__(self, campaign_id: int, *, time_budget: float | None = None):
        self.campaign = Campaign.objects.select_related("page").get(pk=campaign_id)
        self.owner = worker_id()
        self.ledger = Ledger(self.owner)
        self.chunk_size = setting("SENDING_CHUNK_SIZE", 500)
        self.time_budget = time_budget or setting("SENDING_TASK_SECONDS", 120)
        self.raw = uses_raw_smtp()
        self.template = None
        if self.raw:
            try:
                self.template = MessageTemplate.build(self.campaign)
            except ValueError:
                # A line too long for 8bit with nowhere safe to break it: let Django's
                # email package encode each message instead (slower, still correct).
                logger.warning("campaign %s: sending without the prebuilt message", campaign_id)
                self.raw = False
        merge_format = MISSING if self.raw else esp_merge_format()
        self.batch_size = setting("SENDING_ESP_BATCH_SIZE", 500)
        if self.raw:
            self.transport = SmtpTransport()
        elif merge_format is not MISSING and self.batch_size > 1:
            self.transport = BatchTransport(self.campaign, merge_format)
        else:
            self.transport = BackendTransport()
        self.rate = self.campaign.rate_limit or 0
        self.sent_here = 0

    def run(self) -> str:
        """'done', 'stopped' (paused/cancelled), 'idle' (only later retries are left) or
        'more' (time is up; enqueue again)."""
        started = time.monotonic()
        self.started = started
        try:
            while time.monotonic() - started < self.time_budget:
                if not self.still_sending():
                    return "stopped"
                requeue_expired(self.campaign.pk)
                batch = lease(self.campaign.pk, self.owner, self.chunk_size)
                if batch:
                    if not self.send_batch(batch):
                        return "stopped"
                    continue
                if finish_if_done(self.campaign):
                    return "done"
                if not self.still_sending():
                    return "stopped"
                # Rows wait for a retry time or for another worker's lease. A short wait is
                # slept here; a long one frees the worker (the dispatcher's every-minute
                # tick enqueues senders again).
                wait = self.wait_seconds()
                if wait is None:
                    return "idle"
                time.sleep(max(0.05, min(wait, self.time_budget - (time.monotonic() - started))))
            return "more"
        finally:
            release(self.owner)
            self.transport.close()

    def still_sending(self) -> bool:
        status = Campaign.objects.filter(pk=self.campaign.pk).values_list("status", flat=True)
        return status.first() == Campaign.Status.SENDING

    def wait_seconds(self) -> float | None:
        """Seconds until a row may be due again (at most 2), or None when that is far off."""
        now = timezone.now()
        nexts = Delivery.objects.filter(campaign=self.campaign).aggregate(
            retry=Min(
                "next_attempt_at",
                filter=Q(status=Delivery.Status.PENDING, next_attempt_at__gt=now),
            ),
            lease=Min("lease_expires_at", filter=Q(status=Delivery.Status.LEASED)),
        )
        moments = [m for m in nexts.values() if m is not None]
        wait = min(((m - now).total_seconds() for m in moments), default=1.0)
        if wait > setting("SENDING_MAX_WAIT_SECONDS", 15):
            return None
        return min(wait + 0.05, 2.0)

    def send_batch(self, batch: list[Recipient]) -> bool:
        """Send a leased chunk; False when the campaign stopped meanwhile."""
        if isinstance(self.transport, BatchTransport):
            return self.send_esp_batches(batch)
        date = format_datetime(timezone.now()).encode()
        last_check = time.monotonic()
        for recipient in batch:
            now = time.monotonic()
            if now - last_check > 1.0:
                last_check = now
                if not self.still_sending():
                    return False
                date = format_datetime(timezone.now()).encode()
            if self.rate:
                self.pace()
            self.send_one(recipient, date)
        return True

    def send_esp_batches(self, batch: list[Recipient]) -> bool:
        from anymail.exceptions import AnymailUnsupportedFeature

        for start in range(0, len(batch), self.batch_size):
            if start and not self.still_sending():
                return False
            group = [r for r in batch[start : start + self.batch_size] if r.email]
            for r in batch[start : start + self.batch_size]:
                if not r.email:
                    self.ledger.failed(r, "subscriber erased")
            if self.rate:
                self.sent_here += len(group)
                self.pace()
            try:
                results = self.transport.send_batch(group)
            except AnymailUnsupportedFeature:
                # This ESP cannot batch what we need: one message per recipient from now on.
                logger.warning("ESP batch sending unsupported; sending one by one")
                self.transport = BackendTransport()
                date = format_datetime(timezone.now()).encode()
                for recipient in group:
                    self.send_one(recipient, date)
                continue
            except (Transient, Permanent) as exc:
                for recipient in group:
                    if isinstance(exc, Transient):
                        self.ledger.retry(recipient, str(exc))
                    else:
                        self.ledger.failed(recipient, str(exc))
                continue
            for recipient in group:
                message_id, refused = results[recipient.email]
                if refused:
                    self.ledger.failed(recipient, "refused by the provider")
                else:
                    self.ledger.sent(recipient, message_id)
        return True

    def pace(self):
        due = self.started + self.sent_here / self.rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def send_one(self, recipient: Recipient, date: bytes):
        if recipient.subscriber_id is None or not recipient.email:
            self.ledger.failed(recipient, "subscriber erased")
            return
        self.sent_here += 1
        try:
            if self.raw:
                data = self.template.render(self.template.values(recipient, date))
                self.transport.send(
                    self.template.sender, recipient.email, data, self.template.eight_bit
                )
                provider_id = ""
            else:
                provider_id = self.transport.send_message(
                    personal_message(self.campaign, recipient)
                )
        except Transient as exc:
            self.ledger.retry(recipient, str(exc))
        except Permanent as exc:
            self.ledger.failed(recipient, str(exc))
        else:
            self.ledger.sent(recipient, provider_id)


def run_sender(campaign_id: int, *, time_budget: float | None = None) -> str:
    return Sender(campaign_id, time_budget=time_budget).run()


# --- test sends --------------------------------------------------------------------------


def send_test(page, addresses: list[str], *, lists=None) -> int:
    """Send the page's current revision to these addresses now: no worker, no list, no ledger."""
    revision = pinned_revision(page)
    rendered = render_email(revision.as_object() if revision else page)
    first = (lists or MailingList.objects.none()).first() if lists is not None else None
    from_email = (first.from_email if first else "") or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    from_name = (first.from_name if first else "") or settings.NEWSLETTER_SENDER_NAME
    values = {
        "name": "",
        "email": "",
        "unsubscribe_url": f"{settings.SITE_URL}/subscriptions/unsubscribe/test/",
        "preferences_url": f"{settings.SITE_URL}/subscriptions/preferences/test/",
        "web_url": settings.SITE_URL,
    }
    messages = []
    for address in addresses:
        message = EmailMultiAlternatives(
            subject=f"[Test] {rendered.subject}",
            body=personalise(rendered.text, {**values, "email": address}),
            from_email=formataddr((from_name, from_email)),
            to=[address],
            headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        )
        message.attach_alternative(
            personalise(rendered.html, {**values, "email": html_lib.escape(address)}),
            "text/html",
        )
        message.tags = ["newsletter-test"]
        messages.append(message)
    return get_connection().send_messages(messages) or 0


def web_copy(campaign: Campaign) -> str:
    """The issue as sent, with no personal data: neutral values in place of the placeholders."""
    return personalise(
        campaign.html,
        {
            "name": "",
            "email": "",
            "unsubscribe_url": f"{web_url(campaign)}#subscription",
            "preferences_url": f"{web_url(campaign)}#subscription",
            "web_url": web_url(campaign),
        },
    )
