"""django-q2 entry points: thin, taking ids; the work is in mailing.sending."""

import logging

from django.conf import settings
from django.db import transaction
from django_q.tasks import async_task

from mailing import sending
from mailing.models import Campaign, Delivery

logger = logging.getLogger(__name__)

DISPATCH = "mailing.tasks.dispatch"
SEND = "mailing.tasks.send_campaign"


def dispatch(force: bool = False):
    """Start due campaigns and keep every sending campaign served by senders.

    Runs from the periodic schedule, after scheduling, and when a worker process starts
    (``force``: tasks in flight may have died with the previous cluster).
    """
    started_now = set()
    for campaign_id in sending.due_campaign_ids():
        try:
            started = sending.start_campaign(campaign_id)
        except Exception as exc:
            # Rendering or the ledger failed: say so on the campaign instead of retrying
            # the same error every minute.
            logger.exception("campaign %s could not start", campaign_id)
            Campaign(pk=campaign_id).transition(
                Campaign.Status.FAILED, expect=[Campaign.Status.SCHEDULED], error=str(exc)[:2000]
            )
            continue
        if started:
            started_now.add(campaign_id)
            enqueue_senders(campaign_id)
    sending.requeue_expired()
    sending_now = Campaign.objects.filter(status=Campaign.Status.SENDING).exclude(
        pk__in=started_now
    )
    for campaign in sending_now:
        working = campaign.deliveries.filter(status=Delivery.Status.LEASED).exists()
        if force or not working:
            enqueue_senders(campaign.pk)


def send_campaign(campaign_id: int):
    """Send leased chunks until the campaign is done, stopped, or this task's time is up."""
    outcome = sending.run_sender(campaign_id)
    if outcome == "more":
        async_task(SEND, campaign_id, task_name=f"send-campaign-{campaign_id}")
    return outcome


def enqueue_dispatch():
    transaction.on_commit(lambda: async_task(DISPATCH, task_name="mailing-dispatch"))


def enqueue_senders(campaign_id: int):
    campaign = Campaign.objects.only("rate_limit").get(pk=campaign_id)
    # A rate limit is paced inside one sender; several would multiply it.
    count = 1 if campaign.rate_limit else max(1, settings.SENDING_CONCURRENCY)

    def enqueue():
        for _ in range(count):
            async_task(SEND, campaign_id, task_name=f"send-campaign-{campaign_id}")

    transaction.on_commit(enqueue)


def on_worker_spawn(sender, proc_name=None, **kwargs):
    """A (re)started worker picks up campaigns whose tasks died with a previous cluster."""
    try:
        async_task(DISPATCH, True, task_name="mailing-dispatch")
    except Exception:  # noqa: BLE001 - a broker hiccup must not stop the worker
        logger.exception("could not enqueue the campaign dispatcher")
