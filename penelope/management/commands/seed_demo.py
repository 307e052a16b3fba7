from django.conf import settings
from django.core.management.base import BaseCommand

from penelope import demo


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
        self.stdout.write(
            f"Admin: {settings.SITE_URL}/admin/  user: {username}  password: {password} ({state})"
        )
