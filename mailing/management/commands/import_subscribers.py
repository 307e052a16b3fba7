"""import_subscribers FILE --list SLUG [--confirmed] [--dry-run]: see mailing.importing."""

import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mailing import import_jobs
from mailing.import_formats import map_headers
from mailing.importing import (
    BATCH_SIZE,
    ImportFileError,
    check_file,
    import_subscribers,
    read_header,
)
from mailing.models import MailingList
from mailing.spreadsheets import DELIMITER_CHOICES, ENCODING_CHOICES


class Command(BaseCommand):
    help = (
        "Import subscribers from a CSV or text file with a header row (a spreadsheet, or the "
        "export of Mailchimp, listmonk, Ghost, Substack, Brevo or Buttondown) into a list, "
        "created if missing. The encoding and the delimiter are detected; people the file "
        "shows as unsubscribed are recorded so, bounced and complained addresses are "
        "suppressed. Rejected rows are written beside the file with their line and reason."
    )

    # A data command: the project's system checks (which import every URL, API and
    # webhook module, about a second) are for `check`, `runserver` and deployments.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV or text file with a header row")
        parser.add_argument("--list", required=True, dest="list_slug", help="list slug")
        parser.add_argument(
            "--confirmed",
            action="store_true",
            help="you hold each person's consent: confirm subscriptions at once",
        )
        parser.add_argument("--consent-text", default="", help="consent wording to record")
        parser.add_argument(
            "--dry-run", action="store_true", help="show how the file is read and what would happen"
        )
        parser.add_argument(
            "--encoding",
            default="",
            choices=["", *(code for code, _label in ENCODING_CHOICES)],
            help="the file's encoding, when detection gets it wrong",
        )
        parser.add_argument(
            "--delimiter",
            default="",
            choices=["", *(code for code, _label in DELIMITER_CHOICES)],
            help="the column separator, when detection gets it wrong",
        )
        parser.add_argument(
            "--send-confirmations",
            action="store_true",
            help="send the people left pending their confirmation email (through the worker)",
        )
        parser.add_argument(
            "--send-welcome",
            action="store_true",
            help="send the people this import confirmed the list's welcome email",
        )
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args, file, list_slug, confirmed, consent_text, dry_run, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            text_format = check_file(
                path, encoding=options["encoding"], delimiter=options["delimiter"]
            )
        except ImportFileError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        header, mapping = read_header(path, text_format)
        self.stdout.write(
            f"Reading {path.name} as {mapping.name} "
            f"({text_format.encoding_label}, columns separated by {text_format.delimiter_label})."
        )
        if dry_run or options["verbosity"] > 1:
            for column in map_headers(header).columns:
                self.stdout.write(f"  {column.header or '–'} → {column.label}")
        mailing_list = MailingList.objects.filter(slug=list_slug).first()
        if mailing_list is None and dry_run:
            mailing_list = MailingList(slug=list_slug, name=list_slug)  # counted, not created
        elif mailing_list is None:
            with transaction.atomic():
                mailing_list, created = MailingList.objects.get_or_create(
                    slug=list_slug, defaults={"name": list_slug.replace("-", " ").capitalize()}
                )
            if created:
                self.stdout.write(f'Created list "{mailing_list.slug}".')
        rejects_path = path.with_name(f"{path.stem}.rejected.csv")
        import_id = uuid.uuid4().hex
        kwargs = {
            "confirmed": confirmed,
            "source_label": f"import: {path.name}"[:100],
            "consent_text": consent_text,
            "batch_size": options["batch_size"],
            "text_format": text_format,
            "import_id": import_id,
        }
        if dry_run:
            report = import_subscribers(path, mailing_list, dry_run=True, **kwargs)
            self.stdout.write(f'Dry run: nothing written. Importing into "{list_slug}" would give:')
            for line in report.summary_lines():
                self.stdout.write(f"  {line}")
            return
        with rejects_path.open("w", newline="", encoding="utf-8") as rejects:
            report = import_subscribers(path, mailing_list, rejects=rejects, **kwargs)
        self.stdout.write(f'Imported {path.name} into "{mailing_list.slug}":')
        for line in report.summary_lines():
            self.stdout.write(f"  {line}")
        if report.rejected:
            self.stdout.write(f"Rejected rows, with their line and reason: {rejects_path}")
        else:
            rejects_path.unlink(missing_ok=True)
        if options["send_welcome"] and mailing_list.welcome_issue_id:
            people = import_jobs.queue_welcomes(import_id)
            self.stdout.write(f"Welcome email queued for {people} people.")
        if report.pending:
            if options["send_confirmations"]:
                people = import_jobs.queue_confirmations(import_id, by="import_subscribers")
                self.stdout.write(f"Confirmation email queued for {people} people.")
            else:
                self.stdout.write(
                    f"{report.pending} subscriptions wait for confirmation; nobody was emailed "
                    "(import with --send-confirmations to send them the confirmation email)."
                )
