"""Status, counts and times of a campaign."""

import json

from django.core.management.base import BaseCommand, CommandError

from mailing.models import Campaign


class Command(BaseCommand):
    help = "Show a campaign's status and counts (recipients, sent, failed, pending)."

    def add_arguments(self, parser):
        parser.add_argument("campaign", type=int)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        campaign = Campaign.objects.filter(pk=options["campaign"]).first()
        if campaign is None:
            raise CommandError(f"No campaign {options['campaign']}.")
        data = {"status": campaign.status, **campaign.counts()}
        data["started_at"] = campaign.started_at.isoformat() if campaign.started_at else None
        data["finished_at"] = campaign.finished_at.isoformat() if campaign.finished_at else None
        if options["json"]:
            self.stdout.write(json.dumps(data))
            return
        self.stdout.write(f"Campaign {campaign.pk} ({campaign.page.title}): {campaign.status}")
        for key in ("recipients", "sent", "failed", "pending", "started_at", "finished_at"):
            self.stdout.write(f"  {key}: {data[key] if data[key] is not None else '-'}")
