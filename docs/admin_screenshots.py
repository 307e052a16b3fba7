"""Regenerate the README's admin screenshots with Debian's headless Chromium.

Starts the product on a throw-away database (migrate + seed_demo), logs in as the demo
admin and photographs the screens an editor uses most:

    .venv/bin/python docs/admin_screenshots.py
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

# (file name, path relative to /admin/ or a callable that finds it, what to wait for)
SHOTS = [
    ("admin-newsletter-editor", "newsletter-edit"),
    ("admin-send-or-schedule", "send"),
    ("admin-send-confirm", "confirm"),
    ("admin-campaign-report", "campaign"),
    ("admin-subscribers", "/admin/snippets/mailing/subscriber/"),
    ("admin-interview-editor", "interview-edit"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from docs.screenshots import CHROMIUM_ARGS, _shrink

    with tempfile.TemporaryDirectory(prefix="admin-shots-") as tmp:
        port = free_port()
        env = {
            **os.environ,
            "DEBUG": "1",
            "VAR_DIR": tmp,
            "DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3",
            "MEDIA_ROOT": f"{tmp}/media",
            "SITE_URL": f"http://127.0.0.1:{port}",
            "DJANGO_SETTINGS_MODULE": "penelope.settings",
        }
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
        subprocess.run(
            [*manage, "seed_demo"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL
        )
        ids = subprocess.run(
            [
                *manage,
                "shell",
                "--no-imports",
                "-c",
                "from newsletters.models import NewsletterPage as N;"
                "from interviews.models import InterviewPage as I;"
                "en = {'locale__language_code': 'en'};"
                "print(N.objects.get(issue_number=3, **en).pk, I.objects.filter(**en).first().pk)",
            ],
            env=env,
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.split()
        # Send issue #3 to the demo list through a worker, for the campaign screens.
        campaign = json.loads(
            subprocess.run(
                [*manage, "send_newsletter", ids[0], "--list", "newsletter", "--json"],
                env=env,
                check=True,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )["campaign"]
        worker = subprocess.Popen(
            [*manage, "qcluster"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(120):
                status = json.loads(
                    subprocess.run(
                        [*manage, "campaign_status", str(campaign), "--json"],
                        env=env,
                        check=True,
                        cwd=ROOT,
                        capture_output=True,
                        text=True,
                    ).stdout
                )
                if status["status"] == "sent":
                    break
                time.sleep(1)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        paths = {
            "newsletter-edit": f"/admin/pages/{ids[0]}/edit/",
            "interview-edit": f"/admin/pages/{ids[1]}/edit/",
            "send": f"/admin/campaigns/send/{ids[0]}/",
            "campaign": f"/admin/campaigns/{campaign}/",
        }
        server = subprocess.Popen(
            [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            from playwright.sync_api import sync_playwright

            OUT.mkdir(parents=True, exist_ok=True)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"{base}/admin/login/")
                page.fill("input[name=username]", "admin")
                page.fill(
                    "input[name=password]", os.environ.get("DEMO_ADMIN_PASSWORD", "penelope-demo")
                )
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/admin/")
                for name, target in SHOTS:
                    if target == "confirm":
                        # The confirmation an editor passes before any list gets the
                        # issue: a draft campaign made from the send screen.
                        page.goto(base + paths["send"])
                        page.get_by_label("PENELOPE newsletter").check()
                        page.get_by_role("button", name="Review and send now…").click()
                        page.wait_for_url("**/confirm/")
                    else:
                        page.goto(base + paths.get(target, target))
                    if target == "interview-edit":
                        # With its preview open: the CMS's own templates on a fresh install.
                        page.get_by_role("button", name="Toggle preview").click()
                        page.frame_locator("iframe[title='Preview']").last.locator(
                            "h1"
                        ).first.wait_for()
                    page.wait_for_load_state("networkidle")
                    path = OUT / f"{name}.png"
                    page.screenshot(path=str(path))
                    _shrink(path)
                    print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
