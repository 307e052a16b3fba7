"""The sender a worker runs: lease a chunk, send it through the campaign's transport, record.

It knows the ledger and the transport contract only; which transport it has is
``transport_for``'s choice.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from django.db.models import Min, Q
from django.utils import timezone

from mailing import campaigns, variants
from mailing.models import Campaign, CampaignVariant, Delivery
from mailing.sending.ledger import (
    Ledger,
    Recipient,
    held,
    lease,
    release,
    renew,
    requeue_expired,
    setting,
)
from mailing.sending.transports import Fatal, transport_for

# The sender's clock (a name of its own, so a test can move it without moving every
# other clock of the process).
monotonic = time.monotonic


def worker_id() -> str:
    return f"{socket.gethostname()[:16]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Sender:
    """Leases chunks of one campaign and sends them until done, stopped or out of time."""

    def __init__(self, campaign_id: int, *, time_budget: float | None = None):
        self.campaign = Campaign.objects.select_related("page").get(pk=campaign_id)
        self.owner = worker_id()
        self.ledger = Ledger(self.owner)
        self.chunk_size = setting("SENDING_CHUNK_SIZE", 500)
        self.time_budget = time_budget or setting("SENDING_TASK_SECONDS", 120)
        self.transport = transport_for(self.campaign)
        # One transport per topic variant met (``mailing.variants``), built on first use.
        self.variant_transports = {}
        self.rate = self.campaign.rate_limit or 0
        self.sent_here = 0
        # Pause and cancel are read between messages: after this many, or this long.
        self.check_every = setting("SENDING_STATUS_CHECK_EVERY", 10)
        self.check_seconds = setting("SENDING_STATUS_CHECK_SECONDS", 0.5)
        self.unchecked, self.checked_at = 0, monotonic()
        self.stopped = False
        # Leased rows not yet written; None in ``mine``: all of them are still ours.
        self.outstanding, self.mine = 0, None
        # When the leases were taken or last extended, on this worker's clock.
        self.lease_seconds = setting("SENDING_LEASE_SECONDS", 300)
        self.leased_at = monotonic()

    def run(self) -> str:
        """'done', 'stopped' (paused/cancelled), 'idle' (only later retries are left) or
        'more' (time is up; enqueue again)."""
        started = monotonic()
        self.started = started
        try:
            while monotonic() - started < self.time_budget:
                if not self.still_sending():
                    return "stopped"
                requeue_expired(self.campaign.pk)
                chunk = lease(self.campaign.pk, self.owner, self.chunk_size)
                self.outstanding, self.mine = len(chunk), None
                self.leased_at = monotonic()
                if chunk:
                    if not self.send_chunk(chunk):
                        return "stopped"
                    continue
                if campaigns.finish_if_done(self.campaign):
                    return "done"
                if not self.still_sending():
                    return "stopped"
                # Rows wait for a retry time or for another worker's lease. A short wait is
                # slept here; a long one frees the worker (the dispatcher's every-minute
                # tick enqueues senders again).
                wait = self.wait_seconds()
                if wait is None:
                    return "idle"
                time.sleep(max(0.05, min(wait, self.time_budget - (monotonic() - started))))
            return "more"
        finally:
            try:
                self.ledger.settle()
            finally:
                release(self.owner)
                self.transport.close()
                for transport in self.variant_transports.values():
                    transport.close()
                if self.stopped:
                    campaigns.settle_stopped(self.campaign.pk)

    def still_sending(self) -> bool:
        """The campaign's status (on PostgreSQL as read by the last result write answered,
        else one primary-key read); False (and ``stopped``) once paused or ended.

        While sending, the leases are extended once half their time has passed: a chunk
        slower than the lease (a loaded machine, a slow server) is not handed to another
        worker and mailed twice. Rows already taken over (the lease ran out before this
        check: the worker stalled) are left to their new owner."""
        self.unchecked, self.checked_at = 0, monotonic()
        status = self.ledger.campaign_status(self.campaign.pk)
        self.stopped = status != Campaign.Status.SENDING
        half_gone = self.checked_at - self.leased_at >= self.lease_seconds / 2
        if not self.stopped and self.outstanding and half_gone:
            self.leased_at = self.checked_at
            if renew(self.owner) < self.outstanding:
                self.mine = held(self.owner)
        return not self.stopped

    def check_due(self) -> bool:
        return (
            self.unchecked >= self.check_every
            or monotonic() - self.checked_at >= self.check_seconds
        )

    def wait_seconds(self) -> float | None:
        """Seconds until a row may be due again (at most 2), or None when that is far off."""
        now = timezone.now()
        nexts = Delivery.objects.filter(campaign=self.campaign).aggregate(
            retry=Min(
                "next_attempt_at",
                filter=Q(status=Delivery.Status.PENDING, next_attempt_at__gt=now),
            ),
            lease=Min("lease_expires_at", filter=Q(status=Delivery.Status.LEASED)),
        )
        moments = [m for m in nexts.values() if m is not None]
        wait = min(((m - now).total_seconds() for m in moments), default=1.0)
        if wait > setting("SENDING_MAX_WAIT_SECONDS", 15):
            return None
        return min(wait + 0.05, 2.0)

    def transport_of(self, variant_id):
        if variant_id is None:
            return self.transport
        if variant_id not in self.variant_transports:
            variant = CampaignVariant.objects.get(pk=variant_id)
            self.variant_transports[variant_id] = transport_for(
                variants.as_campaign(self.campaign, variant), like=self.transport
            )
        return self.variant_transports[variant_id]

    def send_chunk(self, chunk: list[Recipient]) -> bool:
        """Send a leased chunk, each topic variant through its own transport; False when
        the campaign stopped (the rest goes back to the queue when ``run`` releases it)."""
        groups = {}
        for recipient in chunk:
            groups.setdefault(recipient.variant_id, []).append(recipient)
        for variant_id, part in groups.items():
            if not self.send_part(part, self.transport_of(variant_id)):
                return False
        return True

    def send_part(self, chunk: list[Recipient], transport) -> bool:
        """Send recipients of one rendering in the transport's batches."""
        start = 0
        while start < len(chunk):
            if self.check_due() and not self.still_sending():
                return False
            # Read each time: a transport may fall back to smaller batches.
            batch = chunk[start : start + transport.batch_size]
            start += len(batch)
            ready = []
            for recipient in batch:
                if self.mine is not None and recipient.delivery_id not in self.mine:
                    self.outstanding -= 1  # another worker's now
                elif recipient.erased:
                    self.outstanding -= 1
                    self.ledger.failed(recipient, "subscriber erased")
                else:
                    ready.append(recipient)
            if not ready:
                continue
            if self.rate:
                self.pace()
                if self.check_due() and not self.still_sending():
                    return False
            self.sent_here += len(ready)
            self.unchecked += len(ready)
            try:
                # The previous batch's write is read back before this one delivers.
                outcomes = transport.send(ready, before_delivery=self.ledger.settle)
            except Fatal as exc:
                # Nobody can be sent to as configured: fail the campaign with the reason
                # (shown in the admin) instead of retrying every recipient forever. The
                # leased rows go back to pending when ``run`` releases them.
                self.campaign.transition(
                    Campaign.Status.FAILED,
                    expect=[Campaign.Status.SENDING],
                    error=str(exc)[:2000],
                    finished_at=timezone.now(),
                )
                return False
            self.ledger.record_all(outcomes, wait=False)
            self.outstanding -= len(ready)
        return True

    def pace(self):
        due = self.started + self.sent_here / self.rate
        delay = due - monotonic()
        if delay > 0:
            time.sleep(delay)


def run_sender(campaign_id: int, *, time_budget: float | None = None) -> str:
    return Sender(campaign_id, time_budget=time_budget).run()
