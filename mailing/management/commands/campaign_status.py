"""Status, counts and times of a campaign."""

import json

from django.core.management.base import BaseCommand, CommandError

from mailing.admin.reports import figures
from mailing.models import Campaign

# Printed in this order; all but "clicks" (every click) count recipients.
KEYS = ("recipients", "sent", "failed", "pending", "started_at", "finished_at")
FIGURES = (
    "delivered",
    "bounced",
    "bounced_hard",
    "bounced_soft",
    "complained",
    "opened",
    "machine_opened",
    "clicked",
    "clicks",
    "unsubscribed",
)


class Command(BaseCommand):
    help = "Show a campaign's status, counts (recipients, sent, failed, pending) and events."

    def add_arguments(self, parser):
        parser.add_argument("campaign", type=int)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        campaign = Campaign.objects.select_related("page").filter(pk=options["campaign"]).first()
        if campaign is None:
            raise CommandError(f"No campaign {options['campaign']}.")
        data = {"status": campaign.status, **campaign.counts()}
        data["started_at"] = campaign.started_at.isoformat() if campaign.started_at else None
        data["finished_at"] = campaign.finished_at.isoformat() if campaign.finished_at else None
        # Stores the clicks and opens still queued first, so the figures are current.
        report = figures(campaign)
        data.update({key: report[key] for key in FIGURES})
        if options["json"]:
            self.stdout.write(json.dumps(data))
            return
        self.stdout.write(f"Campaign {campaign.pk} ({campaign.page.title}): {campaign.status}")
        for key in (*KEYS, *FIGURES):
            self.stdout.write(f"  {key}: {data[key] if data[key] is not None else '-'}")
