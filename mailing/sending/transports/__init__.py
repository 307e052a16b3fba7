"""Transports behind one contract (``base.Transport``) and the choice of one for a campaign."""

import logging

from django.conf import settings

from mailing.models import Campaign
from mailing.sending import message as msg
from mailing.sending.transports.backend import BackendTransport
from mailing.sending.transports.base import Fatal, Outcome, Transport, nothing_to_settle
from mailing.sending.transports.capabilities import capabilities
from mailing.sending.transports.esp import BatchTransport
from mailing.sending.transports.smtp import SmtpTransport

__all__ = ["Fatal", "Outcome", "Transport", "transport_for"]

logger = logging.getLogger(__name__)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class Unsendable(Transport):
    """A campaign no transport may send (a header value that would break the message)."""

    def __init__(self, reason: str):
        self.reason = reason

    def send(self, batch, before_delivery=nothing_to_settle):
        raise Fatal(self.reason)


def transport_for(campaign: Campaign, like: Transport | None = None) -> Transport:
    """Raw SMTP for Django's SMTP backend, ESP batches where the ESP can, else one by one.

    ``like``: the transport of another rendering of the same campaign (a language or
    topic variant); raw SMTP then reuses its connections instead of opening more."""
    try:
        msg.check_campaign(campaign)
    except msg.UnsafeHeader as exc:
        return Unsendable(f"unsafe header {exc}")
    if settings.EMAIL_BACKEND == SMTP_BACKEND:
        try:
            template = msg.MessageTemplate.build(campaign)
            if isinstance(like, SmtpTransport):
                return like.sharing(template)
            return SmtpTransport(template)
        except ValueError:
            # A line too long for 8bit with nowhere safe to break it: let Django's
            # email package encode each message instead (slower, still correct).
            logger.warning("campaign %s: sending without the prebuilt message", campaign.pk)
            return BackendTransport(campaign)
    caps = capabilities()
    batch_size = getattr(settings, "SENDING_ESP_BATCH_SIZE", 500)
    if caps.batches and batch_size > 1:
        return BatchTransport(campaign, caps, batch_size)
    return BackendTransport(campaign, caps)
