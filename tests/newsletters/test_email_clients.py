"""Issue #3 as mail filters and clients read it: SpamAssassin's rules, colour schemes.

The campaign message is the one the sending pipeline hands to a real SMTP server on
loopback; SpamAssassin runs with its local tests only (``-L``), as Debian installs it.
"""

import re
import shutil
import subprocess

import pytest
from django.test.utils import override_settings

from mailing import campaigns
from mailing.sending import sender
from newsletters.rendering import render_email
from tests.smtp import SmtpSink, smtp_settings

pytestmark = pytest.mark.django_db

SPAMASSASSIN = shutil.which("spamassassin")


@pytest.fixture
def campaign_message(seeded):
    """The raw bytes of one message of a campaign of issue #3, as the SMTP server got them."""
    server = SmtpSink()
    recorder = server.start()
    try:
        with override_settings(**smtp_settings(server.port)):
            campaign = campaigns.create(seeded["newsletter"], [seeded["mailing_list"]])
            assert campaigns.schedule(campaign) and campaigns.start(campaign.pk)
            sender.run_sender(campaign.pk)
    finally:
        server.stop()
    return recorder.raw[0][1]


def spam_report(raw: bytes) -> tuple[float, set[str]]:
    """SpamAssassin's score and the rules that fired, local tests only (no network)."""
    result = subprocess.run(  # noqa: S603
        [SPAMASSASSIN, "-L", "-t"], input=raw, capture_output=True, timeout=120, check=False
    )
    status = re.search(
        rb"^X-Spam-Status: \w+, score=(-?[\d.]+) required=[\d.]+ tests=(.*?)\s+autolearn",
        result.stdout,
        re.M | re.S,
    )
    assert status, result.stdout[-2000:] + result.stderr[-2000:]
    rules = {rule.strip() for rule in re.split(rb"[,\s]+", status.group(2)) if rule.strip()}
    return float(status.group(1)), {rule.decode() for rule in rules}


@pytest.mark.skipif(not SPAMASSASSIN, reason="Debian's spamassassin is not installed")
def test_spamassassin_does_not_see_low_contrast_text(campaign_message):
    assert b"Subject: PENELOPE newsletter #3" in campaign_message
    score, rules = spam_report(campaign_message)
    print(f"SpamAssassin (local tests): {score} points, rules {sorted(rules)}")
    assert "HTML_FONT_LOW_CONTRAST" not in rules
    assert not {rule for rule in rules if "TINY" in rule or "INVISIBLE" in rule}
    assert score <= 0.0


def test_email_declares_both_colour_schemes(seeded):
    """Apple Mail and iOS read the meta tags and the media query; the dark palette is
    tested in Chromium in tests/browser/test_email_dark_mode.py."""
    html = render_email(seeded["newsletter"]).html
    assert '<meta name="color-scheme" content="light dark" />' in html
    assert '<meta name="supported-color-schemes" content="light dark" />' in html
    assert ":root { color-scheme: light dark; supported-color-schemes: light dark; }" in html
    assert "@media (prefers-color-scheme: dark)" in html
