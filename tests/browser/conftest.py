"""Browser fixtures: one Debian Chromium for the session, a fresh context per test, and a
live server whose absolute links (``SITE_URL``) point at itself.

Two ways to serve the site, by what a test needs:
- ``live_site``: pytest-django's live server in a thread of this process, on the test
  database (transactional, restored after each test), with django-q2 tasks run in-process
  and outgoing mail sent to a real SMTP server on loopback. Fast; the test can read and
  write the database directly. Subscriber pages and most admin flows use it.
- real processes (``runserver`` + ``qcluster``, see ``test_campaign_browser.py``) where the
  worker itself is what is being tested.

Drive pages as a person would: labels and roles (``get_by_label``, ``get_by_role``), not
CSS classes, and assert on what the person sees and what the database holds.
"""

import os
from pathlib import Path

import pytest

from tests.smtp import SmtpSink, smtp_settings

CHROMIUM = Path("/usr/bin/chromium")
# Headless Debian Chromium in a sandbox without a network: no background connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's sync API keeps an asyncio loop on the main thread; the test's own ORM
# calls between browser steps are synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def serve_one_request_at_a_time():
    """Make pytest-django's live server answer requests one after another.

    On SQLite the test database lives in memory and the server's threads share the test's
    one connection; the Wagtail admin's parallel requests (autosave, preview panel,
    chooser searches) then trip over each other ("database table is locked"). Django
    closes each connection of a server that is not threaded, so browsers do not wait
    on kept-alive sockets.
    """
    from django.core.servers.basehttp import WSGIServer
    from django.db import connections
    from django.test.testcases import LiveServerThread

    class SerialWSGIServer(WSGIServer):
        def __init__(self, *args, connections_override=None, **kwargs):
            # The server's own thread already uses the overriding connections.
            super().__init__(*args, **kwargs)

        def close_request(self, request):
            # As Django's threaded server does: no connection outlives its request (an
            # in-memory SQLite one ignores this), so PostgreSQL can drop the test database.
            connections.close_all()
            super().close_request(request)

    LiveServerThread.server_class = SerialWSGIServer


def pytest_configure(config):
    serve_one_request_at_a_time()


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="Debian chromium is not installed")
    for item in items:
        if "browser" in item.keywords and not CHROMIUM.exists():
            item.add_marker(skip)


@pytest.fixture(scope="session")
def chromium(django_db_setup):
    """One headless Chromium for the whole session (contexts keep tests apart)."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright runs an asyncio loop on this thread, and Django's connections then come
    # from a new context: new objects, without the test database's serialized content
    # that live_site's serialized rollback restores after each test. Carry it over.
    serialized = {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }
    with sync_playwright() as playwright:
        for alias, contents in serialized.items():
            connections[alias]._test_serialized_contents = contents
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium):
    """A new browser context (own cookies, British English, Brussels time) and one page."""
    context = chromium.new_context(locale="en-GB", timezone_id="Europe/Brussels")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def live_site(live_server, django_db_serialized_rollback, settings, monkeypatch):
    """The live server with ``SITE_URL`` pointing at it, in-process tasks and a loopback
    SMTP server; yields ``{"url", "smtp"}`` (``smtp``: the sink's recorder)."""
    from django.core.cache import cache
    from django_q.conf import Conf

    settings.SITE_URL = live_server.url
    settings.WAGTAILADMIN_BASE_URL = live_server.url
    settings.ALLOWED_HOSTS = ["*"]
    monkeypatch.setattr(Conf, "SYNC", True)
    cache.clear()
    sink = SmtpSink()
    recorder = sink.start()
    for name, value in smtp_settings(sink.port).items():
        setattr(settings, name, value)
    try:
        yield {"url": live_server.url, "smtp": recorder}
    finally:
        sink.stop()
        cache.clear()
