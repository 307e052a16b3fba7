"""Raw SMTP: the campaign's prebuilt bytes, filled per recipient, over reused connections.

A transport holds ``SENDING_SMTP_CONNECTIONS`` connections (1 by default) and takes a
batch of that many recipients, one per connection: every envelope is written first
(pipelined, RFC 2920), then each message as its envelope is answered, then the final
answers are read. The server works on all of them at once, and the sender records the
batch's outcomes in one write, answered before the next batch's first message data
(``before_delivery``; the next envelopes may go first): a killed worker repeats at most
the message in flight on each of its connections.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from email.utils import format_datetime

from django.conf import settings
from django.utils import timezone

from mailing.sending.ledger import Recipient
from mailing.sending.message import MessageTemplate, ascii_domain
from mailing.sending.transports.base import (
    Outcome,
    Permanent,
    Transient,
    Transport,
    nothing_to_settle,
    outcome,
    smtp_error,
)

logger = logging.getLogger(__name__)


def _bare(address: str) -> str:
    """An address for the SMTP envelope: its domain in IDNA form (stored addresses are
    validated and may hold a Unicode domain; never let CR/LF in)."""
    return ascii_domain(address.replace("\r", "").replace("\n", "").strip("<> "))


class Session:
    """One SMTP connection, opened on first use and reused for every message."""

    def __init__(self):
        self.smtp = None
        self.has_8bit = self.pipelining = False

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

    def ready(self):
        """Open when not open yet; Transient when the server cannot be reached."""
        if self.smtp is None:
            try:
                self.open()
            except (smtplib.SMTPException, OSError) as exc:
                raise Transient(f"connection: {exc}") from exc

    def close(self):
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
        self.smtp = None

    def lost(self, exc) -> Transient:
        """The connection broke mid-transaction: forget it (the next use reopens)."""
        if self.smtp is not None:
            self.smtp.close()
        self.smtp = None
        return Transient(f"connection lost: {exc}")

    def envelope(self, sender: str, to: str, eight_bit: bool) -> tuple[str, str, str]:
        """(MAIL FROM address, RCPT TO address, MAIL FROM parameters) for one message."""
        rcpt, sender = _bare(to), _bare(sender)
        options = " BODY=8BITMIME" if eight_bit and self.has_8bit else ""
        if not rcpt.isascii():
            # A non-ASCII mailbox name (the domain is IDNA already) needs RFC 6531.
            if not self.smtp.has_extn("smtputf8"):
                raise Permanent("the mail server takes no non-ASCII mailbox name (no SMTPUTF8)")
            options += " SMTPUTF8"
            self.smtp.command_encoding = "utf-8"
        return sender, rcpt, options

    def write_envelope(self, sender: str, rcpt: str, options: str):
        """RFC 2920: MAIL, RCPT and DATA in one write; ``read_envelope`` reads their answers."""
        try:
            self.smtp.send(
                f"MAIL FROM:<{sender}>{options}\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode()
            )
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise self.lost(exc) from exc

    def read_envelope(self):
        """The three answers of a pipelined envelope; raises unless DATA may follow."""
        try:
            (mail_code, mail_text), (rcpt_code, rcpt_text), (code, text) = (
                self.smtp.getreply() for _ in range(3)
            )
            if code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
                self.smtp.send(b".\r\n")  # a server that opened DATA anyway: close it empty
                self.smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise self.lost(exc) from exc
        if mail_code != 250:
            raise self.refused(mail_code, mail_text)
        if rcpt_code not in (250, 251):
            raise self.refused(rcpt_code, rcpt_text, recipient=True)
        if code != 354:
            raise self.refused(code, text, recipient=True)

    def serial_envelope(self, sender: str, rcpt: str, options: str):
        """MAIL, RCPT and DATA one answer at a time, for a server without PIPELINING."""
        try:
            code, text = self.smtp.mail(sender, options.split())
            if code != 250:
                raise self.refused(code, text)
            code, text = self.smtp.rcpt(rcpt)
            if code not in (250, 251):
                raise self.refused(code, text, recipient=True)
            # smtplib.data() would re-scan 60 KB per message for line endings; the
            # rendered message is already dot-stuffed, so speak DATA directly.
            self.smtp.putcmd("data")
            code, text = self.smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise self.lost(exc) from exc
        if code != 354:
            raise self.refused(code, text, recipient=True)

    def write_data(self, data: bytes):
        """The dot-stuffed message and its final dot, in one write (a separate ".\r\n"
        would meet Nagle + delayed ACK: 40 ms)."""
        try:
            self.smtp.send(data + b".\r\n" if data.endswith(b"\r\n") else data + b"\r\n.\r\n")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise self.lost(exc) from exc

    def read_data(self):
        """The answer to the message: accepted, or the refusal raised."""
        try:
            code, text = self.smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise self.lost(exc) from exc
        if code != 250:
            raise self.refused(code, text, recipient=True)

    def refused(self, code, text, *, recipient=False):
        """The error for a refusal; ``recipient``: it answered RCPT or DATA (a 5xx there
        is a bounce), not MAIL FROM."""
        error = smtp_error(code, text, recipient=recipient)
        try:
            if code == 421:
                raise smtplib.SMTPServerDisconnected
            self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()
        return error


class SmtpTransport(Transport):
    """Raw bytes over ``SENDING_SMTP_CONNECTIONS`` reused smtplib connections, per
    EMAIL_* settings; a batch holds one recipient per connection."""

    def __init__(self, template: MessageTemplate, sessions: list[Session] | None = None):
        self.template = template
        if sessions is None:
            count = max(1, getattr(settings, "SENDING_SMTP_CONNECTIONS", 1))
            sessions = [Session() for _ in range(count)]
        self.sessions = sessions
        self._date, self._date_second = b"", None

    @property
    def batch_size(self) -> int:
        return len(self.sessions)

    def sharing(self, template: MessageTemplate) -> SmtpTransport:
        """A transport for another rendering of the campaign (a language or topic
        variant) over these same connections."""
        return SmtpTransport(template, self.sessions)

    def send(
        self, batch: list[Recipient], before_delivery: Callable[[], None] = nothing_to_settle
    ) -> list[Outcome]:
        if len(batch) > len(self.sessions):
            raise ValueError(f"a batch of {len(batch)} for {len(self.sessions)} connections")
        results: list[Outcome | None] = [None] * len(batch)
        date = self.date()
        # Every envelope on the wire first; a server without PIPELINING gets one whole
        # transaction at a time on its connection.
        waiting = []
        # A copy: ``ready`` may drop a connection the server refused from the pool.
        sessions = list(self.sessions)
        for index, (session, recipient) in enumerate(zip(sessions, batch, strict=False)):
            data = self.template.render(self.template.values(recipient, date))
            sender = self.template.envelope_sender(recipient.delivery_id) or self.template.sender
            try:
                self.ready(session)
                envelope = session.envelope(sender, recipient.email, self.template.eight_bit)
                if session.pipelining:
                    session.write_envelope(*envelope)
                    waiting.append((index, session, data))
                    continue
                session.serial_envelope(*envelope)
                before_delivery()
                session.write_data(data)
                session.read_data()
            except (Transient, Permanent) as exc:
                results[index] = outcome(recipient, exc)
            else:
                results[index] = Outcome.sent(recipient)
        # Each message as soon as its envelope is answered, then the final answers.
        if waiting:
            before_delivery()
        sent = []
        for index, session, data in waiting:
            try:
                session.read_envelope()
                session.write_data(data)
                sent.append((index, session))
            except (Transient, Permanent) as exc:
                results[index] = outcome(batch[index], exc)
        for index, session in sent:
            try:
                session.read_data()
            except (Transient, Permanent) as exc:
                results[index] = outcome(batch[index], exc)
            else:
                results[index] = Outcome.sent(batch[index])
        return results

    def ready(self, session: Session):
        """Open ``session`` if needed. A server that takes fewer connections than
        configured (it refuses one while another is open) keeps the ones it took: the
        refused connection leaves the pool, and the batches shrink to match."""
        try:
            session.ready()
        except Transient:
            others = [other for other in self.sessions if other is not session and other.smtp]
            if others:
                self.sessions.remove(session)
                logger.warning(
                    "the SMTP server refused connection %s: sending over %s",
                    len(self.sessions) + 1,
                    len(self.sessions),
                )
            raise

    def date(self) -> bytes:
        """The Date header, formatted at most once a second."""
        second = int(time.time())
        if second != self._date_second:
            self._date, self._date_second = format_datetime(timezone.now()).encode(), second
        return self._date

    def close(self):
        for session in self.sessions:
            session.close()
