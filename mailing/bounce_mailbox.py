"""The bounce mailbox: read what came back to ``BOUNCE_ADDRESS``, map each bounce to its
delivery and hand it to ``mailing.bounces`` (the one place that classifies and acts).

``BOUNCE_MAILBOX`` is ``imap://``, ``imaps://``, ``pop3://``, ``pop3s://``
``user:password@host[:port]/FOLDER`` (IMAP: ``?move_to=FOLDER`` moves what was read
there instead of deleting it) or ``maildir:///path``. Reports are parsed by GNU
Mailman's ``flufl.bounce`` (RFC 3464 DSNs and the common non-standard formats); a bounce
is matched by its VERP token, else by the original Message-ID, else by the failed
address among recent deliveries. Auto-replies and mail that matches nothing are logged
and counted, never acted on. Every message read is deleted (or moved) afterwards, and
its digest is kept, so none is handled twice even when the deletion was lost.
"""

from __future__ import annotations

import contextlib
import email
import hashlib
import imaplib
import logging
import mailbox as mailboxes
import poplib
import re
import ssl
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from email.message import Message
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from flufl.bounce import all_failures

from mailing import bounces
from mailing.models import Bounce, BounceMessage, Delivery, email_hash
from mailing.sending.message import (
    MESSAGE_ID_RE,
    bounce_tokens,
    delivery_from_bounce_token,
    delivery_from_message_id,
)

logger = logging.getLogger(__name__)
# flufl.bounce logs every detector it tries at INFO: seventeen lines a message.
logging.getLogger("flufl.bounce").setLevel(logging.WARNING)

SOURCE = "bounce mailbox"
# Headers in which a mail server writes the address a message was delivered to.
ENVELOPE_HEADERS = (
    "Delivered-To",
    "X-Original-To",
    "Envelope-To",
    "X-Envelope-To",
    "X-Delivered-To",
    "Original-Recipient",
    "To",
)
AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|"
    r"abwesenheit|r[ée]ponse automatique|absence|vacation|away from)",
    re.IGNORECASE,
)
# Digests of messages read are kept this long (a mailbox keeps nothing that old).
KEEP_DIGESTS = timedelta(days=90)
TIMEOUT = 30


class MailboxError(Exception):
    """The mailbox cannot be read as configured (bad URL, refused login, no such folder)."""


@dataclass
class Summary:
    read: int = 0
    hard: int = 0
    soft: int = 0
    policy: int = 0
    suppressed: int = 0
    auto_replies: int = 0
    unmatched: int = 0
    already_read: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self):
        return (
            f"read {self.read}: {self.hard} hard ({self.suppressed} suppressed), "
            f"{self.soft} soft, {self.policy} policy, {self.auto_replies} auto-replies, "
            f"{self.unmatched} unmatched, {self.already_read} already read"
        )


# --- reading one message ----------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """One address a report says failed, with the report's own words for it."""

    address: str
    permanent: bool
    words: str = ""


def failures(message: Message) -> list[Failure]:
    """The failed addresses flufl.bounce finds, with each one's DSN status and diagnostic
    (or, in a non-standard report, the lines that name it)."""
    temporary, permanent = all_failures(message)
    details = dsn_details(message)
    out = []
    for addresses, is_permanent in ((permanent, True), (temporary - permanent, False)):
        for raw in sorted(addresses):
            address = raw.decode("ascii", "replace")
            words = details.get(address.lower()) or context(message, address)
            out.append(Failure(address, is_permanent, words))
    return out


def dsn_details(message: Message) -> dict[str, str]:
    """address → "Status Diagnostic-Code" from the RFC 3464 per-recipient fields."""
    out = {}
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload()[1:]:
            recipient = block.get("Original-Recipient") or block.get("Final-Recipient") or ""
            address = recipient.rpartition(";")[2].strip().strip("<>").lower()
            words = " ".join(
                " ".join(str(block.get(name, "")).split()) for name in ("Status", "Diagnostic-Code")
            ).strip()
            if address and words:
                out[address] = words
                final = str(block.get("Final-Recipient", "")).rpartition(";")[2]
                out.setdefault(final.strip().strip("<>").lower(), words)
    return out


