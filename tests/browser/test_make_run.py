"""`PORT=<not 8000> make run`, as a new user starts it: every absolute link the site writes
(admin, API, email, site pages) leads back to the port that is actually served.

The Makefile's own `run` target starts migrate, seed_demo, the worker and the web server,
on a throw-away VAR_DIR and database; only the virtualenv step is skipped (`make -o
install`, with this test's Python). Mail goes to the default local catcher (VAR_DIR/mail).
"""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from email import message_from_bytes, policy
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE = "/usr/bin/make"
LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}  # noqa: S104 - names, not a bind
URL = re.compile(r"""https?://[^\s"'<>()\\,;]+""")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(MAKE).exists(), reason="make is not installed"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def elsewhere(text: str, port: int) -> list[str]:
    """Absolute URLs on this machine that point at another port than ``port``."""
    found = []
    for url in URL.findall(text):
        parts = urlsplit(url)
        if parts.hostname in LOOPBACK and parts.port != port:
            found.append(url)
    return found


def wait_for(check, timeout, what, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url, data=None, headers=None):
    """(status, headers, body text) without following redirects."""
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except HTTPError as error:
        return error.code, error.headers, error.read().decode()


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("make-run")
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "EMAIL_", "SENDING_", "Q_"))
        and key
        not in {"SITE_URL", "FRONTEND_URL", "SECRET_KEY", "VAR_DIR", "HOST", "ALLOWED_HOSTS"}
    }
    env.update(
        PORT=str(port),
        VAR_DIR=str(tmp / "var"),
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        LOG_LEVEL="WARNING",
    )
    log = tmp / "make-run.log"
    process = subprocess.Popen(  # noqa: S603
        [MAKE, "-o", "install", "run", f"PY={sys.executable}"],
        cwd=ROOT,
        env=env,
        stdout=open(log, "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: make's trap stops both servers
    )

    def serving():
        if process.poll() is not None:
            raise AssertionError(f"make run exited:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return "Starting the worker" in log.read_text()
        except OSError:
            return False

    try:
        wait_for(serving, 300, "make run to serve", log)
        yield {"url": f"http://127.0.0.1:{port}", "port": port, "env": env, "var": tmp / "var"}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
        # The worker's own processes can outlive make (one was found still running half
        # an hour after the suite): whatever is left of the group goes too.
        deadline = time.monotonic() + 10
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_seed_demo_prints_the_address_served(make_run):
    log = (make_run["var"].parent / "make-run.log").read_text()
    assert f"Admin: {make_run['url']}/admin/  user: admin  password: penelope-demo" in log
    assert "Links in emails" not in log  # SITE_URL is that same address
    assert ":8000" not in log


def test_home_page_archive_and_issue_link_here(make_run):
    port = make_run["port"]
    for path in ("/", "/newsletter/", "/newsletter/newsletter-3/"):
        status, _headers, body = fetch(make_run["url"] + path)
        assert status == 200, path
        assert not elsewhere(body, port), path
    status, _headers, issue = fetch(make_run["url"] + "/newsletter/newsletter-3/")
    assert f"{make_run['url']}/media/images/" in issue


def test_api_detail_urls_and_find_point_here(make_run):
    url, port = make_run["url"], make_run["port"]
    status, _headers, body = fetch(f"{url}/api/v2/pages/?limit=100")
    assert status == 200
    items = json.loads(body)["items"]
    assert items and all(i["meta"]["detail_url"].startswith(f"{url}/api/v2/") for i in items)
    assert not elsewhere(body, port)
    for endpoint in ("images", "documents"):
        status, _headers, body = fetch(f"{url}/api/v2/{endpoint}/")
        assert status == 200 and f"{url}/api/v2/{endpoint}/" in body
        assert not elsewhere(body, port)
    events = next(i for i in items if i["meta"]["slug"] == "events")
    status, headers, _body = fetch(f"{url}/api/v2/pages/find/?html_path=/events/")
    assert status == 302
    assert headers["Location"].startswith(f"{url}/api/v2/pages/{events['id']}/")
    status, _headers, body = fetch(headers["Location"])
    assert status == 200 and not elsewhere(body, port)


def caught(var: Path, count: int) -> list:
    def enough():
        files = sorted((var / "mail").glob("*.eml"))
        return files if len(files) >= count else None

    files = wait_for(enough, 120, f"{count} caught message(s)")
    return [message_from_bytes(path.read_bytes(), policy=policy.default) for path in files]


def test_emails_sent_by_the_worker_link_here(make_run):
    url, port = make_run["url"], make_run["port"]
    # A signup: the worker `make run` started sends the confirmation.
    status, _headers, _body = fetch(
        f"{url}/api/subscriptions/",
        data=json.dumps({"email": "ada@example.org", "lists": ["newsletter"]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 202
    (confirmation,) = caught(make_run["var"], 1)
    text = confirmation.get_body(("plain",)).get_content()
    assert f"{url}/subscriptions/confirm/" in text
    for part in confirmation.walk():
        if part.get_content_maintype() == "text":
            assert not elsewhere(part.get_content(), port)

    # Issue #3 to the demo list: the campaign is rendered and sent by that same worker.
    env = {**make_run["env"], "DJANGO_SETTINGS_MODULE": "penelope.settings"}
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "send_newsletter", "newsletter-3", "--list", "newsletter"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    messages = caught(make_run["var"], 2)
    issue = next(m for m in messages if m["Subject"].startswith("PENELOPE newsletter #3"))
    html = issue.get_body(("html",)).get_content()
    assert f"{url}/media/images/" in html and f"{url}/subscriptions/unsubscribe/" in html
    assert not elsewhere(html, port)
    assert not elsewhere(issue.get_body(("plain",)).get_content(), port)
    assert not elsewhere(issue["List-Unsubscribe"], port)


# Every address the admin page holds: links, images, scripts, forms, and any text.
ADDRESSES_JS = """
() => {
  const names = ['href', 'src', 'action', 'srcset', 'data-url'];
  const absolute = (value) => {
    try { return new URL(value.trim().split(/\\s+/)[0], document.baseURI).href; }
    catch (error) { return value; }
  };
  return [...document.querySelectorAll(names.map(name => `[${name}]`).join(','))]
    .flatMap(el => names.map(name => el.getAttribute(name)).filter(Boolean).map(absolute));
}
"""


def test_admin_links_stay_on_the_served_port(make_run, chromium):
    url, port = make_run["url"], make_run["port"]
    context = chromium.new_context(locale="en-GB")
    page = context.new_page()
    try:
        page.goto(f"{url}/admin/login/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill("penelope-demo")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{url}/admin/")
        ids = {}
        for slug in ("newsletter", "newsletter-3"):
            _status, _headers, body = fetch(f"{url}/api/v2/pages/?slug={slug}")
            (item,) = json.loads(body)["items"]
            ids[slug] = item["id"]
        visited = [
            f"{url}/admin/",
            f"{url}/admin/pages/{ids['newsletter']}/",
            f"{url}/admin/pages/{ids['newsletter-3']}/edit/",
            f"{url}/admin/pages/{ids['newsletter-3']}/view_draft/",
        ]
        for address in visited:
            response = page.goto(address)
            assert response.status == 200, address
            addresses = page.evaluate(ADDRESSES_JS)
            assert addresses
            assert not elsewhere(" ".join(addresses), port), address
            assert not elsewhere(page.content(), port), address
    finally:
        context.close()
