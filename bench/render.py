"""Time to render the seed issue (MJML → HTML + text) and to personalise it per recipient.

Builds its own throw-away database (temporary SQLite + media), migrates and seeds it:

    python bench/render.py [--renders 20] [--recipients 10000]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup(tmp: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "penelope.settings"
    os.environ.setdefault("DEBUG", "1")
    os.environ["VAR_DIR"] = str(tmp)
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/db.sqlite3"
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--recipients", type=int, default=10_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        setup(Path(tmp))
        from mjml import mjml2html

        from newsletters.models import NewsletterPage
        from newsletters.rendering import Personaliser, personalise, render_email

        page = NewsletterPage.objects.get(issue_number=3)

        start = time.perf_counter()
        rendered = render_email(page)
        cold = time.perf_counter() - start  # includes creating the image renditions

        timings = []
        for _ in range(args.renders):
            fresh = NewsletterPage.objects.get(pk=page.pk)  # as a campaign would load it
            start = time.perf_counter()
            rendered = render_email(fresh)
            timings.append(time.perf_counter() - start)

        # The MJML compile on its own, to show where the time goes.
        from django.template.loader import render_to_string

        from newsletters.rendering import issue_context

        source = render_to_string("newsletters/email/issue.mjml", issue_context(page))
        start = time.perf_counter()
        for _ in range(args.renders):
            mjml2html(source, disable_comments=True)
        compile_only = (time.perf_counter() - start) / args.renders

        recipients = [
            {
                "name": f"Subscriber {i}",
                "email": f"subscriber{i}@example.org",
                "unsubscribe_url": f"https://cms.example.org/subscriptions/unsubscribe/{i:032x}/",
                "preferences_url": f"https://cms.example.org/subscriptions/preferences/{i:032x}/",
                "web_url": "https://cms.example.org/newsletters/3/",
            }
            for i in range(args.recipients)
        ]
        start = time.perf_counter()
        for values in recipients:
            personalise(rendered.html, values, html=True)
            personalise(rendered.text, values)
        per_recipient = (time.perf_counter() - start) / args.recipients

        # What a campaign does: split each part once, then one join per recipient.
        start = time.perf_counter()
        html_part = Personaliser(rendered.html, html=True)
        text_part = Personaliser(rendered.text)
        for values in recipients:
            html_part.fill(values)
            text_part.fill(values)
        per_recipient_split = (time.perf_counter() - start) / args.recipients

    print("Seed issue #3 (newsletter-3.txt): 7 blocks, 4 interviewees, 4 events")
    print(f"  HTML {rendered.html_bytes / 1024:.1f} KB, text {len(rendered.text) / 1024:.1f} KB")
    print(f"  first render (creates image renditions): {ms(cold)}")
    print(
        f"  render MJML → HTML + text, {args.renders} runs: "
        f"median {ms(statistics.median(timings))}, min {ms(min(timings))}, "
        f"max {ms(max(timings))}"
    )
    print(f"    of which mjml2html compile: {ms(compile_only)}")
    print(
        f"  personalise HTML + text, {args.recipients} recipients: "
        f"{per_recipient * 1e6:.1f} µs per recipient "
        f"({per_recipient * args.recipients:.2f} s in all)"
    )
    print(
        f"  with Personaliser (split once per campaign): "
        f"{per_recipient_split * 1e6:.1f} µs per recipient "
        f"({per_recipient_split * args.recipients:.2f} s in all)"
    )


if __name__ == "__main__":
    main()
