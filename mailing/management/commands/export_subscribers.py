"""export_subscribers --list SLUG: the list's subscriptions as CSV on stdout, in the
format of every export (mailing.exporting)."""

from django.core.management.base import BaseCommand, CommandError

from mailing.exporting import export_rows
from mailing.models import MailingList, Subscription
from mailing.spreadsheets import csv_lines


class Command(BaseCommand):
    help = (
        "Write a list's subscribers (with consent records) as CSV to stdout: UTF-8 with a "
        "byte-order mark, cells safe to open in a spreadsheet, as the admin exports them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--list", required=True, dest="list_slug", help="list slug")
        parser.add_argument(
            "--status", choices=Subscription.Status.values, help="only this subscription status"
        )

    def handle(self, *args, list_slug, status, **options):
        mailing_list = MailingList.objects.filter(slug=list_slug).first()
        if mailing_list is None:
            raise CommandError(f"No list with the slug {list_slug!r}.")
        try:
            for line in csv_lines(export_rows(mailing_list=mailing_list, status=status)):
                self.stdout.write(line, ending="")
        except BrokenPipeError:
            # `export_subscribers … | head`: the reader has what it wanted.
            pass
