"""Create and schedule a campaign for a newsletter page, or send it as a test right away."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from mailing import campaigns
from mailing.models import MailingList, Segment
from mailing.sending import proof
from newsletters.models import NewsletterPage


class Command(BaseCommand):
    help = "Schedule a newsletter issue for one or more lists, or send test copies now."

    def add_arguments(self, parser):
        parser.add_argument("page", help="Newsletter page id or slug")
        parser.add_argument("--list", action="append", default=[], dest="lists", metavar="SLUG")
        parser.add_argument(
            "--segment", metavar="SLUG", help="Only the list subscribers this segment selects"
        )
        parser.add_argument("--at", help="Send time, ISO-8601 (default: now)")
        parser.add_argument("--test-to", action="append", default=[], metavar="EMAIL")
        parser.add_argument("--rate", type=int, help="Messages per second at most")
        parser.add_argument(
            "--only-new",
            action="store_true",
            help="Leave out subscribers an earlier campaign of this issue reached",
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        page = self.find_page(options["page"])
        if options["test_to"]:
            if options["lists"] or options["segment"]:
                raise CommandError(
                    "--test-to sends to the given addresses only; drop --list and --segment."
                )
            try:
                result = proof.send_test(page, options["test_to"])
            except proof.TestSendError as exc:
                raise CommandError(str(exc)) from exc
            if options["json"]:
                self.stdout.write(json.dumps({"test_sent": result.sent, "draft": result.draft}))
            else:
                shown = "the latest draft" if result.draft else "the published version"
                self.stdout.write(f"Sent {result.sent} test message(s) of {shown}.")
            return
        if not options["lists"]:
            raise CommandError("Give at least one --list SLUG (or --test-to EMAIL).")
        lists = list(MailingList.objects.filter(slug__in=options["lists"]))
        missing = set(options["lists"]) - {ml.slug for ml in lists}
        if missing:
            raise CommandError(f"Unknown list(s): {', '.join(sorted(missing))}")
        segment = None
        if options["segment"]:
            segment = Segment.objects.filter(slug=options["segment"]).first()
            if segment is None:
                raise CommandError(f"Unknown segment: {options['segment']}")
        send_at = self.parse_time(options["at"]) if options["at"] else None
        if not page.live:
            raise CommandError(str(campaigns.NotPublished(page)))
        only_new = options["only_new"]
        for earlier in campaigns.earlier_sends(page, lists):
            names = ", ".join(ml.name for ml in earlier.lists.all())
            self.stderr.write(
                f"Warning: campaign {earlier.pk} already sent this issue to {names}"
                f" ({earlier.sent} recipient(s))."
                + ("" if only_new else " Add --only-new to leave them out.")
            )
        # Created and confirmed in one step: running the command is the confirmation.
        with transaction.atomic():
            campaign = campaigns.create(
                page, lists, send_at=send_at, rate_limit=options["rate"], segment=segment
            )
            campaigns.schedule(campaign, exclude_received=only_new)
        recipients = campaigns.count_recipients(
            lists, exclude_received_of=page.pk if only_new else None, segment=segment
        )
        if options["json"]:
            self.stdout.write(json.dumps({"campaign": campaign.pk, "recipients": recipients}))
        else:
            when = timezone.localtime(campaign.send_at).isoformat(timespec="seconds")
            self.stdout.write(
                f"Campaign {campaign.pk}: {recipients} recipient(s), scheduled for {when}."
            )

    def find_page(self, value):
        pages = NewsletterPage.objects.all()
        page = pages.filter(pk=value).first() if value.isdigit() else None
        page = page or pages.filter(slug=value).first()
        if page is None:
            raise CommandError(f"No newsletter page with id or slug {value!r}.")
        return page

    def parse_time(self, value):
        moment = parse_datetime(value)
        if moment is None:
            raise CommandError(f"--at: not an ISO-8601 date and time: {value!r}")
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment
