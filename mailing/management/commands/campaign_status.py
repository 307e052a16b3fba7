"""Status, counts and times of a campaign."""

import json

from django.core.management.base import BaseCommand, CommandError

from mailing.models import Campaign, DeliveryEvent

# Printed in this order; the event kinds count unique recipients, "clicks" every click.
KEYS = ("recipients", "sent", "failed", "pending", "started_at", "finished_at")


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
        data.update(campaign.event_counts())
        data["clicks"] = DeliveryEvent.objects.filter(
            delivery__campaign=campaign, kind=DeliveryEvent.Kind.CLICKED
        ).count()
        if options["json"]:
            self.stdout.write(json.dumps(data))
            return
        self.stdout.write(f"Campaign {campaign.pk} ({campaign.page.title}): {campaign.status}")
        for key in (*KEYS, *DeliveryEvent.Kind.values, "clicks"):
            self.stdout.write(f"  {key}: {data[key] if data[key] is not None else '-'}")
