"""An editor previews a draft interview in the admin's preview panel, in Chromium.

Without a front end (a fresh `make run`) the panel shows the CMS's own templates; with
one configured it shows the front end's preview route, which reads the draft from
`/api/v2/page_preview/` (wagtail-headless-preview).
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.browser

# The smallest front end that previews drafts: what the README asks of a real one.
FRONT_END_PREVIEW = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Front end</title></head>
<body><main><p>Loading the draft…</p></main>
<script>
  const params = new URLSearchParams(location.search);
  const api = "%(cms)s/api/v2/page_preview/?" + new URLSearchParams({
    content_type: params.get("content_type"), token: params.get("token")});
  fetch(api).then(r => r.json()).then(page => {
    document.querySelector("main").innerHTML = "";
    const h1 = document.createElement("h1");
    h1.textContent = "Front end: " + page.title;
    const quote = document.createElement("blockquote");
    quote.textContent = page.pull_quote;
    document.querySelector("main").append(h1, quote);
  });
</script></body></html>
"""


@pytest.fixture
def front_end(live_site):
    """A front end on loopback whose /preview/ route renders the draft from the API."""
    body = (FRONT_END_PREVIEW % {"cms": live_site["url"]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            status = 200 if self.path.startswith("/preview/") else 404
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body if status == 200 else b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _sign_in(page, url):
    page.goto(f"{url}/admin/login/")
    page.get_by_label("Username").fill("editor")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/admin/")


def _preview_draft(page, url, interview, pull_quote):
    """Open the interview in the editor, change its pull quote (unsaved) and open the
    preview panel, which renders the form as it stands."""
    # The admin remembers an open side panel; start from a closed one.
    page.evaluate("window.localStorage.clear()")
    page.goto(f"{url}/admin/pages/{interview.pk}/edit/")
    page.get_by_role("textbox", name="Pull quote").fill(pull_quote)
    page.get_by_role("button", name="Toggle preview").click()
    # While it reloads, Wagtail loads the next preview in a second frame, then swaps.
    return page.frame_locator("iframe[title='Preview']").last


def test_an_editor_previews_a_draft_interview_with_and_without_a_front_end(
    live_site, seeded, editor, front_end, browser_page, settings
):
    from playwright.sync_api import expect

    # As on a fresh `make run`: no front end, the CMS's own templates.
    settings.FRONTEND_PREVIEW_URL = ""
    interview = seeded["interviews"][0]
    published_quote = interview.pull_quote
    page = browser_page
    _sign_in(page, live_site["url"])

    preview = _preview_draft(
        page, live_site["url"], interview, "A draft quote that nobody has published yet."
    )

    expect(preview.get_by_role("heading", level=1)).to_have_text(interview.title)
    note = preview.get_by_role("note", name="About this preview")
    expect(note).to_contain_text("Preview with the CMS's own page templates.")
    expect(note).to_contain_text("FRONTEND_URL")
    expect(preview.get_by_text("A draft quote that nobody has published yet.")).to_be_visible()
    interview.refresh_from_db()
    assert interview.pull_quote == published_quote  # previewing published nothing

    # With a front end configured, the panel shows its preview route.
    settings.FRONTEND_PREVIEW_URL = f"{front_end}/preview"
    settings.WAGTAIL_HEADLESS_PREVIEW = {
        **settings.WAGTAIL_HEADLESS_PREVIEW,
        "CLIENT_URLS": {"default": f"{front_end}/preview"},
    }
    settings.CORS_ALLOWED_ORIGINS = [front_end]
    preview = _preview_draft(
        page, live_site["url"], interview, "Seen on the front end before publishing."
    )
    expect(preview.get_by_role("heading", level=1)).to_have_text(
        f"Front end: {interview.title}", timeout=20_000
    )
    expect(preview.get_by_text("Seen on the front end before publishing.")).to_be_visible()

    # The CMS's templates stay a second preview mode.
    page.get_by_label("Preview mode").select_option(label="CMS templates")
    expect(preview.get_by_role("note", name="About this preview")).to_contain_text(
        "Choose “Website” in the preview mode menu", timeout=20_000
    )
    expect(preview.get_by_text("Seen on the front end before publishing.")).to_be_visible()
