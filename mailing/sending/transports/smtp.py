"""Raw SMTP: the campaign's prebuilt bytes, filled per recipient, over one reused connection."""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
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
    outcome,
    smtp_error,
)


def _bare(address: str) -> str:
    """An address for the SMTP envelope: its domain in IDNA form (stored addresses are
    validated and may hold a Unicode domain; never let CR/LF in)."""
    return ascii_domain(address.replace("\r", "").replace("\n", "").strip("<> "))


class SmtpTransport(Transport):
    """Raw bytes over one reused smtplib connection, per EMAIL_* settings."""

    def __init__(self, template: MessageTemplate):
        self.template = template
        self.smtp = None
        self._date, self._date_second = b"", None

    def send(self, batch: list[Recipient]) -> list[Outcome]:
        results = []
        for recipient in batch:
            data = self.template.render(self.template.values(recipient, self.date()))
            sender = self.template.envelope_sender(recipient.delivery_id)
            try:
                self.post(recipient.email, data, sender)
            except (Transient, Permanent) as exc:
                results.append(outcome(recipient, exc))
            else:
                results.append(Outcome.sent(recipient))
        return results

    def date(self) -> bytes:
        """The Date header, formatted at most once a second."""
        second = int(time.time())
        if second != self._date_second:
            self._date, self._date_second = format_datetime(timezone.now()).encode(), second
        return self._date

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

    def post(self, to: str, data: bytes, sender: str = ""):
        """One SMTP transaction (MAIL FROM ``sender``, else the campaign's From address);
        raises Transient or Permanent from the server's answers."""
        if self.smtp is None:
            try:
                self.open()
            except (smtplib.SMTPException, OSError) as exc:
                raise Transient(f"connection: {exc}") from exc
        smtp, rcpt = self.smtp, _bare(to)
        sender = _bare(sender or self.template.sender)
        options = " BODY=8BITMIME" if self.template.eight_bit and self.has_8bit else ""
        if not rcpt.isascii():
            # A non-ASCII mailbox name (the domain is IDNA already) needs RFC 6531.
            if not smtp.has_extn("smtputf8"):
                raise Permanent("the mail server takes no non-ASCII mailbox name (no SMTPUTF8)")
            options += " SMTPUTF8"
            smtp.command_encoding = "utf-8"
        try:
            if self.pipelining:
                # RFC 2920: MAIL, RCPT and DATA in one write, then their three answers.
                smtp.send(f"MAIL FROM:<{sender}>{options}\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
                replies = [smtp.getreply() for _ in range(3)]
                (mail_code, mail_text), (rcpt_code, rcpt_text), (code, text) = replies
                if code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
                    smtp.send(b".\r\n")  # a server that opened DATA anyway: close it empty
                    smtp.getreply()
                if mail_code != 250:
                    raise self._refused(mail_code, mail_text)
                if rcpt_code not in (250, 251):
                    raise self._refused(rcpt_code, rcpt_text, recipient=True)
            else:
                code, text = smtp.mail(sender, options.split())
                if code != 250:
                    raise self._refused(code, text)
                code, text = smtp.rcpt(rcpt)
                if code not in (250, 251):
                    raise self._refused(code, text, recipient=True)
                # smtplib.data() would re-scan 60 KB per message for line endings; the
                # rendered message is already dot-stuffed, so speak DATA directly.
                smtp.putcmd("data")
                code, text = smtp.getreply()
            if code != 354:
                raise self._refused(code, text, recipient=True)
            # One write: a separate ".\r\n" would meet Nagle + delayed ACK (40 ms).
            smtp.send(data + b".\r\n" if data.endswith(b"\r\n") else data + b"\r\n.\r\n")
            code, text = smtp.getreply()
            if code != 250:
                raise self._refused(code, text, recipient=True)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.smtp = None
            raise Transient(f"connection lost: {exc}") from exc

    def _refused(self, code, text, *, recipient=False):
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
