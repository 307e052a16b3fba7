"""A real SMTP server on loopback (aiosmtpd) for tests that must see mail leave Django.

``SmtpSink`` records what it receives and can answer chosen recipients with scripted
codes: ``recorder.answers = {"a@x.org": [451, 250]}`` answers 451 to the first RCPT
for that address and accepts the second; 550 stays forever when it is the last code.
``recorder.data_answers = {"a@x.org": 554}`` refuses the message after its DATA instead.
``recorder.envelopes`` keeps (recipient, MAIL FROM) of what was accepted.
The ``smtp_server`` fixture starts one and points Django's SMTP backend at it.
"""

import asyncio
import socket
import threading
import time
from collections import Counter
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

TEXTS = {
    421: "4.3.2 Service shutting down",
    451: "4.7.1 Greylisted, try again later",
    452: "4.2.2 Mailbox full",
    550: "5.1.1 No such user",
    554: "5.7.1 Message refused by policy",
}


class Recorder:
    """The sink's handler: counts and keeps what was accepted, per recipient."""

    def __init__(self, keep_messages=True):
        self.keep_messages = keep_messages
        self.raw = []  # (recipient, raw bytes)
        self.counts = Counter()
        self.answers = {}
        self.data_answers = {}
        self.envelopes = []  # (recipient, envelope sender)
        self.peers = Counter()  # client (address, port) → messages accepted on that connection
        self.delay = 0.0  # seconds before answering DATA: slows a campaign down for kill tests
        self.lock = threading.Lock()
        self.host, self.port = "127.0.0.1", None

    pipelining = False  # advertise RFC 2920 PIPELINING (aiosmtpd reads commands in order)
    smtputf8 = True  # advertise RFC 6531 SMTPUTF8 (aiosmtpd does); False: a server without it

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        if not self.smtputf8:
            responses[:] = [line for line in responses if "SMTPUTF8" not in line.upper()]
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        with self.lock:
            codes = self.answers.get(address.lower())
            code = (codes.pop(0) if len(codes) > 1 else codes[0]) if codes else 250
        if code != 250:
            return f"{code} {TEXTS.get(code, 'refused')}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                code = self.data_answers.get(rcpt.lower())
                if code:
                    return f"{code} {TEXTS.get(code, 'refused')}"
            for rcpt in envelope.rcpt_tos:
                self.envelopes.append((rcpt.lower(), envelope.mail_from))
                self.peers[session.peer] += 1
                self.counts[rcpt.lower()] += 1
                if self.keep_messages:
                    self.raw.append((rcpt.lower(), envelope.original_content))
        return "250 Message accepted for delivery"

    def parsed(self):
        """(recipient, parsed message) for every message kept."""
        with self.lock:
            return [
                (rcpt, message_from_bytes(raw, policy=policy.default)) for rcpt, raw in self.raw
            ]

    @property
    def messages(self):
        """The parsed messages, in the order they arrived."""
        return [message for _rcpt, message in self.parsed()]

    @property
    def total(self):
        with self.lock:
            return sum(self.counts.values())

    def wait_for(self, count=1, timeout=5.0):
        """The messages once at least ``count`` arrived; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.messages
            time.sleep(0.02)
        raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")


class SmtpSink:
    def __init__(self, keep_messages=True, port=0):
        self.recorder = Recorder(keep_messages)
        self.controller = Controller(
            self.recorder,
            hostname="127.0.0.1",
            port=port or _free_port(),
            data_size_limit=10 * 1024 * 1024,
            decode_data=False,
        )
        self.recorder.port = self.controller.port

    @property
    def port(self):
        return self.controller.port

    def __enter__(self):
        self.controller.start()
        return self.recorder

    def __exit__(self, *exc):
        self.controller.stop()

    def start(self):
        return self.__enter__()

    def stop(self):
        self.__exit__()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_settings(port):
    """Settings overrides that make Django (and mailing.sending) use the sink on ``port``."""
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_USE_TLS": False,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 10,
    }


@pytest.fixture
def smtp_server(settings):
    """A sink on a free loopback port with Django's SMTP backend pointed at it; yields its
    recorder (``wait_for``, ``messages``, ``parsed()``, ``counts``, ``answers``)."""
    sink = SmtpSink()
    recorder = sink.start()
    for name, value in smtp_settings(sink.port).items():
        setattr(settings, name, value)
    try:
        yield recorder
    finally:
        sink.stop()


def main():
    """`python -m tests.smtp PORT`: a counting sink for benchmarks; Ctrl-C stops."""
    import signal
    import sys

    sink = SmtpSink(keep_messages=False, port=int(sys.argv[1]))
    recorder = sink.start()
    print(sink.port, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        signal.pause()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        sink.stop()
        print(recorder.total, flush=True)


if __name__ == "__main__":
    main()
