"""The multi-language part of ``bench/send.py --languages N``: issue #3 translated into
N-1 more languages, the list's readers split evenly across the N, and the cost of
rendering each language once (what a campaign pays per language, not per recipient).

Run through ``manage.py shell`` in the benchmark's database (its own processes), so the
benchmark's figures come from the same code a campaign runs.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Issue #3 in other languages: the subject, as an editor would publish it.
TRANSLATIONS = {
    "fr": "La lettre PENELOPE n° 3 : notre manuel devient une bonne pratique en Europe",
    "de": "PENELOPE-Newsletter Nr. 3: Unser Handbuch wird selbst zur guten Praxis",
    "it": "Newsletter PENELOPE n. 3: il nostro manuale diventa una buona pratica",
    "es": "Boletín PENELOPE n.º 3: nuestro manual se convierte en una buena práctica",
    "ro": "Buletinul PENELOPE nr. 3: manualul nostru devine o bună practică",
    "fi": "PENELOPE-uutiskirje nro 3: käsikirjastamme tuli hyvä käytäntö",
    "nl": "PENELOPE-nieuwsbrief nr. 3: ons handboek wordt zelf een goede praktijk",
}

TRANSLATE = """
import json
from wagtail.models import Locale
from mailing.models import Subscriber
from newsletters.models import NewsletterPage
codes = {codes!r}
subjects = {subjects!r}
issue = NewsletterPage.objects.get(issue_number=3, locale__language_code="en")
for code in codes[1:]:
    locale, _ = Locale.objects.get_or_create(language_code=code)
    page = issue.get_translation_or_none(locale) or issue.copy_for_translation(
        locale, copy_parents=True
    )
    page = NewsletterPage.objects.get(pk=page.pk)
    page.subject = subjects[code]
    page.save_revision().publish()
ids = list(Subscriber.objects.order_by("pk").values_list("pk", flat=True))
for i, code in enumerate(codes):
    Subscriber.objects.filter(pk__in=ids[i :: len(codes)]).update(language=code)
print(json.dumps({{c: Subscriber.objects.filter(language=c).count() for c in codes}}))
"""

SAME_LANGUAGE = """
from mailing.models import Subscriber
Subscriber.objects.update(language="en")
"""

RENDER_COST = """
import json, time
from newsletters.models import NewsletterPage
from newsletters.rendering import render_email
out = {{}}
for page in NewsletterPage.objects.filter(issue_number=3, live=True).select_related("locale"):
    render_email(page)  # warm the template cache
    started = time.perf_counter()
    for _ in range({repeat}):
        render_email(page)
    out[page.locale.language_code] = (time.perf_counter() - started) / {repeat} * 1000
print(json.dumps(out))
"""


def shell(env, code) -> str:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"manage.py shell failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def codes_for(n: int) -> list[str]:
    if not 1 <= n <= len(TRANSLATIONS) + 1:
        raise SystemExit(f"--languages: between 1 and {len(TRANSLATIONS) + 1}")
    return ["en", *list(TRANSLATIONS)[: n - 1]]


def split_readers(env, n: int) -> dict[str, int]:
    """Translate issue #3 into n-1 languages and split the readers evenly; readers per
    language."""
    codes = codes_for(n)
    subjects = {code: TRANSLATIONS[code] for code in codes[1:]}
    return json.loads(shell(env, TRANSLATE.format(codes=codes, subjects=subjects)))


def one_language(env) -> None:
    shell(env, SAME_LANGUAGE)


def render_cost_ms(env, repeat: int = 5) -> dict[str, float]:
    """Milliseconds to render issue #3 once, per language."""
    return json.loads(shell(env, RENDER_COST.format(repeat=repeat)))
