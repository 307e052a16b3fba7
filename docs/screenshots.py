"""Regenerate docs/screenshots/: the seed issue at desktop and phone widths.

Sets up its own throw-away database and media (a temporary directory), seeds the demo,
renders newsletter #3 and photographs it with Debian's headless Chromium:

    /work/main/.venv/bin/python docs/screenshots.py   # or .venv/bin/python from a checkout
"""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Headless, and quiet on this closed network (no background connections).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# (file name suffix, viewport, colour scheme the mail client asks for)
SHOTS = [
    ("desktop", (1024, 900), "light"),
    ("phone", (390, 844), "light"),
    ("phone-dark", (390, 844), "dark"),
]


def setup_django(tmp: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "penelope.settings"
    os.environ.setdefault("DEBUG", "1")
    os.environ["VAR_DIR"] = str(tmp)
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/db.sqlite3"
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115


def rendered_html() -> str:
    from newsletters.models import NewsletterPage
    from newsletters.rendering import personalise, render_email

    rendered = render_email(NewsletterPage.objects.get(issue_number=3))
    values = {"name": "Alex", "email": "alex@example.org", "web_url": "#"}
    return personalise(rendered.html, values, html=True)


def photograph(html: str, media_root: Path) -> None:
    from django.conf import settings
    from playwright.sync_api import sync_playwright

    media_prefix = settings.SITE_URL + settings.MEDIA_URL

    def serve_media(route):
        """Images come from the temporary media folder; nothing leaves the machine."""
        url = route.request.url
        path = media_root / url.removeprefix(media_prefix)
        if url.startswith(media_prefix) and path.is_file():
            route.fulfill(path=str(path))
        else:
            route.abort()

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, (width, height), scheme in SHOTS:
            page = browser.new_page(viewport={"width": width, "height": height})
            # Apple Mail and iOS follow the system's appearance through this media query.
            page.emulate_media(color_scheme=scheme)
            page.route("**/*", serve_media)
            page.set_content(html, wait_until="load")
            target = OUT / f"newsletter-3-{name}.png"
            page.screenshot(path=str(target), full_page=True)
            _shrink(target)
            print(f"{target.relative_to(ROOT)}: {target.stat().st_size // 1024} KB")
            page.close()
        browser.close()


def _shrink(path: Path, budget: int = 300 * 1024) -> None:
    """Palette PNGs keep the screenshots under the README's budget."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    colours = 64
    while True:
        image.quantize(colours).save(path, optimize=True)
        if path.stat().st_size <= budget or colours <= 16:
            break
        colours //= 2
    if path.stat().st_size > budget:
        image.thumbnail((image.width * 3 // 4, image.height * 3 // 4))
        image.quantize(32).save(path, optimize=True)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="newsletter-shots-") as tmp:
        setup_django(Path(tmp))
        from django.conf import settings

        photograph(rendered_html(), Path(settings.MEDIA_ROOT))


if __name__ == "__main__":
    main()
