"""The demo of newsletter #3 (seed/newsletter-3.txt): every app's demo data, in flow order.

Each app keeps its own demo data (``cms.demo``, ``interviews.demo``, ``newsletters.demo``,
``mailing.demo``); this module runs them in the order content → newsletters → mailing,
each seeder adding its objects to one dict the next ones read. Every object is looked up
by a natural key before it is created, so running the seed twice changes nothing.
"""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.db import transaction

from cms.demo import seed_content, seed_french_site, seed_site
from interviews.demo import seed_french_interviews, seed_interviews
from mailing.demo import seed_mailing
from newsletters.demo import seed_french_newsletter, seed_newsletter

# The home page and organisations first (everything hangs from them); the interviews
# index before the other indexes, so the site's sections keep the seed's order.
SEEDERS = [seed_interviews, seed_content, seed_newsletter, seed_mailing]
# The French translation of issue #3, its interviews and what they hang from (the
# demo's second language, made with wagtail-localize as a translator's PO file would).
TRANSLATION_SEEDERS = [seed_french_site, seed_french_interviews, seed_french_newsletter]


@transaction.atomic
def seed_all(*, translations: bool = True) -> dict:
    content = seed_site()
    for seeder in SEEDERS + (TRANSLATION_SEEDERS if translations else []):
        content.update(seeder(content) or {})
    return content


def seed_admin() -> tuple[str, str, bool]:
    """The demo administrator; its password is set once, at creation."""
    username = os.environ.get("DEMO_ADMIN_USERNAME", "admin")
    password = os.environ.get("DEMO_ADMIN_PASSWORD", "penelope-demo")
    User = get_user_model()  # noqa: N806
    if User.objects.filter(username=username).exists():
        return username, password, False
    User.objects.create_superuser(username, "admin@example.org", password)
    return username, password, True