def context(message: Message, address: str) -> str:
    """The line of a report's text that names ``address`` and the two after it."""
    needle = address.lower()
    for part in message.walk():
        if part.get_content_maintype() != "text" or part.get_content_subtype() == "html":
            continue
        text = _text(part)
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if needle in line.lower():
                return " ".join(" ".join(lines[i : i + 3]).split())[:500]
    return ""


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload() or "")
    try:
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        return payload.decode("utf-8", "replace")


def is_auto_reply(message: Message) -> bool:
    """RFC 3834's Auto-Submitted, the common X- headers, or an out-of-office subject."""
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto and auto != "no":
        return True
    if any(message.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")):
        return True
    if str(message.get("Precedence", "")).strip().lower() == "auto_reply":
        return True
    return bool(AUTO_REPLY_SUBJECT.search(str(message.get("Subject", ""))))


# --- matching ---------------------------------------------------------------------------


class Forged(Exception):
    """The bounce came to a VERP address whose token we never signed."""


def verp_delivery(message: Message) -> int | None:
    """The delivery of the VERP token the message was delivered to; Forged when it came
    to our bounce address with a token that does not verify."""
    tokens = []
    for name in ENVELOPE_HEADERS:
        for value in message.get_all(name, []):
            tokens += bounce_tokens(str(value))
    for token in tokens:
        delivery_id = delivery_from_bounce_token(token)
        if delivery_id:
            return delivery_id
    if tokens:
        raise Forged(tokens[0][:80])
    return None


def message_id_delivery(message: Message) -> int | None:
    """The delivery of the original message's Message-ID: in the returned message or
    headers, in References / In-Reply-To, else anywhere in the report's text."""
    candidates = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822" and part.is_multipart():
            candidates += [str(inner.get("Message-ID", "")) for inner in part.get_payload()]
        elif kind == "text/rfc822-headers":
            candidates.append(str(email.message_from_string(_text(part)).get("Message-ID", "")))
    candidates += [str(message.get(name, "")) for name in ("References", "In-Reply-To")]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            candidates += [m.group(0) for m in MESSAGE_ID_RE.finditer(_text(part))]
    seen = set()
    for value in candidates:
        for match in MESSAGE_ID_RE.finditer(value):
            if match.group(0) in seen or len(seen) >= 5:
                continue
            seen.add(match.group(0))
            delivery_id = delivery_from_message_id(match.group(0))
            if delivery_id:
                return delivery_id
    return None


def recent_delivery(address: str) -> int | None:
    """The latest delivery sent to ``address`` within BOUNCE_MATCH_DAYS."""
    since = timezone.now() - timedelta(days=getattr(settings, "BOUNCE_MATCH_DAYS", 14))
    return (
        Delivery.objects.filter(subscriber__email_hash=email_hash(address), sent_at__gte=since)
        .order_by("-sent_at")
        .values_list("pk", flat=True)
        .first()
    )


# --- handling one message ---------------------------------------------------------------


def handle_message(raw: bytes, summary: Summary) -> str:
    """Read one message from the mailbox, act on it once, count it; its outcome."""
    summary.read += 1
    digest = hashlib.sha256(raw).hexdigest()
    try:
        with transaction.atomic():
            claim = BounceMessage.objects.create(digest=digest, outcome="reading")
            outcome = _handle(email.message_from_bytes(raw), summary)
            BounceMessage.objects.filter(pk=claim.pk).update(outcome=outcome)
    except IntegrityError:
        summary.already_read += 1
        return "already read"
    return outcome


def _handle(message: Message, summary: Summary) -> str:
    label = f"{str(message.get('Message-ID', '-'))[:100]} {str(message.get('Subject', ''))[:80]!r}"
    try:
        failed = failures(message)
    except Exception:  # noqa: BLE001 - one unreadable report must not stop the mailbox
        logger.exception("bounce mailbox: could not parse %s", label)
        failed = []
    if not failed:
        if is_auto_reply(message):
            summary.auto_replies += 1
            logger.info("bounce mailbox: auto-reply %s left alone", label)
            return "auto-reply"
        summary.unmatched += 1
        logger.info("bounce mailbox: %s is no bounce report we can read", label)
        return "unmatched"
    try:
        delivery_id = verp_delivery(message) or message_id_delivery(message)
    except Forged as exc:
        summary.unmatched += 1
        logger.warning(
            "bounce mailbox: %s came to a bounce address we did not sign, or for a delivery"
            " since deleted (%s): ignored",
            label,
            exc,
        )
        return "forged"
    if delivery_id:
        reports = [_report(delivery_id, failed)]
    else:
        reports = [
            _reported(failure, found)
            for failure in failed
            if (found := recent_delivery(failure.address))
        ]
    if not reports:
        summary.unmatched += 1
        logger.info("bounce mailbox: %s matches no recent delivery", label)
        return "unmatched"
    for report in reports:
        bounce = bounces.handle(report)
        if bounce is None:
            continue
        if report.event == "bounced":
            bounces.record_event(bounce, {"source": SOURCE, "words": bounce.reason[:500]})
        if bounce.type == Bounce.Type.HARD:
            summary.hard += 1
        elif bounce.type == Bounce.Type.POLICY:
            summary.policy += 1
        else:
            summary.soft += 1
        summary.suppressed += bounce.action == Bounce.Action.SUPPRESSED
    return "bounce"


def _report(delivery_id: int, failed: list[Failure]) -> bounces.Report:
    """One report for the delivery a bounce was matched to: the address we mailed is the
    one that failed, whatever address (a forward, an alias) the report names."""
    mailed = (
        Delivery.objects.filter(pk=delivery_id).values_list("subscriber__email", flat=True).first()
    )
    mine = [f for f in failed if mailed and email_hash(f.address) == email_hash(mailed)]
    failure = (mine or sorted(failed, key=lambda f: not f.permanent))[0]
    return _reported(failure, delivery_id, mailed or failure.address)


def _reported(failure: Failure, delivery_id: int, address: str = "") -> bounces.Report:
    return bounces.Report(
        recipient=address or failure.address,
        event="bounced" if failure.permanent else "deferred",
        hint="hard" if failure.permanent else "soft",
        mta_response=failure.words,
        source=SOURCE,
        delivery_id=delivery_id,
    )


# --- mailboxes --------------------------------------------------------------------------


class Maildir:
    def __init__(self, path: str):
        try:
            self.box = mailboxes.Maildir(path, factory=None, create=False)
            self.box.keys()
        except (OSError, mailboxes.Error) as exc:
            raise MailboxError(f"maildir {path}: {exc}") from exc

    def keys(self):
        return list(self.box.keys())

    def fetch(self, key) -> bytes | None:
        try:
            return self.box.get_bytes(key)
        except KeyError:
            return None  # another poller took it

    def done(self, key):
        with contextlib.suppress(KeyError, FileNotFoundError):
            self.box.remove(key)  # another poller removed it

    def close(self):
        self.box.close()


class Imap:
    def __init__(self, url, secure: bool):
        host, port = url.hostname, url.port or (993 if secure else 143)
        try:
            if secure:
                context = ssl.create_default_context()
                self.conn = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=TIMEOUT)
            else:
                self.conn = imaplib.IMAP4(host, port, timeout=TIMEOUT)
            self.conn.login(unquote(url.username or ""), unquote(url.password or ""))
            folder = unquote(url.path.strip("/")) or "INBOX"
            typ, data = self.conn.select(_quote(folder))
            if typ != "OK":
                raise MailboxError(f"IMAP folder {folder!r}: {data[0]!r}")
        except (imaplib.IMAP4.error, OSError) as exc:
            raise MailboxError(f"IMAP {host}:{port}: {exc}") from exc
        self.move_to = (parse_qs(url.query).get("move_to") or [""])[0]
        self.can_move = "MOVE" in self.conn.capabilities

    def keys(self):
        # A message flagged \Deleted by a run that died before EXPUNGE was read already.
        typ, data = self.conn.uid("SEARCH", None, "UNDELETED")
        return data[0].split() if typ == "OK" and data and data[0] else []

    def fetch(self, uid) -> bytes | None:
        typ, data = self.conn.uid("FETCH", uid, "(BODY.PEEK[])")
        if typ != "OK":
            return None
        parts = [item[1] for item in data if isinstance(item, tuple)]
        return parts[0] if parts else None

    def done(self, uid):
        if self.move_to and self.can_move:
            self.conn.uid("MOVE", uid, _quote(self.move_to))
            return
        if self.move_to:
            self.conn.uid("COPY", uid, _quote(self.move_to))
        self.conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")

    def close(self):
        try:
            self.conn.expunge()
            self.conn.close()
            self.conn.logout()
        except (imaplib.IMAP4.error, OSError):
            logger.exception("closing the IMAP bounce mailbox")


