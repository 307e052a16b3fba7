"""Read the bounce mailbox once and print what was done."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mailing import bounce_mailbox


class Command(BaseCommand):
    help = (
        "Read BOUNCE_MAILBOX once: match each bounce to its delivery, suppress hard bounces, "
        "count soft ones, and print a summary (the worker also does it on a schedule)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--mailbox", help="a mailbox URL instead of BOUNCE_MAILBOX")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args, **options):
        url = options["mailbox"] or settings.BOUNCE_MAILBOX
        if not url:
            raise CommandError("BOUNCE_MAILBOX is not set (nor --mailbox given).")
        try:
            summary = bounce_mailbox.process(url)
        except bounce_mailbox.MailboxError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(summary.as_dict()))
            return
        self.stdout.write(f"Bounce mailbox: {summary}.")
