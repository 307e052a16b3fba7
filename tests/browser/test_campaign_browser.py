"""An editor sends issue #3 from the admin through the confirmation, pauses, resumes and
cancels it while the worker sends, and schedules it for later.

Real processes throughout: `runserver`, a `qcluster` worker, an SMTP server on
loopback and Debian's Chromium driven by Playwright.
"""

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.mailing.workers import ROOT, Cluster, base_env, manage, prepare_database, wait_for
from tests.smtp import SmtpSink

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
]

CREATE_EDITOR = """
from django.contrib.auth.models import Group
from cms.models import User
user = User.objects.create_user("sam", "sam@example.org", "a-long-test-password")
user.groups.add(Group.objects.get(name="Editors"), Group.objects.get(name="Newsletter senders"))
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def site(tmp_path):
    sink = SmtpSink()
    smtp = sink.start()
    port = free_port()
    env = base_env(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        sink.port,
        DEBUG=1,
        SITE_URL=f"http://127.0.0.1:{port}",
        Q_WORKERS=1,
        SENDING_CHUNK_SIZE=5,
    )
    prepare_database(env, 36)  # and the 8 demo subscribers: 44
    manage(env, "shell", "--no-imports", "-c", CREATE_EDITOR)
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "runserver.log", "wb"),  # noqa: SIM115
    )
    worker = Cluster(env, tmp_path / "qcluster.log").start()

    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    wait_for(up, timeout=60, message="runserver")
    yield {"url": f"http://127.0.0.1:{port}", "smtp": smtp, "env": env}
    worker.stop()
    server.terminate()
    server.wait(10)
    sink.stop()


def counter(page, field):
    return int(page.locator(f"[data-field={field}]").first.inner_text())


def settled(page, smtp, seconds=2.0):
    """Once the worker stopped: the page's count, the mail server's and a moment later both
    again, all equal. Returns that count."""

    def still():
        before = smtp.total
        if counter(page, "sent") != before:
            return None
        time.sleep(seconds)
        return before if smtp.total == before == counter(page, "sent") else None

    return wait_for(still, timeout=60, interval=0.2, message="the worker to stop")


def test_editor_confirms_pauses_resumes_and_cancels_issue_3(site, chromium):
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    smtp = site["smtp"]
    page_id = manage(
        site["env"],
        "shell",
        "--no-imports",
        "-c",
        "from newsletters.models import NewsletterPage;"
        "print(NewsletterPage.objects.get(issue_number=3, locale__language_code='en').pk)",
    ).stdout.strip()
    context = chromium.new_context(locale="en-GB", timezone_id="Europe/Brussels")
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{site['url']}/admin/login/")
        page.get_by_label("Username").fill("sam")
        page.get_by_label("Password").fill("a-long-test-password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{site['url']}/admin/")

        # From the issue's editor, the "Send or schedule…" action.
        page.goto(f"{site['url']}/admin/pages/{page_id}/edit/")
        page.get_by_role("button", name="Actions").first.click()
        page.get_by_role("link", name="Send or schedule…").click()
        page.wait_for_url(f"**/admin/campaigns/send/{page_id}/")

        page.get_by_label("PENELOPE newsletter").check()
        expect(page.locator("#recipient-count")).to_contain_text(
            "Recipients after removing duplicates and suppressed addresses: 44"
        )
        expect(
            page.get_by_text("Send to 44 recipients on PENELOPE newsletter now.")
        ).to_be_visible()
        page.get_by_role("button", name="Review and send now…").click()
        page.wait_for_url("**/confirm/")
        expect(page.locator("dl")).to_contain_text("44 people")
        assert smtp.total == 0  # nothing before the confirmation

        # Slow the mail server down so that there is time to pause and cancel.
        smtp.delay = 0.3
        page.get_by_role("button", name="Confirm and send now").click()
        expect(page.get_by_text("Sending started.")).to_be_visible()
        expect(page.locator("[data-field=status_label]")).to_have_text("Sending")
        wait_for(lambda: counter(page, "sent") >= 3, timeout=60, message="first sends")

        page.get_by_role("button", name="Pause").click()
        expect(
            page.get_by_text("Sending paused: nothing more goes out until you resume.")
        ).to_be_visible()
        pressed = smtp.total  # the pause is stored by now
        expect(page.locator("[data-field=status_label]")).to_have_text("Paused")
        # The worker notices within the chunk in flight (5 here); then nothing more goes
        # out and the counters, the report and the chart say the same.
        paused_at = settled(page, smtp)
        assert paused_at - pressed <= 5 + 1 and paused_at < 44
        expect(page.locator("[data-field=sent]").first).to_have_text(str(paused_at))
        expect(page.locator("[data-field=sent]").last).to_have_text(str(paused_at))
        expect(page.locator("#campaign-chart-box")).to_contain_text(f"Sent {paused_at}")
        expect(page.locator("[data-field=pending]")).to_have_text(str(44 - paused_at))

        page.get_by_role("button", name="Resume").click()
        expect(page.get_by_text("Sending resumed.")).to_be_visible()
        wait_for(lambda: smtp.total > paused_at + 2, timeout=60, message="resumed sends")

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Cancel campaign").click()
        expect(page.get_by_text("Campaign cancelled: nobody else will receive it.")).to_be_visible()
        expect(page.locator("[data-field=status_label]")).to_have_text("Cancelled")
        expect(page.locator("[data-campaign-action]:visible")).to_have_count(0)
        cancelled_at = settled(page, smtp)
        assert cancelled_at - pressed <= 5 + 1 and cancelled_at < 44
        page.reload()
        assert counter(page, "sent") == cancelled_at == smtp.total
        assert set(smtp.counts.values()) == {1}  # nobody twice

        # Scheduling for later: Wagtail's date-time picker, the confirmation names the
        # time and its zone, then cancelling asks first and leaves nothing to do.
        smtp.delay = 0
        page.goto(f"{site['url']}/admin/campaigns/send/{page_id}/")
        expect(page.get_by_text("This issue already went out:")).to_be_visible()
        page.get_by_label("PENELOPE newsletter").check()
        page.fill("input[name=send_at]", "2099-01-01 09:00")
        page.keyboard.press("Escape")
        expect(page.locator("#send-summary")).to_contain_text("at 2099-01-01 09:00")
        page.get_by_role("button", name="Review and schedule…").click()
        expect(page.locator("dl")).to_contain_text("1 January 2099, 09:00 (Europe/Brussels)")
        page.get_by_role("radio", name=re.compile("Everyone on the lists again")).check()
        page.get_by_role("button", name="Confirm and schedule").click()
        expect(
            page.get_by_text("Scheduled for 1 January 2099, 09:00 (Europe/Brussels).")
        ).to_be_visible()
        expect(page.locator("[data-field=status_label]")).to_have_text("Scheduled")
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.get_by_role("button", name="Cancel campaign").click()
        expect(page.locator("[data-field=status_label]")).to_have_text("Scheduled")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Cancel campaign").click()
        expect(page.locator("[data-field=status_label]")).to_have_text("Cancelled")

        page.get_by_role("link", name="Campaigns", exact=True).first.click()
        page.wait_for_url("**/admin/campaigns/")
        expect(page.locator("#campaigns tbody tr")).to_have_count(2)
    finally:
        context.close()
    assert smtp.total == cancelled_at
