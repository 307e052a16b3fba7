from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from newsletters.drafting import draft_next_issue
from newsletters.models import NewsletterIndexPage


class Command(BaseCommand):
    help = (
        "Draft the next newsletter issue from the interviews, good practices and events "
        "published since the last sent issue. Creates nothing when nothing is new."
    )

    def handle(self, *args, **options):
        try:
            result = draft_next_issue()
        except NewsletterIndexPage.DoesNotExist as error:
            raise CommandError(str(error)) from error
        since = result.content.last_sent
        since_text = f"issue #{since.issue_number} was sent" if since else "ever"
        if result.page is None:
            self.stdout.write(f"Nothing new since {since_text}: no draft created.")
            return
        edit_url = settings.SITE_URL + reverse("wagtailadmin_pages:edit", args=[result.page.pk])
        if not result.created:
            self.stdout.write(
                f"Draft issue #{result.page.issue_number} is already waiting: {edit_url}"
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Drafted issue #{result.page.issue_number} "
                f"({result.content.summary()} since {since_text}): {edit_url}"
            )
        )
