"""import_subscribers FILE.csv --list SLUG [--confirmed]: see mailing.importing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mailing.importing import BATCH_SIZE, ImportFileError, import_subscribers
from mailing.models import MailingList


class Command(BaseCommand):
    help = (
        "Import subscribers from a CSV file (header row; email required, name, language, "
        "list and any other column kept as attributes) into a list, created if missing. "
        "Rejected rows are written beside the file with their reasons."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file, UTF-8, with a header row")
        parser.add_argument("--list", required=True, dest="list_slug", help="list slug")
        parser.add_argument(
            "--confirmed",
            action="store_true",
            help="you hold each person's consent: confirm subscriptions at once",
        )
        parser.add_argument("--consent-text", default="", help="consent wording to record")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args, file, list_slug, confirmed, consent_text, batch_size, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        with transaction.atomic():
            mailing_list, created = MailingList.objects.get_or_create(
                slug=list_slug, defaults={"name": list_slug.replace("-", " ").capitalize()}
            )
        if created:
            self.stdout.write(f'Created list "{mailing_list.slug}".')
        rejects_path = path.with_name(f"{path.stem}.rejected.csv")
        try:
            with (
                path.open(newline="", encoding="utf-8-sig") as source,
                rejects_path.open("w", newline="", encoding="utf-8") as rejects,
            ):
                report = import_subscribers(
                    source,
                    mailing_list,
                    confirmed=confirmed,
                    rejects=rejects,
                    source_label=f"import: {path.name}"[:100],
                    consent_text=consent_text,
                    batch_size=batch_size,
                )
        except ImportFileError as exc:
            if exc.report is not None:
                self._summary(path, mailing_list, exc.report, rejects_path)
            else:
                rejects_path.unlink(missing_ok=True)
            raise CommandError(f"{path}: {exc}") from exc
        except UnicodeDecodeError as exc:  # in the header line
            rejects_path.unlink(missing_ok=True)
            raise CommandError(f"{path}: not UTF-8 text ({exc})") from exc
        self._summary(path, mailing_list, report, rejects_path)

    def _summary(self, path, mailing_list, report, rejects_path):
        self.stdout.write(f'Imported {path.name} into "{mailing_list.slug}":')
        for line in report.summary_lines():
            self.stdout.write(f"  {line}")
        if report.rejected:
            self.stdout.write(f"Rejected rows, with reasons: {rejects_path}")
        else:
            rejects_path.unlink(missing_ok=True)
