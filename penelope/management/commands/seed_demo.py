import os

from django.conf import settings
from django.core.management.base import BaseCommand

from penelope import demo, env


def served_address() -> str:
    """Where this site is served: HOST and PORT when set (``make run``), else SITE_URL."""
    if os.environ.get("HOST") or os.environ.get("PORT"):
        return env.served_url(os.environ.get("HOST"), os.environ.get("PORT"))
    return settings.SITE_URL


class Command(BaseCommand):
    help = "Load the demo content rebuilt from PENELOPE newsletter #3 (idempotent)."

    def handle(self, *args, **options):
        content = demo.seed_all()
        username, password, created = demo.seed_admin()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo content ready: {len(content['interviews'])} interviews, "
                f"{len(content['events'])} events, the handbook and newsletter "
                f"#{content['newsletter'].issue_number}."
            )
        )
        state = "created" if created else "already existed; password unchanged since creation"
        address = served_address()
        self.stdout.write(
            f"Admin: {address}/admin/  user: {username}  password: {password} ({state})"
        )
        if address != settings.SITE_URL:
            self.stdout.write(
                f"Links in emails and the API start with SITE_URL: {settings.SITE_URL}"
            )
