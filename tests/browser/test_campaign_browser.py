"""An editor schedules issue #3 from the admin and watches the progress reach 100 %.

Real processes throughout: `runserver`, a `qcluster` worker, an SMTP server on
loopback and Debian's Chromium driven by Playwright.
"""

import socket
import subprocess
import sys
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
    prepare_database(env, 40)
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


def test_editor_schedules_issue_3_and_sees_it_sent(site, chromium):
    from playwright.sync_api import expect

    page_id = manage(
        site["env"],
        "shell",
        "--no-imports",
        "-c",
        "from newsletters.models import NewsletterPage;"
        "print(NewsletterPage.objects.get(issue_number=3).pk)",
    ).stdout.strip()
    # The session's Chromium (tests/browser/conftest.py): a second sync_playwright() in
    # the same process fails once another browser test has started the shared one.
    with chromium.new_context() as browser:
        try:
            page = browser.new_page()
            page.goto(f"{site['url']}/admin/login/")
            page.fill("input[name=username]", "sam")
            page.fill("input[name=password]", "a-long-test-password")
            page.click("button[type=submit]")
            page.wait_for_url(f"{site['url']}/admin/")

            # From the issue's editor, the "Send or schedule…" action.
            page.goto(f"{site['url']}/admin/pages/{page_id}/edit/")
            page.locator("header button[aria-label=Actions]").first.click()
            page.get_by_role("link", name="Send or schedule…").click()
            page.wait_for_url(f"**/admin/campaigns/send/{page_id}/")

            page.get_by_label("PENELOPE newsletter").check()
            expect(page.locator("#recipient-count [data-count]")).to_have_text("44")
            expect(page.locator("#send-summary")).to_contain_text(
                "Send to 44 recipients on PENELOPE newsletter now."
            )
            page.click("#send-button")

            expect(page.locator("#progress-percent")).to_have_text("100 %", timeout=90_000)
            expect(page.locator("[data-field=status_label]")).to_have_text("Sent")
            # Once sent, no pause/resume/cancel is offered any more (updated live).
            expect(page.locator("[data-campaign-action]:visible")).to_have_count(0)
            expect(page.locator("#campaign-chart polyline[data-series=sent]")).to_have_count(1)

            page.get_by_role("link", name="Campaigns", exact=True).first.click()
            page.wait_for_url("**/admin/campaigns/")
            expect(page.locator("#campaigns tbody tr")).to_have_count(1)
            expect(page.locator("#campaigns tbody tr .w-status")).to_have_text("Sent")

            # Scheduling for later: Wagtail's date-time picker, a summary, then cancelling
            # asks for confirmation and leaves no action to take.
            page.goto(f"{site['url']}/admin/campaigns/send/{page_id}/")
            expect(page.locator(".xdsoft_datetimepicker").first).to_be_attached()
            page.get_by_label("PENELOPE newsletter").check()
            page.fill("input[name=send_at]", "2099-01-01 09:00")
            page.keyboard.press("Escape")
            expect(page.locator("#send-summary")).to_contain_text("at 2099-01-01 09:00")
            expect(page.locator("#send-button")).to_have_text("Schedule")
            page.click("#send-button")
            expect(page.locator("[data-field=status_label]")).to_have_text("Scheduled")
            expect(page.locator("[data-campaign-action]:visible")).to_have_count(1)
            page.once("dialog", lambda dialog: dialog.dismiss())
            page.get_by_role("button", name="Cancel campaign").click()
            expect(page.locator("[data-field=status_label]")).to_have_text("Scheduled")
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Cancel campaign").click()
            expect(page.locator("[data-field=status_label]")).to_have_text("Cancelled")
            expect(page.locator("[data-campaign-action]:visible")).to_have_count(0)
        finally:
            browser.close()
    assert site["smtp"].total == 44