class Pop3:
    def __init__(self, url, secure: bool):
        host, port = url.hostname, url.port or (995 if secure else 110)
        # poplib refuses lines over 2 KB; a returned message may hold longer ones.
        poplib._MAXLINE = max(poplib._MAXLINE, 1_000_000)
        try:
            if secure:
                context = ssl.create_default_context()
                self.conn = poplib.POP3_SSL(host, port, context=context, timeout=TIMEOUT)
            else:
                self.conn = poplib.POP3(host, port, timeout=TIMEOUT)
            self.conn.user(unquote(url.username or ""))
            self.conn.pass_(unquote(url.password or ""))
        except (poplib.error_proto, OSError) as exc:
            raise MailboxError(f"POP3 {host}:{port}: {exc}") from exc

    def keys(self):
        _response, listing, _octets = self.conn.list()
        return [line.split()[0].decode() for line in listing]

    def fetch(self, number) -> bytes | None:
        _response, lines, _octets = self.conn.retr(number)
        return b"\r\n".join(lines) + b"\r\n"

    def done(self, number):
        self.conn.dele(number)

    def close(self):
        try:
            self.conn.quit()  # deletions take effect here
        except (poplib.error_proto, OSError):
            logger.exception("closing the POP3 bounce mailbox")


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def open_mailbox(url: str):
    """The mailbox ``url`` names, logged in and ready (MailboxError if it cannot be)."""
    parts = urlsplit(url or "")
    scheme = parts.scheme.lower()
    if scheme == "maildir":
        path = unquote(parts.path)
        if not path:
            raise MailboxError("maildir:///path needs a path")
        return Maildir(path)
    if scheme not in {"imap", "imaps", "pop3", "pop3s"}:
        raise MailboxError(
            "BOUNCE_MAILBOX must start with imap://, imaps://, pop3://, pop3s://, maildir://"
        )
    if not parts.hostname:
        raise MailboxError(f"{scheme}:// needs a host")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise MailboxError(f"{scheme}://: {exc}") from exc
    secure = scheme.endswith("s")
    return Imap(parts, secure) if scheme.startswith("imap") else Pop3(parts, secure)


# --- the poller -------------------------------------------------------------------------


def process(
    url: str | None = None, *, limit: int | None = None, seconds: float | None = None
) -> Summary:
    """Read the bounce mailbox once (``BOUNCE_MAILBOX`` unless ``url``): each message is
    handled once, then deleted or moved; stops after ``seconds`` (the next run goes on
    where this one stopped). MailboxError when it cannot be read."""
    url = settings.BOUNCE_MAILBOX if url is None else url
    summary = Summary()
    if not url:
        return summary
    box = open_mailbox(url)
    deadline = time.monotonic() + seconds if seconds else None
    try:
        for key in box.keys()[:limit]:
            raw = box.fetch(key)
            if raw is None:
                continue
            handle_message(raw, summary)
            box.done(key)
            if deadline and time.monotonic() > deadline:
                break
    except (imaplib.IMAP4.error, poplib.error_proto, OSError) as exc:
        raise MailboxError(f"reading the bounce mailbox: {exc}") from exc
    finally:
        box.close()
    BounceMessage.objects.filter(read_at__lt=timezone.now() - KEEP_DIGESTS).delete()
    logger.info("bounce mailbox: %s", summary)
    return summary
