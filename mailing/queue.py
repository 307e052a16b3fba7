"""Enqueueing django-q2 tasks once the transaction commits, by task path.

Imports neither ``mailing.tasks`` nor ``mailing.sending``, so whatever enqueues work
never imports what runs it.
"""

from django.conf import settings
from django.db import transaction
from django_q.tasks import async_task

from mailing.models import Campaign

DISPATCH = "mailing.tasks.dispatch"
SEND = "mailing.tasks.send_campaign"


def enqueue(task_path: str, *args, name: str, count: int = 1):
    """``count`` copies of the task, queued when the current transaction commits (at once
    outside one)."""

    def send():
        for _ in range(count):
            async_task(task_path, *args, task_name=name)

    transaction.on_commit(send)


def enqueue_now(task_path: str, *args, name: str):
    """Straight to the broker, for callers outside any transaction (a worker starting)."""
    async_task(task_path, *args, task_name=name)


def enqueue_dispatch():
    enqueue(DISPATCH, name="mailing-dispatch")


def enqueue_senders(campaign_id: int, count: int | None = None):
    """Sender tasks for a campaign: ``SENDING_CONCURRENCY`` of them, one when rate-limited."""
    if count is None:
        campaign = Campaign.objects.only("rate_limit").get(pk=campaign_id)
        # A rate limit is paced inside one sender; several would multiply it.
        count = 1 if campaign.rate_limit else max(1, settings.SENDING_CONCURRENCY)
    enqueue(SEND, campaign_id, name=f"send-campaign-{campaign_id}", count=count)
