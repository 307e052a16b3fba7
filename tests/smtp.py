"""A real SMTP server on loopback (aiosmtpd) for tests that must see mail leave Django."""

import email
import email.policy
import socket
import threading
import time

import pytest
from aiosmtpd.controller import Controller


class _Collector:
    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"


class SMTPServer:
    def __init__(self):
        self.collector = _Collector()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=port)
        self.host, self.port = "127.0.0.1", port

    @property
    def messages(self):
        with self.collector.lock:
            return [m for _rcpt, m in self.collector.messages]

    def wait_for(self, count=1, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.messages
            time.sleep(0.02)
        raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")


@pytest.fixture
def smtp_server(settings):
    """Start aiosmtpd on a free loopback port and point Django's SMTP backend at it."""
    server = SMTPServer()
    server.controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield server
    finally:
        server.controller.stop()
